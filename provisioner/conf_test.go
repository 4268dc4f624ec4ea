package provisioner

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"larder/fault"
)

func unitSpec() NodeSpec {
	return NodeSpec{
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
		spec    NodeSpec
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
			b, err := renderConfig(tt.spec, "127.0.0.1", dir)
			if err != nil {
				t.Fatalf("renderConfig() error = %v", err)
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
	b, err := renderConfig(unitSpec(), "127.0.0.1", `/tmp/a "b"\c`)
	if err != nil {
		t.Fatalf("renderConfig() error = %v", err)
	}
	if got, want := string(b), `dir "/tmp/a \"b\"\\c"`; !strings.Contains(got, want) {
		t.Errorf("config lacks %q; got:\n%s", want, got)
	}
	if _, err := renderConfig(unitSpec(), "127.0.0.1", "/tmp/a\nport 1"); err == nil {
		t.Errorf("renderConfig() with a newline in dir: error = nil, want one")
	}
}

func TestRenderACL(t *testing.T) {
	other := unitSpec()
	other.Customer.Name = "app"
	rotating := unitSpec()
	rotating.CustomerAlt = "1a2b3c4d5e6f"
	tests := []struct {
		name string
		spec NodeSpec
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
			b, err := renderACL(tt.spec)
			if err != nil {
				t.Fatalf("renderACL() error = %v", err)
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
		change func(*NodeSpec)
		want   string // substring of the error; "" = valid
	}{
		{"valid", func(*NodeSpec) {}, ""},
		{"no id", func(s *NodeSpec) { s.ID = "" }, "empty id"},
		{"path in name", func(s *NodeSpec) { s.Name = "../etc" }, "name"},
		{"dot name", func(s *NodeSpec) { s.Name = ".." }, "name"},
		{"port zero", func(s *NodeSpec) { s.Port = 0 }, "port"},
		{"port high", func(s *NodeSpec) { s.Port = 70000 }, "port"},
		{"no clients", func(s *NodeSpec) { s.MaxClients = 0 }, "maxclients"},
		{"bad policy", func(s *NodeSpec) { s.MaxMemoryPolicy = "lru" }, "policy"},
		{"bad events", func(s *NodeSpec) { s.NotifyKeyspaceEvents = "Ex\nport 1" }, "notify-keyspace-events"},
		{"space in password", func(s *NodeSpec) { s.Admin.Password = "ab cd" }, "password"},
		{"newline in password", func(s *NodeSpec) { s.Customer.Password = "ab\nuser x on" }, "password"},
		{"quote in password", func(s *NodeSpec) { s.Customer.Password = `ab"cd` }, "password"},
		{"empty password", func(s *NodeSpec) { s.Customer.Password = "" }, "password"},
		{"space in second password", func(s *NodeSpec) { s.CustomerAlt = "ab cd" }, "second password"},
		{"same users", func(s *NodeSpec) { s.Customer.Name = AdminUser }, "differ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := unitSpec()
			tt.change(&s)
			err := validateSpec(normalize(s))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("validateSpec() error = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("validateSpec() error = %v, want one containing %q", err, tt.want)
			}
			if !errors.Is(err, fault.Invalid) {
				t.Errorf("validateSpec() error kind = %v, want %v", fault.KindOf(err), fault.Invalid)
			}
			for _, pw := range []string{s.Admin.Password, s.Customer.Password} {
				if len(pw) > 3 && strings.Contains(err.Error(), pw) {
					t.Errorf("validateSpec() error %q reveals a password", err)
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
		if got := procState([]byte(tt.stat)); got != tt.want {
			t.Errorf("procState(%q) = %q, want %q", tt.stat, got, tt.want)
		}
	}
}

func TestLogTailRedacts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.log")
	old := "old run line\n"
	if err := os.WriteFile(path, []byte(old+"bad rule >s3cret\nbind: Address already in use\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := logTail(path, int64(len(old)), 1024, "s3cret")
	if strings.Contains(got, "s3cret") || strings.Contains(got, "old run") {
		t.Errorf("logTail() = %q, want no secret and nothing before the offset", got)
	}
	if !strings.Contains(got, "Address already in use") || !strings.Contains(got, "[redacted]") {
		t.Errorf("logTail() = %q, want the new lines with the secret redacted", got)
	}
}

func TestParseInfo(t *testing.T) {
	text := "# Server\r\nredis_version:7.2.4\r\nvalkey_version:8.0.1\r\nuptime_in_seconds:42\r\n" +
		"# Clients\r\nconnected_clients:3\r\n# Memory\r\nused_memory:1048576\r\nmaxmemory:26214400\r\n" +
		"# Persistence\r\naof_enabled:1\r\n# Replication\r\nrole:master\r\n"
	want := NodeInfo{Role: "master", Version: "8.0.1", UsedMemoryBytes: 1 << 20, MaxMemoryBytes: 25 << 20,
		ConnectedClients: 3, AOFEnabled: true, UptimeSeconds: 42}
	if got := parseInfo(text); got != want {
		t.Errorf("parseInfo() = %+v, want %+v", got, want)
	}
	redis := parseInfo("redis_version:7.0.15\r\naof_enabled:0\r\nrole:slave\r\n")
	if redis.Version != "7.0.15" || redis.AOFEnabled || redis.Role != "slave" {
		t.Errorf("parseInfo(redis) = %+v, want version 7.0.15, aof off, role slave", redis)
	}
}

func TestBackoff(t *testing.T) {
	h := &LocalHost{opts: LocalOptions{BackoffMin: 100 * time.Millisecond, BackoffMax: time.Second}}
	tests := []struct {
		n    int
		want time.Duration
	}{
		{0, 0}, {1, 100 * time.Millisecond}, {2, 200 * time.Millisecond},
		{3, 400 * time.Millisecond}, {4, 800 * time.Millisecond}, {5, time.Second}, {60, time.Second},
	}
	for _, tt := range tests {
		if got := h.backoff(tt.n); got != tt.want {
			t.Errorf("backoff(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
}
