package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// hostLine is the `larder hosts` line of host name.
func hostLine(t *testing.T, b *Broker, name string) string {
	t.Helper()
	for _, line := range strings.Split(b.MustLarder("hosts").Stdout, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			return line
		}
	}
	return ""
}

// TestWhatTheUserIsToldWhileAHostIsCut (issue 18.4): with the primary's host
// cut, redis:info answers within its short deadlines, says what it could not
// reach and does not call the pair available; a broker restarted meanwhile
// serves its API at once and lists the cut host's adoption as pending, then
// adopts its nodes once it is back; `larder hosts` does not call the unused
// local host up.
func TestWhatTheUserIsToldWhileAHostIsCut(t *testing.T) {
	// A fixed port, so agents and observers find the restarted broker; the
	// window is long, so the cut causes no failover.
	c := newHACluster(t, "60s", fmt.Sprintf("LARDER_LISTEN=198.18.2.1:%d", freeTCPPort(t)))
	b := c.b
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait")
	pair := waitInSync(t, b, "web", nil)
	if line := hostLine(t, b, "local"); !strings.Contains(line, "not used") || strings.Contains(line, " up ") {
		t.Errorf("larder hosts with --no-local-nodes lists local as %q, want it not used", line)
	}

	cut := c.hostNS[pair.PrimaryHost]
	cut.Cut()
	defer cut.Heal()
	WaitFor(t, 20*time.Second, "redis:info says the primary is unreachable", func() error {
		start := time.Now()
		info := haInfo(t, b, "web")
		took := time.Since(start)
		if info.HA == nil || !strings.Contains(info.HAStatus, "primary on "+pair.PrimaryHost+" unreachable") ||
			len(info.HA.Unreachable) == 0 || !strings.Contains(info.HA.Unreachable[0], "primary") ||
			!strings.Contains(info.LiveError, pair.PrimaryHost) {
			return fmt.Errorf("redis:info after %v: status %q, ha %+v, live error %q", took, info.HAStatus, info.HA, info.LiveError)
		}
		t.Logf("redis:info with the primary's host cut answered in %v: %s; unreachable: %v", took, info.HAStatus, info.HA.Unreachable)
		return nil
	})

	b.Stop()
	b.Start()
	// The API answers while the cut host's nodes wait for adoption.
	if line := hostLine(t, b, pair.PrimaryHost); !strings.Contains(line, "pending") {
		t.Errorf("larder hosts right after the restart lists %s as %q, want its adoption pending", pair.PrimaryHost, line)
	}
	b.MustLarder("apps")
	cut.Heal()
	WaitFor(t, 30*time.Second, "the host back up, its nodes adopted", func() error {
		if line := hostLine(t, b, pair.PrimaryHost); strings.Contains(line, "pending") || !strings.Contains(line, " up ") {
			return fmt.Errorf("hosts: %q", line)
		}
		if info := haInfo(t, b, "web"); !info.Live || info.HA == nil || !info.HA.InSync {
			return fmt.Errorf("redis:info: %s, live error %q", info.HAStatus, info.LiveError)
		}
		return nil
	})
	if k := eventKinds(t, b, "web"); k["failover.detect"] > 0 {
		t.Errorf("a failover started: %v", k)
	}
}
