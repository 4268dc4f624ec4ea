package api

import (
	"math/rand/v2"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"larder/fault"
)

func TestCheckName(t *testing.T) {
	tests := []struct {
		kind NameKind
		in   string
		ok   bool
	}{
		{AppName, "web", true},
		{AppName, "web-2", true},
		{AppName, "Web", false},
		{AppName, "web/../other", false},
		{AppName, "..", false},
		{AppName, "we b", false},
		{AppName, "web\x07", false},
		{AddonRef, "redis-curved-41235", true},
		{AddonRef, "REDIS", true},
		{AddonRef, "REDIS_URL", true},
		{AddonRef, "AMBER", true},
		{AddonRef, "other::REDIS", true},
		{AddonRef, "other::", false},
		{AddonRef, "REDIS/../x", false},
		{AddonRef, "web%2F..%2Fother", false},
		{AddonRef, "a b", false},
		{AttachmentName, "LARDER_REDIS_AMBER", true},
		{AttachmentName, "cache", false},
		{HostName, "h1", true},
		{HostName, "local", true},
		{HostName, "../local", false},
		{OperationID, "0f8d7c1e-1111-4222-8333-444455556666", true},
		{OperationID, "x/y", false},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind)+"/"+tt.in, func(t *testing.T) {
			err := CheckName(tt.kind, tt.in)
			if got := err == nil; got != tt.ok {
				t.Fatalf("CheckName(%s, %q) = %v, want ok=%v", tt.kind, tt.in, err, tt.ok)
			}
			if err != nil && (fault.KindOf(err) != fault.Invalid || !strings.Contains(err.Error(), NameRule(tt.kind))) {
				t.Errorf("CheckName(%s, %q) = %v, want an Invalid fault stating the rule", tt.kind, tt.in, err)
			}
		})
	}
}

func TestCheckPath(t *testing.T) {
	tests := []struct {
		path string
		ok   bool
	}{
		{"/apps/web/config-vars", true},
		{"/apps/" + url.PathEscape("web/../other") + "/config-vars", false},
		{"/apps/../apps/other", false},
		{"/apps//config-vars", false},
		{"/apps/" + url.PathEscape("a b"), false},
		{"/apps/web%00/config-vars", false},
		{"/apps/web/redis?addon=" + url.QueryEscape("x/y"), true}, // the query is the broker's to check
	}
	for _, tt := range tests {
		if err := checkPath(tt.path); (err == nil) != tt.ok {
			t.Errorf("checkPath(%q) = %v, want ok=%v", tt.path, err, tt.ok)
		}
	}
}

// FuzzCheckName: a name that passes its rule is one clean path segment, and
// a refusal never echoes a control character.
func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"web", "REDIS", "other::REDIS", "..", "a/b", "%2F", "a\x00b", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for kind := range nameRules {
			err := CheckName(kind, s)
			if err == nil {
				if CheckSegment(s) != nil || checkPath("/x/"+url.PathEscape(s)) != nil {
					t.Fatalf("%s name %q passes its rule but is not one clean segment", kind, s)
				}
				continue
			}
			if strings.ContainsFunc(err.Error(), func(r rune) bool { return r < ' ' || r == 0x7f }) {
				t.Fatalf("message for %q holds a control character: %q", s, err.Error())
			}
		}
	})
}

// The rules as regular expressions: the shapes must accept exactly what these
// accept (the shapes exist only because compiling these at start was slow).
var nameRegexps = map[NameKind]*regexp.Regexp{
	AppName:        regexp.MustCompile(`^[a-z][a-z0-9-]{1,29}$`),
	AddonName:      regexp.MustCompile(`^[a-z][a-z0-9-]{1,62}$`),
	AddonRef:       regexp.MustCompile(`^([a-z][a-z0-9-]{1,29}::)?[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`),
	AttachmentName: regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,62}$`),
	HostName:       regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`),
	ServiceName:    regexp.MustCompile(`^[a-z][a-z0-9-]{1,62}$`),
	OperationID:    regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`),
	BackupID:       regexp.MustCompile(`^[ab][0-9]{3,18}$`),
}

func checkShapeAgrees(t *testing.T, s string) {
	t.Helper()
	for kind, re := range nameRegexps {
		if got, want := nameRules[kind].ok(s), re.MatchString(s); got != want {
			t.Errorf("%s rule on %q: %v, the regular expression says %v", kind, s, got, want)
		}
	}
}

func TestNameShapesAgreeWithTheRegexps(t *testing.T) {
	alphabet := "aZz09-_:A.é b1"
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range []string{"", "a", "ab", "web", "Web", "9a", "REDIS", "REDIS_URL", "web::REDIS", "web::", "::REDIS",
		"w::REDIS", "web::::R", "web::a:b", "a-", "_a", strings.Repeat("a", 30), strings.Repeat("a", 31),
		strings.Repeat("a", 63), strings.Repeat("a", 64), strings.Repeat("A", 128), strings.Repeat("A", 129)} {
		checkShapeAgrees(t, s)
	}
	for range 20000 {
		n := rng.IntN(12)
		if rng.IntN(10) == 0 {
			n = 25 + rng.IntN(110)
		}
		b := make([]byte, 0, n)
		for range n {
			b = append(b, alphabet[rng.IntN(len(alphabet))])
		}
		checkShapeAgrees(t, string(b))
	}
}

func FuzzNameShapes(f *testing.F) {
	f.Add("web::REDIS_URL")
	f.Fuzz(func(t *testing.T, s string) { checkShapeAgrees(t, s) })
}
