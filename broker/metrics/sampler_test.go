package metrics_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"larder/api"
	"larder/broker"
	"larder/broker/brokertest"
	"larder/broker/metrics"
	"larder/internal/testkit"
	"larder/store"
)

// provisioned creates a mini add-on on app and waits until it is
// provisioned, returning it and its node.
func provisioned(t testing.TB, b *broker.Broker, app string) (store.Addon, store.Node) {
	t.Helper()
	ctx := context.Background()
	res, err := b.Addons.CreateAddon(ctx, app, api.AddonCreate{Plan: "larder-redis:mini"})
	if err != nil {
		t.Fatal(err)
	}
	var a store.Addon
	testkit.WaitFor(t, 30*time.Second, func() error {
		if a, err = b.Store().AddonByID(ctx, res.Addon.ID); err != nil || a.State != api.StateProvisioned {
			return fmt.Errorf("add-on %+v, %v", a.State, err)
		}
		return nil
	})
	nodes, err := b.Store().NodesOfAddon(ctx, a.ID)
	if err != nil || len(nodes) != 1 {
		t.Fatalf("nodes %+v, %v", nodes, err)
	}
	return a, nodes[0]
}

// latestOf returns the sampler's latest sample of node, if any.
func latestOf(b *broker.Broker, node string) (metrics.Latest, bool) {
	for _, s := range b.Metrics.Latest() {
		if s.Node == node {
			return s, true
		}
	}
	return metrics.Latest{}, false
}

// TestSamplerRealNodes: a round reads every real node through its host; a
// node that stops answering (its process stopped) is reported down after
// its own deadline, while the other node's sample of that round is taken
// and stored all the same.
func TestSamplerRealNodes(t *testing.T) {
	b := brokertest.New(t, testkit.Metrics, func(c *broker.Config) {
		c.Metrics.Disabled = true // rounds are run by the test
		c.Metrics.Timeout = 500 * time.Millisecond
	})
	ctx := context.Background()
	if _, err := b.Apps.CreateApp(ctx, api.AppCreate{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	a1, n1 := provisioned(t, b, "web")
	_, n2 := provisioned(t, b, "web")

	for range 2 { // the first round primes the rates
		if err := b.Metrics.Round(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []store.Node{n1, n2} {
		l, ok := latestOf(b, n.Name)
		if !ok || !l.Up || !l.HasRates || l.MemoryUsedBytes <= 0 {
			t.Fatalf("%s after two rounds: %+v (found %v); want up, with rates and its memory", n.Name, l, ok)
		}
	}
	pts, err := b.Store().MetricPoints(ctx, a1.ID, 10, 0)
	if err != nil || len(pts) != 1 || pts[0].NodeID != n1.ID || pts[0].MemoryUsed <= 0 || pts[0].MemoryLimit != 25<<20 {
		t.Fatalf("stored points of %s: %+v, %v; want one with its memory and the plan's limit", a1.Name, pts, err)
	}

	// n1 stops answering: the round still ends, with n1 down and n2's
	// sample of this round taken.
	if err := syscall.Kill(n1.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(n1.PID, syscall.SIGCONT) })
	before := b.Metrics.Stats().Failures
	if err := b.Metrics.Round(ctx); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(n1.PID, syscall.SIGCONT)
	down, _ := latestOf(b, n1.Name)
	up, _ := latestOf(b, n2.Name)
	if down.Up || !up.Up || !up.HasRates || !up.At.Equal(down.At) || b.Metrics.Stats().Failures != before+1 {
		t.Fatalf("with %s stopped: it %+v, %s %+v, failures %d (was %d); want it down, the other sampled in the same round",
			n1.Name, down, n2.Name, up, b.Metrics.Stats().Failures, before)
	}
	// Back: its rates start again from a fresh reading.
	testkit.WaitFor(t, 20*time.Second, func() error {
		if err := b.Metrics.Round(ctx); err != nil {
			return err
		}
		if l, _ := latestOf(b, n1.Name); !l.Up || !l.HasRates {
			return fmt.Errorf("%s: %+v", n1.Name, l)
		}
		return nil
	})
}
