package cli

import (
	"errors"
	"strings"
	"testing"

	"larder/api"
	"larder/fault"
)

// attached is an attachment that gives app the var NAME_URL.
func attached(app, name string) api.Attachment {
	at := attachment(app, name)
	at.ConfigVars = []string{name + "_URL"}
	return at
}

func TestDefaultRedis(t *testing.T) {
	only := api.Addon{Name: "redis-a", App: api.Ref{Name: "web"}, Attachments: []api.Attachment{attached("web", "CACHE")}}
	primary := api.Addon{Name: "redis-b", App: api.Ref{Name: "web"},
		Attachments: []api.Attachment{attached("worker", "CACHE"), attached("web", "REDIS")}}
	elsewhere := api.Addon{Name: "redis-c", App: api.Ref{Name: "api"},
		Attachments: []api.Attachment{attached("api", "REDIS"), attached("web", "SHARED")}}
	tests := []struct {
		name     string
		addons   []api.Addon
		want     string
		wantKind fault.Kind
		wantMsg  string
	}{
		{"none", nil, "", fault.NotFound, "⬢ web has no Redis add-ons; create one with: larder addons:create larder-redis:mini -a web"},
		{"only one, whatever its name", []api.Addon{only}, "redis-a", "", ""},
		{"the one attached as REDIS", []api.Addon{only, primary, elsewhere}, "redis-b", "", ""},
		{"REDIS on another app does not count", []api.Addon{only, elsewhere}, "", fault.Ambiguous,
			"⬢ web has 2 Redis add-ons and none is attached as REDIS; name one: redis-a (CACHE_URL), redis-c (SHARED_URL)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := defaultRedis(tt.addons, "web")
			if tt.wantKind != "" {
				var fe *fault.Error
				if !errors.Is(err, tt.wantKind) || !errors.As(err, &fe) || fe.Message != tt.wantMsg {
					t.Errorf("defaultRedis: got %v, want %s %q", err, tt.wantKind, tt.wantMsg)
				}
				return
			}
			if err != nil || got.Name != tt.want {
				t.Errorf("defaultRedis: got %q, %v; want %q", got.Name, err, tt.want)
			}
		})
	}
}

func TestAddonLabel(t *testing.T) {
	tests := []struct {
		name  string
		addon api.Addon
		app   string
		want  string
	}{
		{"this app's vars only", api.Addon{Name: "redis-a", App: api.Ref{Name: "web"},
			Attachments: []api.Attachment{attached("web", "REDIS"), attached("worker", "CACHE"), attached("web", "LARDER_REDIS_AMBER")}},
			"web", "redis-a (REDIS_URL, LARDER_REDIS_AMBER_URL)"},
		{"attached from another app", api.Addon{Name: "redis-a", App: api.Ref{Name: "web"},
			Attachments: []api.Attachment{attached("web", "REDIS"), attached("worker", "CACHE")}},
			"worker", "redis-a (CACHE_URL)"},
		{"owner's vars without attachments", api.Addon{Name: "redis-a", App: api.Ref{Name: "web"}, ConfigVars: []string{"REDIS_URL"}},
			"web", "redis-a (REDIS_URL)"},
		{"no vars", api.Addon{Name: "redis-a", App: api.Ref{Name: "web"}}, "other", "redis-a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := addonLabel(tt.addon, tt.app); got != tt.want {
				t.Errorf("addonLabel: got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestRedisCommandUsage checks the arguments and flags of the redis:* and
// attachment commands before any broker is asked (none runs here).
func TestRedisCommandUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"maxmemory needs a policy", []string{"redis:maxmemory", "-a", "web"}, exitUsage, "no policy given: add -p POLICY"},
		{"maxmemory bad policy", []string{"redis:maxmemory", "REDIS", "-a", "web", "-p", "lru"}, exitUsage, "invalid maxmemory policy \"lru\"\nvalid policies:\n  noeviction       return errors"},
		{"maxmemory good policy asks the broker", []string{"redis:maxmemory", "-a", "web", "--policy", "allkeys-lru"}, exitError, "cannot reach"},
		{"maxmemory two names", []string{"redis:maxmemory", "a", "b", "-a", "web", "-p", "noeviction"}, exitUsage, `unexpected argument "b"`},
		{"timeout needs seconds", []string{"redis:timeout", "-a", "web"}, exitUsage, "no timeout given"},
		{"timeout negative", []string{"redis:timeout", "-a", "web", "-s", "-5"}, exitUsage, `invalid timeout "-5"`},
		{"timeout not a number", []string{"redis:timeout", "-a", "web", "--seconds=abc"}, exitUsage, `invalid timeout "abc"`},
		{"timeout zero asks the broker", []string{"redis:timeout", "-a", "web", "-s", "0"}, exitError, "cannot reach"},
		{"keyspace needs flags", []string{"redis:keyspace-notifications", "-a", "web"}, exitUsage, "no flags given"},
		{"keyspace bad flag", []string{"redis:keyspace-notifications", "-a", "web", "-c", "KEQ"}, exitUsage, "invalid keyspace notification flag 'Q'"},
		{"keyspace off asks the broker", []string{"redis:keyspace-notifications", "-a", "web", "-c", ""}, exitError, "cannot reach"},
		{"promote needs a name", []string{"redis:promote", "-a", "web"}, exitUsage, "missing argument\nusage: larder redis:promote NAME -a APP"},
		{"promote needs an app", []string{"redis:promote", "redis-a"}, exitUsage, "try: larder redis:promote redis-a -a APP"},
		{"credentials needs an app", []string{"redis:credentials", "--reset"}, exitUsage, "no app given"},
		{"wait needs an app", []string{"redis:wait"}, exitUsage, "no app given"},
		{"cli needs an app", []string{"redis:cli"}, exitUsage, "no app given"},
		{"cli two names", []string{"redis:cli", "a", "b", "-a", "web"}, exitUsage, `unexpected argument "b"`},
		{"events alias", []string{"redis:events", "-a", "web", "--json"}, exitError, "cannot reach"},
		{"attach needs an add-on", []string{"addons:attach", "-a", "web"}, exitUsage, "missing argument\nusage: larder addons:attach ADDON"},
		{"detach needs a name", []string{"addons:detach", "-a", "web"}, exitUsage, "missing argument"},
		{"detach needs an app", []string{"addons:detach", "CACHE"}, exitUsage, "try: larder addons:detach CACHE -a APP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, "", tt.args...)
			if code != tt.wantCode || !strings.Contains(errOut, tt.wantErr) || out != "" {
				t.Errorf("%q: got code %d, stdout %q, stderr %q; want %d and %q", tt.args, code, out, errOut, tt.wantCode, tt.wantErr)
			}
		})
	}
}

// TestRedisCLIPipedStdinIsNotAName guards against heroku/cli#3186: piped
// commands were read as the add-on name.
func TestRedisCLIPipedStdinIsNotAName(t *testing.T) {
	_, errOut, code := runCLI(t, "SET a 1\n", "redis:cli", "-a", "web")
	if code != exitError || !strings.Contains(errOut, "cannot reach the larder broker") {
		t.Errorf("redis:cli with piped stdin: got code %d, stderr %q; want it to ask the broker for REDIS", code, errOut)
	}
}
