package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/api"
	"larder/internal/netns"
)

// TestHAMonitorBrokerCrash: the broker dies in the middle of a failover,
// after fencing (before the promotion: the next broker rolls back and the
// observers decide again) or right after promoting the standby (before
// recording it: the next broker finds the promotion on the nodes and
// completes). Either way: exactly one failover, apps repointed, never two
// primaries.
func TestHAMonitorBrokerCrash(t *testing.T) {
	for _, tt := range []struct{ point, resumed string }{
		{"failover.fenced", "failover.rolled_back"},
		{"failover.promoted", ""},
	} {
		t.Run(tt.point, func(t *testing.T) {
			c := newHACluster(t, "2s", "LARDER_CRASH_AT="+tt.point)
			b := c.b
			b.MustLarder("apps:create", "web")
			b.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait")
			ha := waitInSync(t, b, "web", nil)
			url0 := configVars(t, b, "web")["REDIS_URL"]
			port0 := primaryPort(t, b, "web")
			c.hostNS[ha.PrimaryHost].Cut()
			defer c.hostNS[ha.PrimaryHost].Heal()
			select {
			case <-b.done:
			case <-time.After(30 * time.Second):
				t.Fatal("the broker did not reach the crash point")
			}
			b.cmd = nil
			// The same address again: observers keep reporting where they did.
			extra := []string{"LARDER_LISTEN=" + strings.TrimPrefix(b.URL, "http://")}
			for _, e := range b.extra {
				if !strings.HasPrefix(e, "LARDER_CRASH_AT=") && !strings.HasPrefix(e, "LARDER_LISTEN=") {
					extra = append(extra, e)
				}
			}
			b.extra = extra
			b.Start()
			after := waitInSync(t, b, "web", func(h api.HAInfo) error {
				if h.PrimaryHost != ha.StandbyHost {
					return fmt.Errorf("primary on %s", h.PrimaryHost)
				}
				return nil
			})
			if got := configVars(t, b, "web")["REDIS_URL"]; got != url0 {
				t.Errorf("REDIS_URL changed in the failover: %s, want %s", got, url0)
			}
			port1 := primaryPort(t, b, "web")
			if port1 == port0 && after.PrimaryHost == ha.PrimaryHost {
				t.Errorf("the primary is still the lost one")
			}
			waitServedBy(t, url0, port1) // the data path moved to the new primary
			k := eventKinds(t, b, "web")
			if k["failover"] != 1 {
				t.Errorf("events %v: want exactly one failover", k)
			}
			if tt.resumed != "" && k[tt.resumed] != 1 {
				t.Errorf("events %v: want %s", k, tt.resumed)
			}
			if after.Epoch <= ha.Epoch {
				t.Errorf("epoch %d → %d: not bumped", ha.Epoch, after.Epoch)
			}
		})
	}
}

// TestInProcessMonitors: `larder broker --monitors 3` runs three observers
// inside the broker (one machine), and they report.
func TestInProcessMonitors(t *testing.T) {
	b := NewBroker(t, "LARDER_MONITORS=3", "LARDER_MONITOR_INTERVAL=100ms")
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--wait")
	WaitFor(t, 10*time.Second, "three in-process locations see the node", func() error {
		locs, err := b.Client().Monitors(context.Background())
		if err != nil {
			return err
		}
		if len(locs) != 3 {
			return fmt.Errorf("%d locations", len(locs))
		}
		for _, l := range locs {
			if l.Up != 1 || !strings.HasPrefix(l.Location, "local-") {
				return fmt.Errorf("%+v", l)
			}
		}
		return nil
	})
	if !strings.Contains(b.logs.String(), "share this machine's network location") {
		t.Errorf("the broker does not say its observers share one location")
	}
}

// TestFailoverKeepsFollowing: an HA add-on following an external leader is
// failed over; the new primary follows the leader too.
func TestFailoverKeepsFollowing(t *testing.T) {
	c := newHACluster(t, "2s")
	b := c.b
	ctx := context.Background()
	ldr := netns.New(t, "ldr", "198.18.2.51", "198.18.2.1")
	srv := ldr.Exec("redis-server", "--port", "6379", "--bind", ldr.IP, "--requirepass", "leader-pw", "--save", "",
		"--repl-diskless-sync-delay", "0", "--dir", t.TempDir())
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	leader := redis.NewClient(&redis.Options{Addr: ldr.IP + ":6379", Password: "leader-pw"})
	defer leader.Close()
	WaitFor(t, 10*time.Second, "leader up", func() error { return leader.Ping(ctx).Err() })
	leader.Set(ctx, "before", "1", 0)

	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait")
	ha := waitInSync(t, b, "web", nil)
	b.MustLarder("redis:follow", "--url", "redis://default:leader-pw@"+ldr.IP+":6379", "-a", "web", "--confirm", "web")
	c0 := redisClient(t, configVars(t, b, "web")["REDIS_URL"])
	WaitFor(t, 20*time.Second, "follower has the leader's data", func() error {
		if v, err := c0.Get(ctx, "before").Result(); err != nil || v != "1" {
			return fmt.Errorf("before = %q, %v", v, err)
		}
		return nil
	})
	// Following made the primary resync from the leader, and its standby from
	// it: a standby still in its full sync may not be promoted.
	waitInSync(t, b, "web", nil)
	c.hostNS[ha.PrimaryHost].Cut()
	defer c.hostNS[ha.PrimaryHost].Heal()
	WaitFor(t, 30*time.Second, "failover", func() error {
		if k := eventKinds(t, b, "web"); k["failover"] != 1 {
			return fmt.Errorf("events %v", k)
		}
		return nil
	})
	leader.Set(ctx, "after", "2", 0)
	c1 := redisClient(t, configVars(t, b, "web")["REDIS_URL"])
	WaitFor(t, 20*time.Second, "the new primary follows the leader", func() error {
		if v, err := c1.Get(ctx, "after").Result(); err != nil || v != "2" {
			return fmt.Errorf("after = %q, %v", v, err)
		}
		return nil
	})
	if err := c1.Set(ctx, "mine", "x", 0).Err(); err == nil || !strings.Contains(err.Error(), "READONLY") {
		t.Errorf("write to the new primary of a follower: %v, want READONLY", err)
	}
}
