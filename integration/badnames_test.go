package integration

import (
	"context"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
)

// TestBadNamesChangeNothing: names holding a slash, a dot segment, an escaped
// slash, white space or a control character are refused with the rule, by
// the CLI before it sends anything and by the API with 422 — never followed
// as a redirect to some other resource while the command reports success.
func TestBadNamesChangeNothing(t *testing.T) {
	b := NewBroker(t)
	b.MustLarder("apps:create", "web")
	b.MustLarder("apps:create", "other")
	b.MustLarder("config:set", "KEEP=1", "-a", "other")
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--wait")
	before := map[string]map[string]string{"web": configVars(t, b, "web"), "other": configVars(t, b, "other")}

	bad := []string{"web/../other", "..", "web%2F..%2Fother", "we b", "web\x07", "REDIS/../x", "a/b"}
	for _, name := range bad {
		for _, args := range [][]string{
			{"config:set", "EVIL=1", "-a", name},
			{"config:unset", "KEEP", "-a", name},
			{"apps:destroy", "-a", name, "--confirm", name},
			{"addons:destroy", name, "-a", "web", "--confirm", "web"},
			{"addons:detach", name, "-a", "web"},
			{"redis:credentials", name, "-a", "web", "--reset"},
			{"redis:maxmemory", name, "-a", "web", "--policy", "allkeys-lru"},
			{"hosts:drain", name},
		} {
			r := b.Larder(args...)
			if r.Code == 0 {
				t.Errorf("larder %q succeeded (stdout %q, stderr %q); want a refusal", args, r.Stdout, r.Stderr)
				continue
			}
			if !strings.Contains(r.Stderr, "invalid") {
				t.Errorf("larder %q: stderr %q does not say the name is invalid", args, r.Stderr)
			}
		}
	}

	// The API itself: 422 with the rule, never a redirect.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range []struct{ method, path string }{
		{"PATCH", "/apps/web%2F..%2Fother/config-vars"},
		{"PATCH", "/apps/../apps/other/config-vars"},
		{"DELETE", "/apps/web/addons/.."},
		{"DELETE", "/apps/web/addons/REDIS%2F..%2F..%2Fother"},
		{"DELETE", "/apps/web/addon-attachments/a%20b"},
		{"POST", "/hosts/..%2Flocal/drain"},
		{"GET", "/apps/web%00/config-vars"},
	} {
		req, _ := http.NewRequest(tt.method, b.URL+tt.path, strings.NewReader(`{"EVIL":"1"}`))
		req.Header.Set("Authorization", "Bearer "+b.Token)
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), "invalid") {
			t.Errorf("%s %s = %d %s; want 422 naming the invalid name", tt.method, tt.path, resp.StatusCode, body)
		}
	}

	for app, want := range before {
		if got := configVars(t, b, app); !maps.Equal(got, want) {
			t.Errorf("config vars of %s changed after refused requests:\n got %v\nwant %v", app, got, want)
		}
	}
	addons, err := b.Client().Addons(context.Background(), "web")
	if err != nil || len(addons) != 1 || addons[0].State != "provisioned" {
		t.Errorf("add-ons of web after refused requests: %+v, %v", addons, err)
	}
}
