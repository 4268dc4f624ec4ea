package attach

import (
	"strings"
	"testing"

	"larder/fault"
	"larder/store"
)

func TestNextAttachmentName(t *testing.T) {
	tests := []struct {
		name string
		used []string
		want string
	}{
		{"first is REDIS", nil, "REDIS"},
		{"second is the first color", []string{"REDIS"}, "LARDER_REDIS_AMBER"},
		{"skips used colors", []string{"REDIS", "LARDER_REDIS_AMBER"}, "LARDER_REDIS_AQUA"},
		{"fills a gap", []string{"REDIS", "LARDER_REDIS_AQUA"}, "LARDER_REDIS_AMBER"},
		{"REDIS freed again", []string{"LARDER_REDIS_AMBER"}, "REDIS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			used := map[string]bool{}
			for _, u := range tt.used {
				used[u] = true
			}
			if got := NextAttachmentName("LARDER_REDIS", used); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
	t.Run("palette exhausted", func(t *testing.T) {
		used := map[string]bool{"REDIS": true}
		for _, c := range Colors {
			used["X_"+c] = true
		}
		if got, want := NextAttachmentName("X", used), "X_AMBER_2"; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
}

func TestCheckAttachmentName(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"cache", "CACHE", ""},
		{"CACHE_URL", "CACHE", ""},
		{" sessions ", "SESSIONS", ""},
		{"1abc", "", "invalid attachment name"},
		{"a-b", "", "invalid attachment name"},
		{"", "", "invalid attachment name"},
	}
	for _, tt := range tests {
		got, err := CheckAttachmentName(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("CheckAttachmentName(%q) err = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("CheckAttachmentName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestNewAddonName(t *testing.T) {
	for i := 0; i < 50; i++ {
		n := NewAddonName()
		if err := CheckAddonName(n); err != nil || !strings.HasPrefix(n, "redis-") {
			t.Fatalf("NewAddonName() = %q: %v", n, err)
		}
	}
}

func resolverFixture() ([]store.Attachment, []store.Addon) {
	atts := []store.Attachment{
		{AddonID: "1", AddonName: "myapp-redis", AppName: "web", Name: "REDIS"},
		{AddonID: "2", AddonName: "myapp-redis-cache", AppName: "web", Name: "LARDER_REDIS_AMBER"},
		{AddonID: "3", AddonName: "redis-bold-12345", AppName: "web", Name: "LARDER_REDIS_AQUA"},
	}
	addons := []store.Addon{{ID: "1", Name: "myapp-redis"}, {ID: "2", Name: "myapp-redis-cache"}, {ID: "3", Name: "redis-bold-12345"}}
	return atts, addons
}

func TestResolveRef(t *testing.T) {
	atts, addons := resolverFixture()
	tests := []struct {
		ref, want string
		kind      fault.Kind
	}{
		{"REDIS", "1", ""},
		{"redis", "1", ""},
		{"REDIS_URL", "1", ""},
		{"LARDER_REDIS_AMBER_URL", "2", ""},
		{"LARDER_REDIS_AQUA", "3", ""},
		{"myapp-redis", "1", ""}, // exact wins over the prefix of myapp-redis-cache
		{"myapp-redis-cache", "2", ""},
		{"redis-bold", "3", ""},               // unique prefix of a name
		{"LARDER_REDIS", "", fault.Ambiguous}, // prefix of two attachments
		{"myapp", "", fault.Ambiguous},        // prefix of two names
		{"nothing-here", "", fault.NotFound},  //
		{"", "", fault.Invalid},               //
		{"LARDER_REDIS_CRIMSON", "", fault.NotFound},
		{"AMBER", "2", ""},         // substring of an attachment name, as on Heroku
		{"bold", "3", ""},          // substring of an add-on name
		{"cache", "2", ""},         // substring of one add-on name only
		{"A", "", fault.Ambiguous}, // substring of several
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			got, err := ResolveRef(tt.ref, "web", atts, addons)
			if tt.kind != "" {
				if k := fault.KindOf(err); k != tt.kind {
					t.Fatalf("kind = %v (%v), want %v", k, err, tt.kind)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	_, err := ResolveRef("LARDER_REDIS", "web", atts, addons)
	for _, want := range []string{"web::LARDER_REDIS_AMBER", "web::LARDER_REDIS_AQUA"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ambiguity error %q does not list %s", err, want)
		}
	}
}

func FuzzResolveRef(f *testing.F) {
	for _, s := range []string{"REDIS", "redis", "myapp", "app::REDIS", "", "LARDER_REDIS_AMBER_URL", "\x00"} {
		f.Add(s)
	}
	atts, addons := resolverFixture()
	f.Fuzz(func(t *testing.T, ref string) {
		id, err := ResolveRef(ref, "web", atts, addons)
		if err == nil {
			if id == "" {
				t.Fatalf("ResolveRef(%q) returned no id and no error", ref)
			}
			return
		}
		switch fault.KindOf(err) {
		case fault.NotFound, fault.Ambiguous, fault.Invalid:
		default:
			t.Fatalf("ResolveRef(%q) error of unexpected kind: %v", ref, err)
		}
	})
}

func TestCheckVarPatch(t *testing.T) {
	atts := []store.Attachment{{AddonName: "redis-a", Name: "REDIS"}}
	v := "x"
	tests := []struct {
		name  string
		patch map[string]*string
		kind  fault.Kind
	}{
		{"plain", map[string]*string{"FOO": &v}, ""},
		{"unset", map[string]*string{"FOO": nil}, ""},
		{"managed", map[string]*string{"REDIS_URL": &v}, fault.Conflict},
		{"bad name", map[string]*string{"1X": &v}, fault.Invalid},
		{"longest name", map[string]*string{strings.Repeat("A", 128): &v}, ""},
		{"name too long", map[string]*string{strings.Repeat("A", 129): &v}, fault.Invalid},
		{"empty", map[string]*string{}, fault.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckVarPatch(tt.patch, atts)
			if tt.kind == "" && err != nil || tt.kind != "" && fault.KindOf(err) != tt.kind {
				t.Fatalf("err = %v, want kind %q", err, tt.kind)
			}
		})
	}
}
