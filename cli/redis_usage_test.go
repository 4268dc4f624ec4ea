package cli

import (
	"strings"
	"testing"
)

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

func TestFollowUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no url", []string{"redis:follow", "-a", "web"}, "no leader given: add --url"},
		{"no app", []string{"redis:follow", "--url", "redis://u:p@h:1"}, "no app given"},
		{"two names", []string{"redis:follow", "A", "B", "--url", "redis://u:p@h:1", "-a", "web"}, `unexpected argument "B"`},
		{"unfollow two names", []string{"redis:unfollow", "A", "B", "-a", "web"}, `unexpected argument "B"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, "", tt.args...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("larder %v: exit %d, stderr %q; want usage error %q", tt.args, code, stderr, tt.want)
			}
		})
	}
}

func TestTLSOnlyUsage(t *testing.T) {
	out, errOut, code := runCLI(t, "", "redis:tls-only", "-a", "web", "--on", "--off")
	if code != exitUsage || !strings.Contains(errOut, "contradict") || out != "" {
		t.Errorf("--on --off: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, errOut, code := runCLI(t, "", "redis:allowlist", "--add", "10.0.0.0/8"); code != exitUsage || !strings.Contains(errOut, "no app given") {
		t.Errorf("allowlist without an app: code %d, stderr %q", code, errOut)
	}
}
