package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Issue 18: HA on a bad network day. A slow host, silent observers and
// outages shorter than the window, with real partitions and a user-space
// link delay (netns.NS.Delay).

// locationsVoting fails unless every location reports fresh enough to vote.
func locationsVoting(t *testing.T, b *Broker) error {
	t.Helper()
	locs, err := b.Client().Monitors(context.Background())
	if err != nil {
		return err
	}
	var stale []string
	for _, l := range locs {
		if !l.Voting {
			stale = append(stale, fmt.Sprintf("%s (last report %d ms ago)", l.Location, l.AgeMS))
		}
	}
	if len(locs) < 3 || len(stale) > 0 {
		return fmt.Errorf("%d locations, not voting: %v", len(locs), stale)
	}
	return nil
}

// TestSlowHostKeepsObserversReporting: one host's link slowed down (150 ms
// each way, probes given 1.2 s) must not blind the observers: every location
// keeps reporting, another add-on whose primary's host is really cut fails
// over, and the slow host's add-on is not failed over. The slow add-on's
// standby (on the cut host) is rebuilt, and the removed node leaves every
// location's down list.
func TestSlowHostKeepsObserversReporting(t *testing.T) {
	c := newHAClusterMon(t, "2s", []string{"--timeout", "1200ms"})
	b := c.b
	for _, app := range []string{"cut", "slow"} {
		b.MustLarder("apps:create", app)
		b.MustLarder("addons:create", "larder-redis:premium-0", "-a", app, "--wait")
	}
	cut := waitInSync(t, b, "cut", nil)
	slow := waitInSync(t, b, "slow", nil)
	if slow.PrimaryHost == cut.PrimaryHost || slow.PrimaryHost == cut.StandbyHost {
		t.Fatalf("placement: cut on %s/%s, slow on %s/%s; want slow's primary on a host of its own", cut.PrimaryHost, cut.StandbyHost, slow.PrimaryHost, slow.StandbyHost)
	}
	const delay = 150 * time.Millisecond
	c.hostNS[slow.PrimaryHost].Delay(delay)
	misses := map[string]int{}
	sample := func() {
		if err := locationsVoting(t, b); err != nil {
			misses[err.Error()]++
		}
	}
	// A window's worth of the delay alone, sampled over a fixed span.
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
		sample()
		time.Sleep(100 * time.Millisecond)
	}
	cutAt := time.Now()
	c.hostNS[cut.PrimaryHost].Cut()
	defer c.hostNS[cut.PrimaryHost].Heal()
	WaitFor(t, 30*time.Second, "the cut add-on failed over", func() error {
		sample()
		info := haInfo(t, b, "cut")
		if info.HA == nil || info.HA.PrimaryHost == cut.PrimaryHost {
			return fmt.Errorf("%s", info.HAStatus)
		}
		return nil
	})
	t.Logf("failover %v after the cut, with %v of delay on %s", time.Since(cutAt).Round(time.Millisecond), delay, slow.PrimaryHost)
	if len(misses) > 0 {
		t.Errorf("observers stopped reporting under the delay: %v", misses)
	}
	if k := eventKinds(t, b, "slow"); k["failover.detect"] > 0 || k["failover"] > 0 {
		t.Errorf("the slow host's add-on was failed over: %v", k)
	}
	evs, _ := b.Client().Events(context.Background(), "cut", "REDIS")
	for _, e := range evs {
		t.Logf("%v %s %s", e.CreatedAt.Sub(cutAt).Round(time.Millisecond), e.Kind, e.Message)
		if e.Kind == "failover" && !strings.Contains(e.Message, "first failed probe") {
			t.Errorf("failover event does not name the first failed probe: %s", e.Message)
		}
	}
	WaitFor(t, 30*time.Second, "slow's standby rebuilt, the removed one in no location's down list", func() error {
		info := haInfo(t, b, "slow")
		if info.HA == nil || info.HA.StandbyHost == "" || info.HA.StandbyHost == slow.StandbyHost {
			return fmt.Errorf("standby not rebuilt yet: %s", info.HAStatus)
		}
		return noRemovedNodeDown(t, b)
	})
}

// noRemovedNodeDown fails when a location lists as down a node the broker
// no longer has.
func noRemovedNodeDown(t *testing.T, b *Broker) error {
	t.Helper()
	ctx := context.Background()
	targets, err := b.Client().MonitorTargets(ctx)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, tg := range targets {
		known[tg.NodeID] = true
	}
	locs, err := b.Client().Monitors(ctx)
	if err != nil {
		return err
	}
	for _, l := range locs {
		for _, id := range l.Down {
			if !known[id] {
				return fmt.Errorf("location %s still lists removed node %s as down", l.Location, id)
			}
		}
	}
	return nil
}

// TestOutagesShorterThanTheWindow: the sequence (observers silent,
// the primary's host cut, observers back 0.2 s later, the host back 60 % of a
// window after its cut) and plain outages of 30, 60 and 90 % of the window
// never fail over; a real cut still does.
func TestOutagesShorterThanTheWindow(t *testing.T) {
	const window = 2 * time.Second
	c := newHACluster(t, window.String())
	b := c.b
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait")
	pair := waitInSync(t, b, "web", nil)
	primaryNS := c.hostNS[pair.PrimaryHost]
	seenUp := func() {
		t.Helper()
		WaitFor(t, 20*time.Second, "every location votes and sees every node up", func() error {
			if err := locationsVoting(t, b); err != nil {
				return err
			}
			locs, _ := b.Client().Monitors(context.Background())
			for _, l := range locs {
				if len(l.Down) > 0 {
					return fmt.Errorf("%s sees %v down", l.Location, l.Down)
				}
			}
			return nil
		})
	}
	// outage cuts the primary's host for d; the span is the fault itself.
	outage := func(d time.Duration) {
		primaryNS.Cut()
		time.Sleep(d)
		primaryNS.Heal()
	}

	t.Run("silent observers, then a blip: no failover", func(t *testing.T) {
		seenUp()
		for _, l := range c.locNS {
			l.Cut()
		}
		WaitFor(t, 10*time.Second, "every location silent for longer than the window", func() error {
			locs, err := b.Client().Monitors(context.Background())
			if err != nil {
				return err
			}
			for _, l := range locs {
				if l.AgeMS < (window + 500*time.Millisecond).Milliseconds() {
					return fmt.Errorf("%s reported %d ms ago", l.Location, l.AgeMS)
				}
			}
			return nil
		})
		r := b.MustLarder("monitors")
		if !strings.Contains(r.Stdout, "stale (last report") || !strings.Contains(r.Stderr, "HA cannot decide: 0 of 3 locations voting") {
			t.Errorf("larder monitors does not show the stale locations and the warning:\n%s%s", r.Stdout, r.Stderr)
		}
		if info := haInfo(t, b, "web"); info.HA == nil || !strings.Contains(info.HA.Decision, "HA cannot decide") {
			t.Errorf("redis:info does not warn that HA cannot decide: %+v", info.HA)
		}
		primaryNS.Cut()
		time.Sleep(200 * time.Millisecond) // the sequence: observers back 0.2 s after the cut
		for _, l := range c.locNS {
			l.Heal()
		}
		time.Sleep(window*60/100 - 200*time.Millisecond) // the host back 60 % of a window after its cut
		primaryNS.Heal()
		noFailoverFor(t, b, "web", 2*window)
		WaitFor(t, 10*time.Second, "HA can decide again, and said both", func() error {
			if k := eventKinds(t, b, "web"); k["ha.cannot_decide"] != 1 || k["ha.can_decide"] != 1 {
				return fmt.Errorf("events %v, want one ha.cannot_decide and one ha.can_decide", k)
			}
			return nil
		})
	})

	for _, pct := range []int{30, 60, 90} {
		t.Run(fmt.Sprintf("outage of %d%% of the window: no failover", pct), func(t *testing.T) {
			seenUp()
			outage(window * time.Duration(pct) / 100)
			noFailoverFor(t, b, "web", window+time.Second)
			t.Logf("outage of %v (%d%% of the %v window): no failover", window*time.Duration(pct)/100, pct, window)
		})
	}

	t.Run("a real cut fails over", func(t *testing.T) {
		seenUp()
		cutAt := time.Now()
		primaryNS.Cut()
		defer primaryNS.Heal()
		WaitFor(t, 30*time.Second, "failover", func() error {
			if info := haInfo(t, b, "web"); info.HA == nil || info.HA.PrimaryHost == pair.PrimaryHost {
				return fmt.Errorf("%s", info.HAStatus)
			}
			return nil
		})
		evs, _ := b.Client().Events(context.Background(), "web", "REDIS")
		for _, e := range evs {
			if strings.HasPrefix(e.Kind, "failover") {
				t.Logf("%v after the cut (window %v): %s %s", e.CreatedAt.Sub(cutAt).Round(time.Millisecond), window, e.Kind, e.Message)
			}
		}
		if k := eventKinds(t, b, "web"); k["failover.detect"] != 1 || k["failover.rolled_back"] != 0 {
			t.Errorf("events %v, want one failover", k)
		}
	})
}

// TestFailoverRolledBackWhenThePrimaryReturns: the primary's host comes back
// while the broker waits out its lease before promoting; the decision, taken
// again on fresh evidence, finds it reachable, so nothing is promoted and
// the failover is rolled back with an event (issue 18.3).
func TestFailoverRolledBackWhenThePrimaryReturns(t *testing.T) {
	// Agents pause after 1 s; the broker waits 1.5 × 5 s from its last
	// contact before it promotes, so the host can return in between.
	c := newHACluster(t, "2s", "LARDER_LEASE=5s")
	b := c.b
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait")
	pair := waitInSync(t, b, "web", nil)
	url := configVars(t, b, "web")["REDIS_URL"]
	port0 := primaryPort(t, b, "web")
	primaryNS := c.hostNS[pair.PrimaryHost]
	primaryNS.Cut()
	defer primaryNS.Heal()
	WaitFor(t, 20*time.Second, "the failover detected", func() error {
		if k := eventKinds(t, b, "web"); k["failover.detect"] == 0 {
			return fmt.Errorf("events %v", k)
		}
		return nil
	})
	primaryNS.Heal()
	WaitFor(t, 20*time.Second, "the failover rolled back", func() error {
		if k := eventKinds(t, b, "web"); k["failover.rolled_back"] == 0 {
			return fmt.Errorf("events %v", k)
		}
		return nil
	})
	evs, _ := b.Client().Events(context.Background(), "web", "REDIS")
	for _, e := range evs {
		if strings.HasPrefix(e.Kind, "failover") {
			t.Logf("%s %s", e.Kind, e.Message)
		}
	}
	if k := eventKinds(t, b, "web"); k["failover"] != 0 {
		t.Errorf("the standby was promoted although the primary was back: %v", k)
	}
	if info := haInfo(t, b, "web"); info.HA == nil || info.HA.PrimaryHost != pair.PrimaryHost {
		t.Errorf("primary moved: %+v", info.HA)
	}
	if got := configVars(t, b, "web")["REDIS_URL"]; got != url {
		t.Errorf("REDIS_URL changed to %s", got)
	}
	if got := primaryPort(t, b, "web"); got != port0 {
		t.Errorf("primary moved from port %d to %d", port0, got)
	}
}
