package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"larder/api"
	"larder/internal/pgtest"
)

// newHAClusterShared is an haCluster of two brokers on one new PostgreSQL
// store (the second is c.others[0]), both on the bridge and with one API
// token, as an operator runs them; brokers gives each location's monitor
// its broker URL list. The first broker coordinates.
func newHAClusterShared(t *testing.T, window string, brokers func(c *haCluster, loc string) string, extra ...string) *haCluster {
	t.Helper()
	c := newHAHosts(t, window, append([]string{"LARDER_STORE_URL=" + pgtest.URL(t)}, extra...)...)
	c.others = []*Broker{sharingBroker(t, c.b, append(haBrokerEnv(window), extra...)...)}
	c.startMonitors(t, func(loc string) string { return brokers(c, loc) })
	c.waitUp(t)
	coordinates(t, c.others[0], c.b)
	return c
}

// primaryID is the id of the node the observers probe as app's primary.
func primaryID(t *testing.T, b *Broker) string {
	t.Helper()
	targets, err := b.Client().MonitorTargets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range targets {
		if tg.Role == "primary" {
			return tg.NodeID
		}
	}
	t.Fatalf("no primary among %+v", targets)
	return ""
}

// failedOver waits until b records app's primary on host, in sync with a
// new standby, and returns the failover's events by kind (the first of
// each).
func failedOver(t *testing.T, b *Broker, app, host string) map[string]api.Event {
	t.Helper()
	WaitFor(t, 40*time.Second, "failover to "+host+" and a new standby", func() error {
		info := haInfo(t, b, app)
		if info.HA == nil || info.HA.PrimaryHost != host || !info.HA.InSync {
			return fmt.Errorf("%s", info.HAStatus)
		}
		return nil
	})
	evs, err := b.Client().Events(context.Background(), app, "REDIS")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]api.Event{}
	for _, e := range evs {
		if _, ok := out[e.Kind]; !ok {
			out[e.Kind] = e
		}
	}
	if k := eventKinds(t, b, app); k["failover"] != 1 || k["failover.detect"] != 1 {
		t.Errorf("failover events %v, want exactly one", k)
	}
	return out
}

// TestVotesReachTheCoordinatorThroughAnotherBroker (issue 16): two brokers
// on PostgreSQL; every monitor reports only to the broker that does not
// coordinate. A host cut of the primary still fails over: the coordinator
// counts the votes it never received, through the store.
func TestVotesReachTheCoordinatorThroughAnotherBroker(t *testing.T) {
	c := newHAClusterShared(t, "2s", func(c *haCluster, _ string) string { return c.others[0].URL }, "LARDER_COORDINATOR_LEASE=1500ms")
	b1, b2 := c.b, c.others[0]
	b1.MustLarder("apps:create", "web")
	b1.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait")
	ha := waitInSync(t, b1, "web", nil)

	cut := c.hostNS[ha.PrimaryHost]
	cutAt := time.Now()
	cut.Cut()
	defer cut.Heal()
	evs := failedOver(t, b1, "web", ha.StandbyHost)
	t.Logf("host cut → failover recorded in %v (window 2s)", evs["failover"].CreatedAt.Sub(cutAt).Round(time.Millisecond))
	coordinates(t, b2, b1)
	if strings.Contains(b2.logs.String(), "coordinating: this broker holds") {
		t.Errorf("the broker the monitors report to coordinated: the decision was not the first broker's")
	}
}

// TestCoordinatorKilledDuringAHostCut (issue 16): two brokers on
// PostgreSQL, the monitors split between them (each with both URLs). The
// primary's host is cut; once a quorum of locations sees it down — part-way
// through the window — the coordinator is killed (kill -9). The other
// broker takes the lease over and completes the failover, its tracker warm
// with the votes the dead one received. Recovery (the cut → the new primary
// recorded) is logged against window + lease + 1 s; the test fails only
// past a generous bound (the machine may be loaded).
func TestCoordinatorKilledDuringAHostCut(t *testing.T) {
	const window, lease = 3 * time.Second, 1500 * time.Millisecond
	c := newHAClusterShared(t, window.String(), func(c *haCluster, loc string) string {
		if loc == "l2" {
			return c.others[0].URL + "," + c.b.URL
		}
		return c.b.URL + "," + c.others[0].URL
	}, fmt.Sprintf("LARDER_COORDINATOR_LEASE=%s", lease))
	b1, b2 := c.b, c.others[0]
	b1.MustLarder("apps:create", "web")
	b1.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait")
	ha := waitInSync(t, b1, "web", nil)
	primary := primaryID(t, b1)

	cut := c.hostNS[ha.PrimaryHost]
	cutAt := time.Now()
	cut.Cut()
	defer cut.Heal()
	WaitFor(t, 10*time.Second, "a quorum of locations to see the primary down", func() error {
		locs, err := b2.Client().Monitors(context.Background())
		if err != nil {
			return err
		}
		var down []string
		for _, l := range locs {
			for _, id := range l.Down {
				if id == primary {
					down = append(down, l.Location)
				}
			}
		}
		if len(down) < 2 {
			return fmt.Errorf("down at %v", down)
		}
		return nil
	})
	if k := eventKinds(t, b1, "web"); k["failover.detect"] != 0 {
		t.Errorf("the coordinator decided before it was killed (%v): the take-over was not exercised", k)
	}
	killedAt := time.Now()
	killBroker(b1)
	got := coordinates(t, b2, b2)
	evs := failedOver(t, b2, "web", ha.StandbyHost)
	recovery := evs["failover"].CreatedAt.Sub(cutAt)
	bound := window + lease + time.Second
	t.Logf("killed %v after the cut; broker 2 coordinates %v after the cut; failover detected %v, recorded %v after the cut (window + lease + 1s = %v)",
		killedAt.Sub(cutAt).Round(time.Millisecond), got.CoordinatingSince.Sub(cutAt).Round(time.Millisecond),
		evs["failover.detect"].CreatedAt.Sub(cutAt).Round(time.Millisecond), recovery.Round(time.Millisecond), bound)
	if recovery > 4*bound {
		t.Errorf("recovery took %v, past 4 × (window + lease + 1s)", recovery)
	}
}
