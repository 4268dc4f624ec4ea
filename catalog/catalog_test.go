package catalog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"larder/fault"
)

func TestBuiltinIsValid(t *testing.T) {
	c := Builtin()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	svc, err := c.Service(DefaultService)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := svc.PlanNames(), []string{"mini", "premium-0", "premium-1", "premium-2", "premium-3", "premium-4", "premium-5"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("plans = %v, want %v", got, want)
	}
	mini, _ := svc.Plan("mini")
	if mini.Persistence || mini.HA || mini.MaxMemoryBytes != 25<<20 || mini.MaxClients != 20 {
		t.Errorf("mini = %+v", mini)
	}
	if !strings.Contains(mini.Description, "lost") {
		t.Errorf("mini's description must say its data is lost on restart: %q", mini.Description)
	}
	p5, _ := svc.Plan("premium-5")
	if !p5.Persistence || !p5.HA || p5.MaxMemoryBytes != 1<<30 {
		t.Errorf("premium-5 = %+v", p5)
	}
}

func TestResolve(t *testing.T) {
	c := Builtin()
	tests := []struct {
		ref, plan string
		kind      fault.Kind
		mention   string
	}{
		{"larder-redis:mini", "mini", "", ""},
		{"larder-redis:premium-2", "premium-2", "", ""},
		{"larder-redis", "mini", "", ""},
		{" larder-redis:mini ", "mini", "", ""},
		{"larder-redis:premium-9", "", fault.Invalid, "premium-0"},
		{"heroku-redis:mini", "", fault.NotFound, "larder-redis"},
		{"", "", fault.Invalid, "larder-redis:mini"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			_, p, err := c.Resolve(tt.ref)
			if tt.kind != "" {
				if fault.KindOf(err) != tt.kind || !strings.Contains(err.Error(), tt.mention) {
					t.Fatalf("err = %v, want kind %v mentioning %q", err, tt.kind, tt.mention)
				}
				return
			}
			if err != nil || p.Name != tt.plan {
				t.Fatalf("got %v, %v; want plan %s", p, err, tt.plan)
			}
		})
	}
}

func FuzzResolve(f *testing.F) {
	for _, s := range []string{"larder-redis:mini", "x:y", ":", "larder-redis:", "::"} {
		f.Add(s)
	}
	c := Builtin()
	f.Fuzz(func(t *testing.T, ref string) {
		s, p, err := c.Resolve(ref)
		if err == nil && (s == nil || p == nil) {
			t.Fatalf("Resolve(%q): nil result without error", ref)
		}
	})
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, []byte(`{"services":[{"name":"kv","plans":[{"name":"small","maxmemory_bytes":2097152,"max_clients":5}]}]}`), 0o600)
	c, err := Load(good)
	if err != nil {
		t.Fatal(err)
	}
	if _, p, err := c.Resolve("kv:small"); err != nil || p.MaxClients != 5 {
		t.Fatalf("kv:small = %v, %v", p, err)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"services":[{"name":"kv","plans":[{"name":"small","maxmemory_bytes":1,"max_clients":5}]}]}`), 0o600)
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "maxmemory") {
		t.Fatalf("bad catalog err = %v", err)
	}
}

func TestValidateMaxMemoryPolicy(t *testing.T) {
	for _, p := range MaxMemoryPolicies {
		if err := ValidateMaxMemoryPolicy(p.Name); err != nil {
			t.Errorf("%s: %v", p.Name, err)
		}
	}
	if err := ValidateMaxMemoryPolicy("allkeys-lol"); fault.KindOf(err) != fault.Invalid {
		t.Errorf("allkeys-lol: %v", err)
	}
}
