package metrics

import (
	"context"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/catalog"
	"larder/engine"
	"larder/ha/coord"
	"larder/provisioner"
	"larder/store"
	"larder/store/sqlite"
)

// scripted is a host whose nodes' INFO is a function of the fake clock: the
// roll-up maths is checked against figures known in advance. Only Info is
// implemented.
type scripted struct {
	provisioner.Host
	mu    sync.Mutex
	clock *coord.Fake
	start time.Time
	reset time.Time // counters start again from here (a restart)
}

// info at t: memory is the seconds since start (so a mean over a step is
// known), 100 commands and 3 hits and 1 miss a second, a quarter of a core.
func (h *scripted) Info(ctx context.Context, spec provisioner.NodeSpec) (provisioner.NodeInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.clock.Now()
	s := now.Sub(h.start).Seconds()
	up := now.Sub(h.start)
	if !h.reset.IsZero() && !now.Before(h.reset) {
		up = now.Sub(h.reset)
	}
	u := up.Seconds()
	return provisioner.NodeInfo{Role: "master", UsedMemoryBytes: int64(s), ConnectedClients: 2, ReplOffset: int64(s),
		Stats: engine.Stats{CPUSeconds: u / 4, Commands: int64(100 * u), KeyspaceHits: int64(3 * u), KeyspaceMisses: int64(u), PersistenceOK: true}}, nil
}

type oneHost struct{ h provisioner.Host }

func (o oneHost) Of(store.Node) provisioner.Host { return o.h }

type catalogNodes struct{}

func (catalogNodes) InfoSpec(a store.Addon, p *catalog.Plan, n store.Node) provisioner.NodeSpec {
	return provisioner.NodeSpec{ID: n.ID, Name: n.Name, Port: n.Port}
}

func (catalogNodes) PlanOf(a store.Addon) (*catalog.Plan, error) {
	svc, err := catalog.Builtin().Service(a.Service)
	if err != nil {
		return nil, err
	}
	return svc.Plan(a.Plan)
}

// rollupFixture is a sampler over a real SQLite store holding one
// provisioned add-on with one node, on a scripted host and a fake clock.
func rollupFixture(t *testing.T) (*Sampler, *coord.Fake, *scripted, store.Addon) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "larder.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	app, err := st.CreateApp(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	a := store.Addon{Name: "redis-a", Service: "larder-redis", Plan: "mini", AppID: app.ID, State: api.StateProvisioned,
		MaxMemoryPolicy: "noeviction", AdminPassword: "a", CustomerUser: "default", CustomerPassword: "c"}
	if err := st.CreateAddon(ctx, &a); err != nil {
		t.Fatal(err)
	}
	a.AppName = "web"
	if err := st.CreateNode(ctx, &store.Node{AddonID: a.ID, Name: "redis-a-1", Role: store.RolePrimary, Host: "local",
		Address: "127.0.0.1", Port: 21000, State: store.NodeRunning}); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC) // on an hour
	clock := coord.NewFake(start)
	h := &scripted{clock: clock, start: start}
	log := logrus.New()
	log.SetOutput(io.Discard)
	s := New(Config{Interval: 10 * time.Second, Clock: clock}, Deps{Store: st, Hosts: oneHost{h}, Nodes: catalogNodes{}, Log: log})
	return s, clock, h, a
}

// roundsUntil runs a round every 10 s of virtual time until clock reads end.
func roundsUntil(t *testing.T, s *Sampler, clock *coord.Fake, end time.Time) {
	t.Helper()
	for !clock.Now().After(end) {
		if err := s.Round(context.Background()); err != nil {
			t.Fatal(err)
		}
		clock.Advance(10 * time.Second)
	}
}

// TestRollups: in virtual time, 10 s samples fold into 5-minute and hourly
// means that match the figures sampled, rates come from counters, a
// restart's counters store no bogus rate, and old points are pruned.
func TestRollups(t *testing.T) {
	s, clock, h, a := rollupFixture(t)
	ctx := context.Background()
	start := clock.Now()
	roundsUntil(t, s, clock, start.Add(time.Hour+5*time.Minute)) // samples at 0, 10, …, 3900 s

	clock.Advance(-10 * time.Second) // read as of the last sample
	m, err := s.Series(ctx, a, "1h")
	if err != nil {
		t.Fatal(err)
	}
	if m.Step != 10 || len(m.Nodes) != 1 || m.MemoryLimitBytes != 25<<20 {
		t.Fatalf("1h: step %d, %d nodes, limit %d; want 10 s steps of one node, the mini's 25 MB", m.Step, len(m.Nodes), m.MemoryLimitBytes)
	}
	n := m.Nodes[0]
	// The last hour, from 3890-3600 = 290 s (rounded to a step), holds every
	// sample: the first (at 0 s) only primed the rates.
	if got, want := len(n.Times), (3890-290)/10+1; got != want {
		t.Fatalf("1h: %d points, want %d", got, want)
	}
	for i, at := range n.Times {
		sec := float64(at - start.Unix())
		checks := map[string]float64{api.MetricMemory: sec, api.MetricOps: 100, api.MetricCPU: 0.25, api.MetricHitRatio: 0.75,
			api.MetricClients: 2, api.MetricPersistOK: 1, api.MetricReplOffset: sec}
		for name, want := range checks {
			if got := n.Metric(name).Values[i]; got == nil || *got != want {
				t.Fatalf("1h %s at %d s = %v, want %v", name, int(sec), got, want)
			}
		}
	}

	// Five-minute means: the bucket at 300 s holds the samples 300…590 s,
	// whose memory (the second it was taken) averages 445. The first bucket
	// lacks the priming sample at 0 s: 10…290 s, mean 150.
	day, err := s.Series(ctx, a, "1d")
	if err != nil {
		t.Fatal(err)
	}
	d := day.Nodes[0]
	if day.Step != 300 || len(d.Times) != 14 || d.Times[1] != start.Unix()+300 {
		t.Fatalf("1d: step %d, times %v; want 14 five-minute points from the start (0 to 3900 s)", day.Step, d.Times)
	}
	mem := d.Metric(api.MetricMemory).Values
	if *mem[0] != 150 || *mem[1] != 445 || *d.Metric(api.MetricOps).Values[1] != 100 {
		t.Fatalf("1d memory means %v, %v, ops %v; want 150, 445, 100", *mem[0], *mem[1], *d.Metric(api.MetricOps).Values[1])
	}
	month, err := s.Series(ctx, a, "30d")
	if err != nil {
		t.Fatal(err)
	}
	if mo := month.Nodes[0]; month.Step != 3600 || len(mo.Times) != 2 || *mo.Metric(api.MetricMemory).Values[0] != 1800 {
		t.Fatalf("30d: step %d, %d points, first mean %v; want hourly points, the first averaging 10…3590 s to 1800",
			month.Step, len(mo.Times), *mo.Metric(api.MetricMemory).Values[0])
	}

	// A restart: the counters go back, so that sample stores no rate, and
	// the next one is a rate again.
	clock.Advance(10 * time.Second)
	h.mu.Lock()
	h.reset = clock.Now().Add(-5 * time.Second)
	h.mu.Unlock()
	before := len(n.Times)
	roundsUntil(t, s, clock, clock.Now().Add(10*time.Second))
	clock.Advance(-10 * time.Second)
	after, _ := s.Series(ctx, a, "1h")
	an := after.Nodes[0]
	// The hour's window moved by 20 s: two points left it, two samples
	// came, the first of which (the restart's) stored nothing.
	if got := len(an.Times); got != before-1 {
		ops := an.Metric(api.MetricOps).Values
		t.Fatalf("after a restart: %d points (was %d), last ops %v; want the restart's sample skipped", got, before, *ops[len(ops)-1])
	}
	if ops := an.Metric(api.MetricOps).Values; *ops[len(ops)-1] != 100 {
		t.Fatalf("ops after the restart = %v, want 100 again", *ops[len(ops)-1])
	}

	// Seven hours on, the 10 s points of the first hour are pruned; the
	// 5-minute ones stay.
	clock.Advance(7 * time.Hour)
	if err := s.Round(ctx); err != nil {
		t.Fatal(err)
	}
	fine, _ := s.store.MetricPoints(ctx, a.ID, 10, 0)
	coarse, _ := s.store.MetricPoints(ctx, a.ID, 300, 0)
	if len(fine) != 1 || fine[0].At != clock.Now().Unix() || len(coarse) != 15 {
		t.Fatalf("after 7 h: %d ten-second points, %d five-minute ones; want only the new one, and all 15 kept", len(fine), len(coarse))
	}
}

// TestSinceIsChecked: a range outside the list is Invalid, naming the list.
func TestSinceIsChecked(t *testing.T) {
	for _, bad := range []string{"2h", "1y", "-1h", "1H", " 1h"} {
		if _, err := ParseSince(bad); err == nil {
			t.Errorf("ParseSince(%q) accepted", bad)
		}
	}
	for _, good := range append([]string{""}, api.MetricRanges...) {
		if _, err := ParseSince(good); err != nil {
			t.Errorf("ParseSince(%q) = %v", good, err)
		}
	}
}
