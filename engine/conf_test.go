package engine

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"larder/fault"
)

func unitSpec() Spec {
	return Spec{
		ID: "n1", Name: "redis-curved-41235-1", Port: 31001,
		MaxMemoryBytes: 25 << 20, MaxClients: 20,
		MaxMemoryPolicy: "allkeys-lru", Timeout: 300, NotifyKeyspaceEvents: "Ex",
		Admin:    User{Password: "a1b2c3d4e5f6"},
		Customer: User{Password: "0f9e8d7c6b5a"},
	}
}

func TestRenderConfig(t *testing.T) {
	dir := "/var/lib/larder/nodes/redis-curved-41235-1"
	persistent := unitSpec()
	persistent.Persistence = true
	standby := persistent
	standby.Repl = User{Name: ReplUser, Password: "5e6f7a8b9c0d"}
	standby.ReplicaOf = &Endpoint{Addr: "127.0.0.1", Port: 31000}
	pairedMini := unitSpec() // an HA plan without persistence: no FallbackReplicaOf
	pairedMini.Paired = true
	tests := []struct {
		name    string
		spec    Spec
		want    []string
		wantNot []string
	}{
		{
			name: "mini",
			spec: unitSpec(),
			want: []string{
				"\nport 31001\n", "\nbind \"127.0.0.1\"\n", "\nprotected-mode yes\n", "\ndaemonize no\n",
				"\ndir \"" + dir + "\"\n",
				"\naclfile \"" + dir + "/users.acl\"\n",
				"\npidfile \"" + dir + "/node.pid\"\n",
				"\nlogfile \"" + dir + "/node.log\"\n",
				"\nmaxmemory 26214400\n", "\nmaxmemory-policy allkeys-lru\n",
				// The plan's 20, and larder's held connection.
				"\nmaxclients 21\n", "\ntimeout 300\n", "\nnotify-keyspace-events \"Ex\"\n",
				"\nsave \"\"\n", "\nappendonly no\n",
				"{config-file}",
			},
			wantNot: []string{"appendfsync", "a1b2c3d4e5f6", "0f9e8d7c6b5a", "requirepass"},
		},
		{
			name: "persistent",
			spec: persistent,
			want: []string{
				"\nappendonly yes\n", "\nappendfsync everysec\n", "\nappenddirname \"appendonlydir\"\n",
				"\nsave \"\"\n",
			},
			wantNot: []string{"appendonly no"},
		},
		{
			name: "standby",
			spec: standby,
			// The plan's 20, larder's held connection and the replication link.
			want:    []string{"\nmaxclients 22\n", "\nreplicaof \"127.0.0.1\" 31000\n"},
			wantNot: []string{"maxclients 21"},
		},
		{
			name:    "primary of a pair without persistence",
			spec:    pairedMini,
			want:    []string{"\nmaxclients 22\n"},
			wantNot: []string{"replicaof"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := RenderConfig(tt.spec, "127.0.0.1", dir)
			if err != nil {
				t.Fatalf("RenderConfig() error = %v", err)
			}
			got := string(b)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("config lacks %q; got:\n%s", w, got)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(got, w) {
					t.Errorf("config holds %q; got:\n%s", w, got)
				}
			}
		})
	}
}

func TestRenderConfigQuotesPaths(t *testing.T) {
	b, err := RenderConfig(unitSpec(), "127.0.0.1", `/tmp/a "b"\c`)
	if err != nil {
		t.Fatalf("RenderConfig() error = %v", err)
	}
	if got, want := string(b), `dir "/tmp/a \"b\"\\c"`; !strings.Contains(got, want) {
		t.Errorf("config lacks %q; got:\n%s", want, got)
	}
	if _, err := RenderConfig(unitSpec(), "127.0.0.1", "/tmp/a\nport 1"); err == nil {
		t.Errorf("RenderConfig() with a newline in dir: error = nil, want one")
	}
}

func TestRenderACL(t *testing.T) {
	other := unitSpec()
	other.Customer.Name = "app"
	rotating := unitSpec()
	rotating.CustomerAlt = "1a2b3c4d5e6f"
	tests := []struct {
		name string
		spec Spec
		want []string
	}{
		{"default customer", unitSpec(), []string{
			"user larder-admin on >a1b2c3d4e5f6 ~* &* +@all\n",
			"user default on >0f9e8d7c6b5a " + CustomerACL + "\n",
		}},
		{"named customer", other, []string{
			"user app on >0f9e8d7c6b5a " + CustomerACL + "\n",
			"user default off resetpass",
		}},
		{"rotation under way: two passwords", rotating, []string{
			"user default on >0f9e8d7c6b5a >1a2b3c4d5e6f " + CustomerACL + "\n",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := RenderACL(tt.spec)
			if err != nil {
				t.Fatalf("RenderACL() error = %v", err)
			}
			for _, w := range tt.want {
				if got := string(b); !strings.Contains(got, w) {
					t.Errorf("acl lacks %q; got:\n%s", w, got)
				}
			}
		})
	}
}

func TestValidateSpec(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Spec)
		want   string // substring of the error; "" = valid
	}{
		{"valid", func(*Spec) {}, ""},
		{"no id", func(s *Spec) { s.ID = "" }, "empty id"},
		{"path in name", func(s *Spec) { s.Name = "../etc" }, "name"},
		{"dot name", func(s *Spec) { s.Name = ".." }, "name"},
		{"port zero", func(s *Spec) { s.Port = 0 }, "port"},
		{"port high", func(s *Spec) { s.Port = 70000 }, "port"},
		{"no clients", func(s *Spec) { s.MaxClients = 0 }, "maxclients"},
		{"bad policy", func(s *Spec) { s.MaxMemoryPolicy = "lru" }, "policy"},
		{"bad events", func(s *Spec) { s.NotifyKeyspaceEvents = "Ex\nport 1" }, "notify-keyspace-events"},
		{"space in password", func(s *Spec) { s.Admin.Password = "ab cd" }, "password"},
		{"newline in password", func(s *Spec) { s.Customer.Password = "ab\nuser x on" }, "password"},
		{"quote in password", func(s *Spec) { s.Customer.Password = `ab"cd` }, "password"},
		{"empty password", func(s *Spec) { s.Customer.Password = "" }, "password"},
		{"space in second password", func(s *Spec) { s.CustomerAlt = "ab cd" }, "second password"},
		{"same users", func(s *Spec) { s.Customer.Name = AdminUser }, "differ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := unitSpec()
			tt.change(&s)
			err := Validate(Normalize(s))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() error = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() error = %v, want one containing %q", err, tt.want)
			}
			if !errors.Is(err, fault.Invalid) {
				t.Errorf("Validate() error kind = %v, want %v", fault.KindOf(err), fault.Invalid)
			}
			for _, pw := range []string{s.Admin.Password, s.Customer.Password} {
				if len(pw) > 3 && strings.Contains(err.Error(), pw) {
					t.Errorf("Validate() error %q reveals a password", err)
				}
			}
		})
	}
}

func TestProcState(t *testing.T) {
	tests := []struct {
		stat string
		want byte
	}{
		{"123 (redis-server) S 1 123", 'S'},
		{"123 (a) b) Z 1", 'Z'},
		{"123 (x) T", 'T'},
		{"garbage", 0},
		{"1 (x)", 0},
	}
	for _, tt := range tests {
		if got := ProcState([]byte(tt.stat)); got != tt.want {
			t.Errorf("ProcState(%q) = %q, want %q", tt.stat, got, tt.want)
		}
	}
}

func TestLogTailRedacts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.log")
	old := "old run line\n"
	if err := os.WriteFile(path, []byte(old+"bad rule >s3cret\nbind: Address already in use\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := LogTail(path, int64(len(old)), 1024, "s3cret")
	if strings.Contains(got, "s3cret") || strings.Contains(got, "old run") {
		t.Errorf("LogTail() = %q, want no secret and nothing before the offset", got)
	}
	if !strings.Contains(got, "Address already in use") || !strings.Contains(got, "[redacted]") {
		t.Errorf("LogTail() = %q, want the new lines with the secret redacted", got)
	}
}
