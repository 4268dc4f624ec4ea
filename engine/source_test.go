package engine

import (
	"strings"
	"testing"

	"larder/fault"
)

func TestParseSourceURL(t *testing.T) {
	tests := []struct {
		raw     string
		want    Source
		wantErr string
	}{
		{raw: "redis://u:s3cret@10.0.0.5:6380",
			want: Source{Endpoint: Endpoint{"10.0.0.5", 6380}, User: User{"u", "s3cret"}, Label: "redis://u:***@10.0.0.5:6380"}},
		{raw: "redis://:s3cret@cache.example.com",
			want: Source{Endpoint: Endpoint{"cache.example.com", 6379}, User: User{"", "s3cret"}, Label: "redis://:***@cache.example.com:6379"}},
		{raw: "rediss://h:s3cret@ec2.example.com:25061/0?ssl_cert_reqs=none",
			want: Source{Endpoint: Endpoint{"ec2.example.com", 25061}, User: User{"h", "s3cret"}, TLS: true, SkipVerify: true,
				Label: "rediss://h:***@ec2.example.com:25061"}},
		{raw: "rediss://u:s3cret@h:1?skip_verify=true",
			want: Source{Endpoint: Endpoint{"h", 1}, User: User{"u", "s3cret"}, TLS: true, SkipVerify: true, Label: "rediss://u:***@h:1"}},
		{raw: "redis://u:p%40ss@[::1]:7000",
			want: Source{Endpoint: Endpoint{"::1", 7000}, User: User{"u", "p@ss"}, Label: "redis://u:***@[::1]:7000"}},
		{raw: "http://u:s3cret@h:1", wantErr: "must start with redis://"},
		{raw: "u:s3cret@h:6379", wantErr: "must start with redis://"},
		{raw: "redis://h:6379", wantErr: "the fork source redis://h:6379 has no password"},
		{raw: "redis://u@h:6379", wantErr: "the fork source redis://u:***@h:6379 has no password"},
		{raw: "redis://u:@h:6379", wantErr: "has no password"},
		{raw: "redis://u:s3cret@h:99999", wantErr: "the fork source redis://u:***@h:99999 has a port out of range"},
		{raw: "redis://u:s3cret@h:0", wantErr: "port out of range"},
		{raw: "redis://u:s3cret@:6379", wantErr: "has no host"},
		{raw: "redis://u:s3cret@h:6379/17", wantErr: "only a database number"},
		{raw: "redis://u:s3cret@h:6379/x/y", wantErr: "only a database number"},
		{raw: "redis://u:s3cret@h:6379?x=1", wantErr: "unknown parameter"},
		{raw: "redis://u:s3cret@h:6379?skip_verify=true", wantErr: "without TLS"},
		{raw: "redis://u:s3%0Acret@h:6379", wantErr: "control character"},
		{raw: "redis://u:s3cret@h:port", wantErr: "cannot be parsed"},
		{raw: "", wantErr: "must start with redis://"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := ParseSourceURL(tt.raw)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || fault.KindOf(err) != fault.Invalid {
					t.Fatalf("ParseSourceURL(%q) = %+v, %v; want Invalid %q", tt.raw, got, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "s3") {
					t.Errorf("error quotes the password: %v", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseSourceURL(%q) = %+v, %v; want %+v", tt.raw, got, err, tt.want)
			}
			if strings.Contains(got.String(), "s3cret") {
				t.Errorf("label %q shows the password", got)
			}
		})
	}
}

// FuzzParseSourceURL: whatever the input, no panic, and neither an error nor
// a label ever repeats the password.
func FuzzParseSourceURL(f *testing.F) {
	for _, s := range []string{"redis://u:pw@h:6379", "rediss://:pw@h/0?skip_verify=true", "redis://h", "redis://u:p%zz@h", "://", "redis://[::1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		src, err := ParseSourceURL(raw)
		if err != nil {
			if pw := passwordOf(raw); len(pw) >= 4 && strings.Contains(err.Error(), pw) {
				t.Fatalf("error %q repeats the password %q", err, pw)
			}
			return
		}
		if src.User.Password == "" || src.Port < 1 || src.Port > 65535 || src.Addr == "" {
			t.Fatalf("accepted %q as %+v", raw, src)
		}
		if len(src.User.Password) >= 4 && strings.Contains(src.Label, src.User.Password) {
			t.Fatalf("label %q repeats the password", src.Label)
		}
	})
}

// passwordOf is the text between the scheme's user: and @, roughly.
func passwordOf(raw string) string {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return ""
	}
	userinfo, _, ok := strings.Cut(rest, "@")
	if !ok {
		return ""
	}
	_, pw, _ := strings.Cut(userinfo, ":")
	return pw
}

func TestParseSourceInfo(t *testing.T) {
	text := "# Server\r\nredis_version:7.0.15\r\n# Memory\r\nused_memory:1048576\r\n# Replication\r\nrole:master\r\nmaster_repl_offset:42\r\n" +
		"# Keyspace\r\ndb0:keys=10,expires=2,avg_ttl=100\r\ndb3:keys=5,expires=0,avg_ttl=0\r\n"
	got := parseSourceInfo(text)
	if got.Version != "7.0.15" || got.UsedMemoryBytes != 1<<20 || got.Keys != 15 || got.Role != "master" || got.ReplOffset != 42 {
		t.Errorf("parseSourceInfo = %+v", got)
	}
	if len(got.DBs) != 2 || got.DBs[0] != 0 || got.DBs[1] != 3 {
		t.Errorf("DBs = %v, want [0 3]", got.DBs)
	}
	if v := parseSourceInfo("valkey_version:8.0.1\r\nredis_version:7.2.4\r\n").Version; v != "8.0.1" {
		t.Errorf("valkey version = %q, want 8.0.1", v)
	}
}

func TestRenderConfigLeader(t *testing.T) {
	spec := unitSpec()
	spec.Leader = &Endpoint{"10.1.2.3", 6380}
	spec.LeaderUser = User{Name: "migrator", Password: `p"w\x`}
	b, err := RenderConfig(spec, "127.0.0.1", "/n")
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, w := range []string{"\nmasteruser \"migrator\"\n", "\nmasterauth \"p\\\"w\\\\x\"\n", "\nreplicaof \"10.1.2.3\" 6380\n", "\nreplica-read-only yes\n"} {
		if !strings.Contains(got, w) {
			t.Errorf("config lacks %q:\n%s", w, got)
		}
	}
	// A standby keeps following its primary, whatever the add-on follows.
	standby := spec
	standby.Repl = User{Name: ReplUser, Password: "r3pl"}
	standby.ReplicaOf = &Endpoint{"127.0.0.1", 31002}
	b, err = RenderConfig(standby, "127.0.0.1", "/n")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); strings.Contains(got, "10.1.2.3") || strings.Contains(got, "migrator") {
		t.Errorf("a standby's config names the leader:\n%s", got)
	}
	for _, bad := range []User{{Name: "u"}, {Name: "u", Password: "a\nb"}} {
		s := spec
		s.LeaderUser = bad
		if _, err := RenderConfig(s, "127.0.0.1", "/n"); fault.KindOf(err) != fault.Invalid {
			t.Errorf("leader user %q: err = %v, want Invalid", bad.Name, err)
		}
	}
}

func TestSyncStateProgress(t *testing.T) {
	src := Endpoint{"127.0.0.1", 6379}
	tests := []struct {
		name      string
		state     syncState
		wantPhase string
		inSync    bool
	}{
		{"connecting", syncState{role: "slave"}, "connecting to the source", false},
		{"waiting", syncState{role: "slave", inProgress: true}, "waiting for the source's snapshot", false},
		{"receiving", syncState{role: "slave", inProgress: true, readBytes: 10, totalSize: 100}, "receiving the snapshot", false},
		{"loading", syncState{role: "slave", loading: true, loadedPerc: 50}, "loading the snapshot: 50%", false},
		{"in sync", syncState{role: "slave", linkUp: true, masterHost: "127.0.0.1", masterPort: 6379}, "", true},
		{"other master", syncState{role: "slave", linkUp: true, masterHost: "127.0.0.1", masterPort: 6380}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.state.inSync(src); got != tt.inSync {
				t.Errorf("inSync = %v, want %v", got, tt.inSync)
			}
			p := tt.state.progress(ForkProgress{KeysTotal: 10})
			if tt.wantPhase != "" && p.Phase != tt.wantPhase {
				t.Errorf("phase = %q, want %q", p.Phase, tt.wantPhase)
			}
		})
	}
	if p := (syncState{loading: true, loadedPerc: 50}).progress(ForkProgress{KeysTotal: 10}); p.KeysDone != 5 {
		t.Errorf("keys done while loading half = %d, want 5", p.KeysDone)
	}
}
