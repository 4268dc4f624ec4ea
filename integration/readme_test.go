package integration

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
)

// safeInvocation is how each command the README says is denied is tried: an
// invocation that would do no harm if the ACL let it through by mistake.
var safeInvocation = map[string][]any{
	"CONFIG":         {"CONFIG", "GET", "maxmemory"},
	"SHUTDOWN":       {"SHUTDOWN", "NOSAVE", "ABORT"},
	"REPLICAOF":      {"REPLICAOF", "NO", "ONE"},
	"ACL":            {"ACL", "LIST"},
	"SAVE":           {"SAVE"},
	"BGSAVE":         {"BGSAVE", "SCHEDULE"},
	"FAILOVER":       {"FAILOVER", "ABORT"},
	"MODULE":         {"MODULE", "LIST"},
	"DEBUG":          {"DEBUG", "SLEEP", "0"},
	"CLIENT PAUSE":   {"CLIENT", "PAUSE", "1"},
	"CLIENT UNPAUSE": {"CLIENT", "UNPAUSE"},
}

// TestReadmeDeniedCommands: every command the README says the app's user
// cannot run is refused to that user on a real add-on, with the error the
// README names.
func TestReadmeDeniedCommands(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(readme)), " ")
	m := regexp.MustCompile("administrative commands \\(([^)]*)\\) answer `NOPERM`").FindStringSubmatch(text)
	if m == nil {
		t.Fatal("README.md no longer lists the administrative commands that answer NOPERM")
	}
	denied := map[string]string{} // command → what its error starts with
	for _, c := range regexp.MustCompile("`([A-Z][A-Z ]*)`").FindAllStringSubmatch(m[1], -1) {
		denied[c[1]] = "NOPERM"
	}
	if !strings.Contains(text, "`DEBUG` answers `ERR DEBUG command not allowed`") {
		t.Fatal("README.md no longer says what DEBUG answers")
	}
	denied["DEBUG"] = "ERR DEBUG command not allowed"

	b := NewBroker(t)
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--wait")
	c := redisClient(t, configVars(t, b, "web")["REDIS_URL"])
	ctx := context.Background()
	for cmd, want := range denied {
		args, ok := safeInvocation[cmd]
		if !ok {
			t.Errorf("README lists %s as denied: add a harmless invocation of it to safeInvocation", cmd)
			continue
		}
		err := c.Do(ctx, args...).Err()
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%v as the app's user: got %v, want an error starting %q as README.md says", args, err, want)
		}
	}
	if err := c.Set(ctx, "still", "here", 0).Err(); err != nil {
		t.Errorf("the node does not take writes after the denied commands: %v", err)
	}
}
