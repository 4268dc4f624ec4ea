package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// assertNothingCreated checks that no add-on, node directory or node process exists.
func assertNothingCreated(t *testing.T, b *Broker) {
	t.Helper()
	addons, err := b.Client().Addons(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(addons) != 0 {
		t.Errorf("add-ons exist after bad input: %+v", addons)
	}
	if dirs := nodeDirs(b); len(dirs) != 0 {
		t.Errorf("node directories left behind: %v", dirs)
	}
	for _, pid := range nodePIDs(b.DataDir) {
		if processAlive(pid) {
			t.Errorf("node process %d left running", pid)
		}
	}
	for p := b.Ports[0]; p < b.Ports[0]+5; p++ {
		if !portFree(p) {
			t.Errorf("port %d bound after bad input", p)
		}
	}
}

func TestBadInputCLI(t *testing.T) {
	b := NewBroker(t)
	b.MustLarder("apps:create", "web")
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"unknown plan", []string{"addons:create", "larder-redis:premium-99", "-a", "web"}, "premium-0"},
		{"unknown service", []string{"addons:create", "memcache:small", "-a", "web"}, "larder-redis"},
		{"unknown app", []string{"addons:create", "larder-redis:mini", "-a", "nope"}, "nope"},
		{"bad policy", []string{"addons:create", "larder-redis:mini", "-a", "web", "--maxmemory_policy", "evict-all"}, "allkeys-lru"},
		{"duplicate app", []string{"apps:create", "web"}, "already exists"},
		{"bad app name", []string{"apps:create", "Web App"}, "invalid app name"},
		{"missing app flag", []string{"addons:create", "larder-redis:mini"}, "-a"},
		{"destroy unknown add-on", []string{"addons:destroy", "REDIS", "-a", "web", "--confirm", "web"}, "no add-on"},
		{"config of unknown app", []string{"config", "-a", "nope"}, "nope"},
		{"bad --as", []string{"addons:create", "larder-redis:mini", "-a", "web", "--as", "9lives"}, "invalid attachment name"},
		{"bad add-on name", []string{"addons:create", "larder-redis:mini", "-a", "web", "--name", "Bad Name"}, "invalid add-on name"},
		{"set managed-looking bad var", []string{"config:set", "1BAD=x", "-a", "web"}, "1BAD"},
		{"option without its value", []string{"addons:create", "larder-redis:mini", "-a", "web", "--", "--maxmemory_policy"}, "--maxmemory_policy needs a value"},
		{"fork source without password", []string{"addons:create", "larder-redis:mini", "-a", "web", "--fork", "redis://127.0.0.1:1"}, "the fork source redis://127.0.0.1:1 has no password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.Larder(tt.args...)
			if r.Code == 0 {
				t.Fatalf("larder %v succeeded; stdout %q", tt.args, r.Stdout)
			}
			if !strings.Contains(r.Stderr, tt.want) {
				t.Errorf("stderr %q does not mention %q", r.Stderr, tt.want)
			}
			if strings.Contains(r.Stderr, b.Token) {
				t.Errorf("the API token leaked into an error message")
			}
		})
	}
	assertNothingCreated(t, b)

	// A duplicate add-on name is refused and the first keeps working.
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--name", "cache-one", "--wait")
	r := b.Larder("addons:create", "larder-redis:mini", "-a", "web", "--name", "cache-one", "--wait")
	if r.Code == 0 || !strings.Contains(r.Stderr, "already exists") {
		t.Errorf("duplicate add-on name: exit %d, stderr %q", r.Code, r.Stderr)
	}
	if dirs := nodeDirs(b); len(dirs) != 1 {
		t.Errorf("node dirs after refused duplicate = %v, want one", dirs)
	}
	// A var owned by the add-on cannot be overwritten by config:set.
	if r := b.Larder("config:set", "REDIS_URL=redis://elsewhere", "-a", "web"); r.Code == 0 || !strings.Contains(r.Stderr, "cache-one") {
		t.Errorf("config:set REDIS_URL: exit %d, stderr %q", r.Code, r.Stderr)
	}
	// An app that owns an add-on cannot be destroyed.
	if r := b.Larder("apps:destroy", "-a", "web", "--confirm", "web"); r.Code == 0 {
		t.Errorf("apps:destroy of an app with an add-on succeeded")
	}
}

func TestBadInputHTTP(t *testing.T) {
	b := NewBroker(t)
	b.MustLarder("apps:create", "web")
	do := func(method, path, token, body string) (int, string) {
		req, _ := http.NewRequest(method, b.URL+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data)
	}
	tests := []struct {
		name, method, path, token, body string
		status                          int
		id                              string
	}{
		{"no token", "GET", "/apps", "", "", 401, "unauthorized"},
		{"wrong token", "GET", "/apps", "not-the-token", "", 401, "unauthorized"},
		{"malformed JSON", "POST", "/apps/web/addons", b.Token, `{"plan": "larder-redis:mini"`, 400, "bad_request"},
		{"wrong JSON type", "POST", "/apps/web/addons", b.Token, `{"plan": 7}`, 400, "bad_request"},
		{"empty body", "POST", "/apps", b.Token, ``, 400, "bad_request"},
		{"unknown plan", "POST", "/apps/web/addons", b.Token, `{"plan": "larder-redis:huge"}`, 422, "invalid_params"},
		{"unknown app", "GET", "/apps/nope/config-vars", b.Token, "", 404, "not_found"},
		{"duplicate app", "POST", "/apps", b.Token, `{"name":"web"}`, 409, "conflict"},
		{"unknown option", "POST", "/apps/web/addons", b.Token, `{"plan":"larder-redis:mini","config":{"fork":"redis://x"}}`, 422, "invalid_params"},
		{"destroy missing add-on", "DELETE", "/apps/web/addons/REDIS", b.Token, `{}`, 404, "not_found"},
		{"unknown operation", "GET", "/operations/123", b.Token, "", 404, "not_found"},
		{"unknown endpoint", "GET", "/nothing", b.Token, "", 404, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(tt.method, tt.path, tt.token, tt.body)
			if status != tt.status || !strings.Contains(body, fmt.Sprintf(`"id": %q`, tt.id)) {
				t.Errorf("%s %s = %d %s; want %d with id %s", tt.method, tt.path, status, body, tt.status, tt.id)
			}
			if !strings.Contains(body, `"message"`) {
				t.Errorf("error body lacks a message: %s", body)
			}
		})
	}
	assertNothingCreated(t, b)
}

// TestCreateFailureRollsBack: when the engine cannot start, the create fails
// with a clear error and leaves no row, directory, process or port behind.
func TestCreateFailureRollsBack(t *testing.T) {
	if engineErr != nil {
		t.Skip(engineErr)
	}
	dir := t.TempDir()
	fake := filepath.Join(dir, "broken-engine")
	script := "#!/bin/sh\nif [ \"$1\" = \"--version\" ]; then exec redis-server --version; fi\necho 'cannot start' >&2\nexit 1\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	b := NewBroker(t, "LARDER_ENGINE="+fake)
	b.MustLarder("apps:create", "web")
	r := b.Larder("addons:create", "larder-redis:mini", "-a", "web", "--wait")
	if r.Code == 0 {
		t.Fatalf("create with a broken engine succeeded: %s", r.Stdout)
	}
	if !strings.Contains(r.Stderr, "failed") {
		t.Errorf("stderr %q does not say the create failed", r.Stderr)
	}
	assertNothingCreated(t, b)
	if vars := configVars(t, b, "web"); len(vars) != 0 {
		t.Errorf("vars after failed create: %v", vars)
	}
}
