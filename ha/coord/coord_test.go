package coord

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"larder/engine"
	"larder/fault"
	"larder/ha"
	"larder/provisioner"
	"larder/store"
	"larder/store/sqlite"
	"larder/store/storetest"
)

// The coordinator's tests run in virtual time: a Fake clock the test
// advances, a real SQLite store, and hosts and node actions that record
// each call instead of reaching a machine.

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

const (
	window = 2 * time.Second
	fresh  = 3 * time.Second
	lease  = 10 * time.Second
)

// env is a coordinator over an HA add-on whose nodes live on host "local",
// which does not answer (the broker's own host is another), watched from two
// observer locations.
type env struct {
	t       *testing.T
	clock   *Fake
	st      *sqlite.DB
	tracker *ha.Tracker
	c       *Coordinator
	a       store.Addon
	primary store.Node
	standby store.Node

	mu     sync.Mutex
	calls  []string
	up     map[string]bool // hosts answering
	jobErr chan error      // the failover job's result
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "larder.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, clock: NewFake(t0), st: st, tracker: ha.NewTracker(fresh),
		up: map[string]bool{}, jobErr: make(chan error, 1)}
	e.a, e.primary, e.standby = storetest.AddonWithPair(t, st)
	log := logrus.New()
	log.SetOutput(io.Discard)
	e.c = New(Config{Clock: e.clock, Tracker: e.tracker, Rules: ha.Rules{Window: window, Fresh: fresh, MinQuorum: 2},
		Lease: lease, LocalHost: "broker", StatusTimeout: time.Second, ProbeTimeout: time.Second, Interval: time.Second,
		StandbyGrace: time.Second, Store: e, Hosts: e, Actions: e, Log: log})
	return e
}

func (e *env) record(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, fmt.Sprintf(format, args...))
}

func (e *env) called() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

// Store: the real one; events are noted in the call log too.

func (e *env) AddonByID(ctx context.Context, id string) (store.Addon, error) {
	return e.st.AddonByID(ctx, id)
}
func (e *env) AddonEpoch(ctx context.Context, id string) (int64, error) {
	return e.st.AddonEpoch(ctx, id)
}
func (e *env) NodesOfAddon(ctx context.Context, id string) ([]store.Node, error) {
	return e.st.NodesOfAddon(ctx, id)
}
func (e *env) InTx(ctx context.Context, fn func(tx store.Tx) error) error { return e.st.InTx(ctx, fn) }
func (e *env) AddEvent(ctx context.Context, addonID, addonName, kind, msg string) error {
	e.record("event %s", kind)
	return e.st.AddEvent(ctx, addonID, addonName, kind, msg)
}

// Hosts.

func (e *env) Up(host string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.up[host]
}
func (e *env) LastContact(string) (time.Time, bool) { return t0, true }
func (e *env) Status(_ context.Context, host string) (provisioner.HostStatus, error) {
	e.record("status %s", host)
	return provisioner.HostStatus{Name: host}, nil
}
func (e *env) Stop(_ context.Context, n store.Node) error {
	e.record("stop %s", n.Name)
	return fault.E(fault.Unavailable, "host %s does not answer", n.Host)
}

// Actions.

func (e *env) Replication(_ context.Context, _ store.Addon, n store.Node) (engine.ReplInfo, error) {
	return engine.ReplInfo{Role: "slave"}, nil
}
func (e *env) Lock(id string) func() {
	e.record("lock")
	return func() { e.record("unlock") }
}
func (e *env) ApplyRoles(_ context.Context, _ store.Addon, ids ...string) error {
	for _, id := range ids {
		e.record("apply %s", e.nameOf(id))
	}
	return nil
}
func (e *env) AfterFailover(_ context.Context, _ store.Addon, old store.Node, _ func(string)) error {
	e.record("after %s", old.Name)
	return nil
}
func (e *env) StartFailover(ctx context.Context, a store.Addon, detect string, job func(context.Context, func(string)) error) error {
	e.record("start failover")
	if err := e.st.AddEvent(ctx, a.ID, a.Name, "failover.detect", detect); err != nil {
		return err
	}
	go func() { e.jobErr <- job(context.Background(), func(string) {}) }()
	return nil
}
func (e *env) CrashPoint(name string) { e.record("point %s", name) }

func (e *env) nameOf(id string) string {
	for _, n := range []store.Node{e.primary, e.standby} {
		if n.ID == id {
			return n.Name
		}
	}
	return id
}

// observe has both locations report the primary up or down now.
func (e *env) observe(up bool) {
	for _, loc := range []string{"east", "west"} {
		e.tracker.Record(ha.Report{Location: loc, Observer: loc + "-1",
			Nodes: []ha.NodeObservation{{NodeID: e.primary.ID, Up: up}}}, e.clock.Now())
	}
}

// pass advances the clock by d, the observers reporting the primary up or
// down every half second as they do every probe round.
func (e *env) pass(d time.Duration, up bool) {
	for d > 0 {
		step := min(d, 500*time.Millisecond)
		e.clock.Advance(step)
		e.observe(up)
		d -= step
	}
}

// lostPrimary has the observers see the primary down for the window.
func (e *env) lostPrimary() {
	e.observe(false)
	e.pass(window+window/4, false)
}

// leaseEnd is when the lease of the primary's host (last contact t0) runs out.
var leaseEnd = t0.Add(lease + lease/2)

// waitOutLease lets the lease of the primary's host run out, the observers
// reporting the primary up or down until a second before its end (the
// coordinator takes its decision again on that evidence).
func (e *env) waitOutLease(up bool) {
	e.pass(leaseEnd.Add(-time.Second).Sub(e.clock.Now()), up)
	if n, _ := e.clock.Waiting(); n != 1 {
		e.t.Fatalf("%d timers a second before the lease ends, want 1", n)
	}
	e.clock.Advance(time.Second)
}

// waitTimers waits until n timers wait on the clock: the coordinator is
// blocked on it.
func (e *env) waitTimers(n int) {
	e.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		got, changed := e.clock.Waiting()
		if got >= n {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			e.t.Fatalf("%d timers wait on the clock after 10s, want %d; calls %v", got, n, e.called())
		}
	}
}

func (e *env) waitJob() error {
	e.t.Helper()
	select {
	case err := <-e.jobErr:
		return err
	case <-time.After(10 * time.Second):
		e.t.Fatalf("the failover job did not end; calls %v", e.called())
		return nil
	}
}

func (e *env) events() []string {
	e.t.Helper()
	evs, err := e.st.EventsOfAddon(context.Background(), e.a.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Kind)
	}
	return out
}

func (e *env) check() {
	e.t.Helper()
	nodes, err := e.st.NodesOfAddon(context.Background(), e.a.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	e.c.CheckPrimary(context.Background(), e.a, nodes, nil)
}

func sameCalls(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// TestFailoverAfterWindowAndLease: a primary a quorum sees down for the
// window, on a host that does not answer, is failed over once the host's
// lease has run out (virtual time: the 15 s wait passes at once), with the
// decision taken again just before the promotion.
func TestFailoverAfterWindowAndLease(t *testing.T) {
	e := newEnv(t)
	e.observe(false)
	e.pass(window/2, false)
	e.check()
	sameCalls(t, "calls within the window", e.called(), nil)

	e.pass(window, false)
	e.check()
	e.waitTimers(1) // fencing: the lease of h1 runs 1.5 × 10 s from its last contact
	if !e.c.Failing(e.a.ID) {
		t.Errorf("no failover marked running during the lease wait")
	}
	e.check() // a second look starts no second failover
	sameCalls(t, "calls before the lease ran out", e.called(), []string{"start failover", "lock"})

	e.waitOutLease(false)
	if err := e.waitJob(); err != nil {
		t.Fatalf("failover: %v", err)
	}
	sameCalls(t, "calls", e.called(), []string{"start failover", "lock", "point failover.fenced",
		"point failover.committed", "apply " + e.standby.Name, "point failover.promoted", "after " + e.primary.Name, "unlock"})
	sameCalls(t, "events", e.events(), []string{"failover.detect", "failover"})
	if e.c.Failing(e.a.ID) {
		t.Errorf("failover still marked running after it ended")
	}
	after, err := e.st.AddonByID(context.Background(), e.a.ID)
	if err != nil || after.Epoch != e.a.Epoch+1 {
		t.Errorf("epoch %d → %d (%v), want one step", e.a.Epoch, after.Epoch, err)
	}
	nodes, _ := e.st.NodesOfAddon(context.Background(), e.a.ID)
	if p, ok := PrimaryNode(nodes); !ok || p.ID != e.standby.ID || len(nodes) != 1 {
		t.Errorf("nodes after the failover %+v, want the old standby alone as primary", nodes)
	}
	evs, _ := e.st.EventsOfAddon(context.Background(), e.a.ID)
	if want := "detected after 3000 ms, writable after 15000 ms"; len(evs) < 2 || !strings.Contains(evs[1].Message, want) {
		t.Errorf("failover event %+v, want it to say %q", evs, want)
	}
	if v := e.tracker.Verdict(e.primary.ID, e.clock.Now(), e.c.Rules()); v.Down {
		t.Errorf("the lost primary is still tracked down after the failover")
	}
}

// TestFailoverRolledBackWhenPrimaryReturns: the observers reach the primary
// again during the lease wait: nothing is promoted.
func TestFailoverRolledBackWhenPrimaryReturns(t *testing.T) {
	e := newEnv(t)
	e.lostPrimary()
	e.check()
	e.waitTimers(1)
	e.waitOutLease(true)
	err := e.waitJob()
	if fault.KindOf(err) != fault.Conflict || !strings.Contains(err.Error(), "a quorum of locations reach it again") {
		t.Fatalf("failover = %v, want a Conflict saying the primary is reached again", err)
	}
	sameCalls(t, "calls", e.called(), []string{"start failover", "lock", "point failover.fenced", "event failover.rolled_back", "unlock"})
	sameCalls(t, "events", e.events(), []string{"failover.detect", "failover.rolled_back"})
	after, _ := e.st.AddonByID(context.Background(), e.a.ID)
	nodes, _ := e.st.NodesOfAddon(context.Background(), e.a.ID)
	if p, s, ok := Pair(nodes); after.Epoch != e.a.Epoch || !ok || p.ID != e.primary.ID || s.ID != e.standby.ID {
		t.Errorf("epoch %d, nodes %+v after a rollback; want them as they were", after.Epoch, nodes)
	}
}

// TestFailoverSuperseded: a failover decided under an epoch another
// coordinator has moved since touches nothing, says so, and ends in a
// Conflict — whether the epoch moved before it started or while it waited
// out the lease.
func TestFailoverSuperseded(t *testing.T) {
	for _, tt := range []struct {
		name string
		run  func(e *env, bump func()) error
		want []string
	}{
		{"before it starts", func(e *env, bump func()) error {
			bump()
			return e.c.Failover(context.Background(), e.a.ID, e.primary.ID, e.a.Epoch, ha.Verdict{}, e.clock.Now(), func(string) {})
		}, []string{"event failover.superseded"}},
		{"during the lease wait", func(e *env, bump func()) error {
			e.lostPrimary()
			e.check()
			e.waitTimers(1)
			bump()
			e.waitOutLease(false)
			return e.waitJob()
		}, []string{"start failover", "lock", "point failover.fenced", "event failover.superseded", "unlock"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			bump := func() {
				if _, err := e.st.AdvanceEpoch(ctx, e.a.ID, e.a.Epoch); err != nil {
					t.Fatal(err)
				}
			}
			err := tt.run(e, bump)
			if fault.KindOf(err) != fault.Conflict || !strings.Contains(err.Error(), fmt.Sprintf("decided under epoch %d", e.a.Epoch)) {
				t.Fatalf("failover = %v, want a superseded Conflict", err)
			}
			sameCalls(t, "calls", e.called(), tt.want)
			nodes, _ := e.st.NodesOfAddon(ctx, e.a.ID)
			if p, s, ok := Pair(nodes); !ok || p.ID != e.primary.ID || s.ID != e.standby.ID {
				t.Errorf("nodes %+v after a superseded failover; want them as they were", nodes)
			}
		})
	}
}

// TestHeldWhileHostHasIt: a primary the observers see down is not failed
// over while its host answers and supervises it, nor while a quorum of
// observers still reaches its host's agent.
func TestHeldWhileHostHasIt(t *testing.T) {
	yes := true
	for _, tt := range []struct {
		name     string
		statuses map[string]provisioner.HostStatus
		agentUp  *bool
	}{
		{"its host restarts it", map[string]provisioner.HostStatus{"local": {Name: "local", Nodes: []provisioner.NodeStatus{{ID: "", State: "restarting"}}}}, nil},
		{"the observers reach its agent", nil, &yes},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			for _, st := range tt.statuses {
				for i := range st.Nodes {
					st.Nodes[i].ID = e.primary.ID
				}
			}
			for i := range 6 {
				if i > 0 {
					e.clock.Advance(window / 4)
				}
				for _, loc := range []string{"east", "west"} {
					e.tracker.Record(ha.Report{Location: loc, Observer: loc + "-1",
						Nodes: []ha.NodeObservation{{NodeID: e.primary.ID, Up: false, AgentUp: tt.agentUp}}}, e.clock.Now())
				}
			}
			if v := e.tracker.Verdict(e.primary.ID, e.clock.Now(), e.c.Rules()); !v.Down {
				t.Fatalf("verdict %+v, want the primary down", v)
			}
			nodes, _ := e.st.NodesOfAddon(context.Background(), e.a.ID)
			e.c.CheckPrimary(context.Background(), e.a, nodes, tt.statuses)
			sameCalls(t, "calls", e.called(), nil)
			if e.c.Failing(e.a.ID) {
				t.Errorf("a failover runs")
			}
		})
	}
}

// TestRebuildBackoff: each failed standby rebuild in a row doubles the wait
// before the next, from StandbyGrace up to MaxRebuildBackoff; a success
// resets it.
func TestRebuildBackoff(t *testing.T) {
	e := newEnv(t)
	c := e.c
	if !c.RebuildDue("a") {
		t.Fatal("first rebuild not due")
	}
	fail := fmt.Errorf("no host")
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		c.RebuildStarted("a")
		if !c.Rebuilding("a") {
			t.Errorf("rebuild %d not marked running", i+1)
		}
		c.RebuildFinished("a", fail)
		if c.Rebuilding("a") {
			t.Errorf("rebuild %d still marked running after it failed", i+1)
		}
		if at := c.rebuildAt["a"]; !at.Equal(e.clock.Now().Add(want)) {
			t.Errorf("next rebuild after failure %d at %v from now, want %v", i+1, at.Sub(e.clock.Now()), want)
		}
		e.clock.Advance(want - time.Millisecond)
		if c.RebuildDue("a") {
			t.Errorf("rebuild due %v after failure %d, want it after %v", want-time.Millisecond, i+1, want)
		}
		e.clock.Advance(time.Millisecond)
		if !c.RebuildDue("a") {
			t.Errorf("rebuild not due %v after failure %d", want, i+1)
		}
	}
	for range 20 {
		c.RebuildFinished("a", fail)
	}
	if got := c.rebuildAt["a"].Sub(e.clock.Now()); got != MaxRebuildBackoff {
		t.Errorf("wait after many failures = %v, want %v", got, MaxRebuildBackoff)
	}
	c.RebuildFinished("a", nil)
	if !c.RebuildDue("a") || c.rebuildFails["a"] != 0 {
		t.Errorf("a success does not reset the backoff")
	}
	c.RebuildFinished("a", fail)
	if got := c.rebuildAt["a"].Sub(e.clock.Now()); got != time.Second {
		t.Errorf("wait after a failure following a success = %v, want %v", got, time.Second)
	}
}
