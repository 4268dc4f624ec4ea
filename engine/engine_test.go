package engine

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"larder/fault"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		name      string
		out       string
		wantName  string
		wantVer   string
		wantMajor int
		wantErr   bool
	}{
		{"redis 7", "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=ae4d7c971a948f0\n", "redis", "7.0.15", 7, false},
		{"valkey 8", "Valkey server v=8.0.1 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=1e4f4bd8b7f1f5a6", "valkey", "8.0.1", 8, false},
		{"redis 6", "Redis server v=6.2.14 sha=00000000:0 malloc=jemalloc-5.2.1 bits=64", "redis", "6.2.14", 6, false},
		{"unstable build", "Redis server v=255.255.255 sha=abc:1", "redis", "255.255.255", 255, false},
		{"release candidate", "Valkey server v=9.0.0-rc1 sha=0", "valkey", "9.0.0-rc1", 9, false},
		{"unknown product", "KeyDB server v=7.1.0 sha=0", "", "7.1.0", 7, false},
		{"no version", "Redis server sha=0", "", "", 0, true},
		{"empty", "", "", "", 0, true},
		{"no minor", "Redis server v=7 sha=0", "", "", 0, true},
		{"not a number", "Redis server v=x.1 sha=0", "", "", 0, true},
		{"negative", "Redis server v=-7.1 sha=0", "", "", 0, true},
		{"plus sign", "Redis server v=+7.1 sha=0", "", "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, ver, major, err := parseVersion(tt.out)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("parseVersion(%q) error = %v, want error %v", tt.out, err, tt.wantErr)
			}
			if name != tt.wantName || ver != tt.wantVer || major != tt.wantMajor {
				t.Errorf("parseVersion(%q) = %q, %q, %d; want %q, %q, %d",
					tt.out, name, ver, major, tt.wantName, tt.wantVer, tt.wantMajor)
			}
		})
	}
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{
		"Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=ae4d7c971a948f0",
		"Valkey server v=8.0.1 sha=0",
		"v=7.",
		"x v=.1",
		"Redis server v=99999999999999999999.1",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, out string) {
		name, ver, major, err := parseVersion(out)
		if err != nil {
			return
		}
		if ver == "" || !strings.Contains(out, "v="+ver) {
			t.Errorf("parseVersion(%q) version %q is not taken from the input", out, ver)
		}
		if major < 0 {
			t.Errorf("parseVersion(%q) major = %d, want >= 0", out, major)
		}
		if name != "" && name != "redis" && name != "valkey" {
			t.Errorf("parseVersion(%q) name = %q, want redis, valkey or empty", out, name)
		}
	})
}

func TestDiscoverEngine(t *testing.T) {
	const (
		redis7  = "Redis server v=7.0.15 sha=0"
		valkey8 = "Valkey server v=8.0.1 sha=0"
		redis6  = "Redis server v=6.2.14 sha=0"
	)
	tests := []struct {
		name     string
		env      string
		onPath   map[string]string // name → path
		versions map[string]string // path → --version output
		want     Engine
		wantErr  string
		wantKind fault.Kind
	}{
		{
			name:     "valkey preferred",
			onPath:   map[string]string{"valkey-server": "/usr/bin/valkey-server", "redis-server": "/usr/bin/redis-server"},
			versions: map[string]string{"/usr/bin/valkey-server": valkey8, "/usr/bin/redis-server": redis7},
			want:     Engine{Name: "valkey", Path: "/usr/bin/valkey-server", Version: "8.0.1"},
		},
		{
			name:     "redis fallback",
			onPath:   map[string]string{"redis-server": "/usr/bin/redis-server"},
			versions: map[string]string{"/usr/bin/redis-server": redis7},
			want:     Engine{Name: "redis", Path: "/usr/bin/redis-server", Version: "7.0.15"},
		},
		{
			name:     "env path overrides",
			env:      "/opt/redis/bin/redis-server",
			onPath:   map[string]string{"valkey-server": "/usr/bin/valkey-server", "/opt/redis/bin/redis-server": "/opt/redis/bin/redis-server"},
			versions: map[string]string{"/usr/bin/valkey-server": valkey8, "/opt/redis/bin/redis-server": redis7},
			want:     Engine{Name: "redis", Path: "/opt/redis/bin/redis-server", Version: "7.0.15"},
		},
		{
			name:     "env name on path",
			env:      "redis-server",
			onPath:   map[string]string{"valkey-server": "/usr/bin/valkey-server", "redis-server": "/usr/bin/redis-server"},
			versions: map[string]string{"/usr/bin/valkey-server": valkey8, "/usr/bin/redis-server": redis7},
			want:     Engine{Name: "redis", Path: "/usr/bin/redis-server", Version: "7.0.15"},
		},
		{
			name:     "env missing",
			env:      "/nope/valkey-server",
			onPath:   map[string]string{"redis-server": "/usr/bin/redis-server"},
			wantErr:  "LARDER_ENGINE",
			wantKind: fault.Unavailable,
		},
		{
			name:     "nothing installed",
			wantErr:  "apt-get install redis-server",
			wantKind: fault.Unavailable,
		},
		{
			name:     "too old",
			onPath:   map[string]string{"redis-server": "/usr/bin/redis-server"},
			versions: map[string]string{"/usr/bin/redis-server": redis6},
			wantErr:  "needs version 7",
			wantKind: fault.Unavailable,
		},
		{
			name:     "name from binary when output is silent",
			onPath:   map[string]string{"valkey-server": "/usr/bin/valkey-server"},
			versions: map[string]string{"/usr/bin/valkey-server": "server v=8.1.0"},
			want:     Engine{Name: "valkey", Path: "/usr/bin/valkey-server", Version: "8.1.0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == EnvVar {
					return tt.env
				}
				return ""
			}
			lookPath := func(name string) (string, error) {
				if p, ok := tt.onPath[name]; ok {
					return p, nil
				}
				return "", exec.ErrNotFound
			}
			version := func(path string) (string, error) {
				if out, ok := tt.versions[path]; ok {
					return out, nil
				}
				return "", errors.New("no such binary")
			}
			got, err := discover(getenv, lookPath, version)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("discover() error = %v, want one containing %q", err, tt.wantErr)
				}
				if k := fault.KindOf(err); k != tt.wantKind {
					t.Errorf("discover() error kind = %v, want %v", k, tt.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatalf("discover() error = %v", err)
			}
			if got != tt.want {
				t.Errorf("discover() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDiscoverEngineReal(t *testing.T) {
	e, err := Discover()
	if err != nil {
		t.Skipf("no usable valkey-server or redis-server (install redis-server 7+ or set %s): %v", EnvVar, err)
	}
	if e.Name != "redis" && e.Name != "valkey" {
		t.Errorf("engine name = %q, want redis or valkey", e.Name)
	}
	if _, _, major, err := parseVersion("x v=" + e.Version); err != nil || major < MinMajor {
		t.Errorf("engine version = %q (major %d, err %v), want >= %d", e.Version, major, err, MinMajor)
	}
}
