package pairs_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"larder/api"
	"larder/broker"
	"larder/broker/attach"
	"larder/broker/brokertest"
	"larder/broker/changes"
	"larder/broker/httpapi"
	"larder/engine"
	"larder/fault"
	"larder/ha"
	"larder/ha/coord"
	"larder/internal/testkit"
	"larder/provisioner"
	"larder/store"
)

// testBroker is a broker over a real SQLite file and a real local host whose
// nodes are engine processes (brokertest's, as the adapters' tests use),
// driven through its core methods (package httpapi's tests and the
// integration tests go through HTTP).
type testBroker struct {
	*broker.Broker
}

func newTestBroker(t *testing.T) *testBroker {
	t.Helper()
	return &testBroker{Broker: brokertest.New(t, testkit.Pairs, nil)}
}

// haAddon creates a premium-0 add-on (a primary and an in-sync standby, here
// on the one local host) and returns it as the store has it.
func (tb *testBroker) haAddon(t *testing.T, app string) store.Addon {
	t.Helper()
	ctx := context.Background()
	if _, err := tb.Apps.CreateApp(ctx, api.AppCreate{Name: app}); err != nil {
		t.Fatal(err)
	}
	res, err := tb.Addons.CreateAddon(ctx, app, api.AddonCreate{Plan: "larder-redis:premium-0"})
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 30*time.Second, func() error {
		op, err := tb.Store().OperationByID(ctx, res.Operation.ID)
		if j := changes.OperationJSON(op); err == nil && !j.Done() {
			return fmt.Errorf("provision of %s is %s", res.Addon.Name, op.State)
		}
		return err
	})
	if op, err := tb.Store().OperationByID(ctx, res.Operation.ID); err != nil || op.State != api.OpSucceeded {
		t.Fatalf("provision of %s: %+v, %v; want succeeded", res.Addon.Name, op, err)
	}
	a, err := tb.Store().AddonByID(ctx, res.Addon.ID)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// bothPrimaries reports whether x and y answered as primary at one moment:
// x, then y, then x again all answer master. In a race each node's role
// changes one way only, so x master at both ends means it was master while
// y answered.
func bothPrimaries(ctx context.Context, a store.Addon, x, y store.Node) bool {
	return masters(ctx, a, []store.Node{x}) == 1 && masters(ctx, a, []store.Node{y}) == 1 && masters(ctx, a, []store.Node{x}) == 1
}

// masters counts the nodes among nodes that answer ROLE as master.
func masters(ctx context.Context, a store.Addon, nodes []store.Node) int {
	n := 0
	for _, nd := range nodes {
		if r, err := engine.Replication(ctx, attach.Target(a, nd)); err == nil && r.Role == "master" {
			n++
		}
	}
	return n
}

// promotion is one coordinator's attempt to change a's roles, decided on a
// (its epoch and its nodes, read before the attempt starts).
type promotion struct {
	name string
	run  func(ctx context.Context, b *broker.Broker, a store.Addon, primary, standby store.Node) error
}

var (
	switchover = promotion{"switchover", func(ctx context.Context, b *broker.Broker, a store.Addon, primary, standby store.Node) error {
		return b.Pairs.RunSwitchover(ctx, a, primary, standby)
	}}
	failover = promotion{"failover", func(ctx context.Context, b *broker.Broker, a store.Addon, primary, _ store.Node) error {
		return b.Pairs.Coord().Failover(ctx, a.ID, primary.ID, a.Epoch, ha.Verdict{DownSince: time.Now()}, time.Now(), func(string) {})
	}}
	// commit records a swap without the add-on's lock, as a second broker
	// process would: only the store's compare-and-set stands between them.
	commit = promotion{"switchover", func(ctx context.Context, b *broker.Broker, a store.Addon, primary, standby store.Node) error {
		return b.Pairs.CommitRoleSwap(ctx, a, standby, primary, "switchover", "race")
	}}
)

// TestTwoPromotionsAtOnce: two coordinators in one broker process, having
// read the same epoch, change the same add-on's roles at the same moment.
// Exactly one wins; the other is refused with a Conflict and says so in a
// superseded event; the epoch moves once; at no moment do two nodes answer
// as primary, and at the end exactly one does.
func TestTwoPromotionsAtOnce(t *testing.T) {
	tb := newTestBroker(t)
	for i, tt := range []struct {
		name string
		race [2]promotion
	}{
		{"two switchovers", [2]promotion{switchover, switchover}},
		{"two failovers", [2]promotion{failover, failover}},
		{"a failover and a switchover", [2]promotion{failover, switchover}},
		{"two commits without the lock", [2]promotion{commit, commit}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			a := tb.haAddon(t, fmt.Sprintf("race%d", i))
			nodes, err := tb.Store().NodesOfAddon(ctx, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			primary, standby, ok := coord.Pair(nodes)
			if !ok {
				t.Fatalf("no pair: %+v", nodes)
			}

			// Watch the two nodes' roles for the whole race.
			stop := make(chan struct{})
			var twoPrimaries atomic.Int32
			watched := make(chan struct{})
			go func() {
				defer close(watched)
				for {
					select {
					case <-stop:
						return
					default:
					}
					if bothPrimaries(ctx, a, primary, standby) {
						twoPrimaries.Add(1)
					}
				}
			}()

			// As startFailover does: the reconciler leaves the add-on's nodes
			// alone while a failover runs (it would re-adopt the primary the
			// failover stopped).
			done := tb.Pairs.Coord().Hold(a.ID)
			var wg sync.WaitGroup
			errs := make([]error, 2)
			start := make(chan struct{})
			for k, p := range tt.race {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					errs[k] = p.run(ctx, tb.Broker, a, primary, standby)
				}()
			}
			close(start)
			wg.Wait()
			done()
			close(stop)
			<-watched

			won, lost := -1, -1
			for k, err := range errs {
				switch {
				case err == nil && won < 0:
					won = k
				case fault.KindOf(err) == fault.Conflict && lost < 0:
					lost = k
				default:
					t.Errorf("%s %d: %v", tt.race[k].name, k, err)
				}
			}
			if won < 0 || lost < 0 {
				t.Fatalf("results %v: want one promotion done and one refused", errs)
			}
			evs, err := tb.Store().EventsOfAddon(ctx, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[string]int{}
			for _, e := range evs {
				kinds[e.Kind]++
			}
			if kinds[tt.race[won].name] != 1 || kinds[tt.race[lost].name+".superseded"] != 1 {
				t.Errorf("events %v: want one %s and one %s.superseded", kinds, tt.race[won].name, tt.race[lost].name)
			}
			after, err := tb.Store().AddonByID(ctx, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			if after.Epoch != a.Epoch+1 {
				t.Errorf("epoch %d → %d, want exactly one step", a.Epoch, after.Epoch)
			}
			if n := twoPrimaries.Load(); n > 0 {
				t.Errorf("two nodes answered as primary at once (%d samples)", n)
			}
			// The store and the nodes agree: the recorded primary is the one
			// master (the reconciler applies a bare commit).
			waitFor(t, 10*time.Second, func() error {
				nodes, err := tb.Store().NodesOfAddon(ctx, a.ID)
				if err != nil {
					return err
				}
				p, ok := coord.PrimaryNode(nodes)
				if !ok || p.ID != standby.ID {
					return fmt.Errorf("recorded primary %s, want the old standby %s", p.Name, standby.Name)
				}
				if r, err := engine.Replication(ctx, attach.Target(after, p)); err != nil || r.Role != "master" {
					return fmt.Errorf("recorded primary answers %+v, %v", r, err)
				}
				if n := masters(ctx, after, nodes); n != 1 {
					return fmt.Errorf("%d masters among %d nodes", n, len(nodes))
				}
				return nil
			})
		})
	}
}

var waitFor = testkit.WaitFor

// TestWritesPausedIsShown: while a host reports a write pause on an
// add-on's node, redis:info and addons:info say so, with since when and why.
func TestWritesPausedIsShown(t *testing.T) {
	tb := newTestBroker(t)
	tb.Pairs.StopReconciler() // the test plays the host statuses
	ctx := context.Background()
	a := tb.haAddon(t, "web")
	nodes, err := tb.Store().NodesOfAddon(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	p := provisioner.Pause{Owner: provisioner.PauseOwnerLease, Reason: "lease expired", Since: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
	want := "writes paused since 2026-03-04T05:06:07Z: lease expired"
	// The HTTP API keeps listings while the store does not change; a pause
	// changes nothing in the store, and still shows at once.
	srv := httptest.NewServer(httpapi.New(tb.Broker).Handler())
	t.Cleanup(srv.Close)
	c := api.NewClient(srv.URL, brokertest.Token)
	for _, tt := range []struct {
		name  string
		pause *provisioner.Pause
		want  string
	}{
		{"none", nil, ""},
		{"paused", &p, want},
		{"lifted", nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tb.Pairs.NoteHostStatus(provisioner.HostStatus{Name: "local", Nodes: []provisioner.NodeStatus{{ID: nodes[0].ID, Name: nodes[0].Name, Pause: tt.pause}}})
			infos, err := tb.Settings.RedisInfo(ctx, "web", a.Name)
			if err != nil || len(infos) != 1 {
				t.Fatalf("redis:info = %+v, %v", infos, err)
			}
			if infos[0].WritesPaused != tt.want || (tt.want != "" && infos[0].Status != tt.want) || (tt.want == "" && infos[0].Status != "available") {
				t.Errorf("redis:info status %q, writes paused %q; want %q", infos[0].Status, infos[0].WritesPaused, tt.want)
			}
			got, err := tb.Addons.GetAddon(ctx, "web", a.Name)
			if err != nil || got.WritesPaused != tt.want {
				t.Errorf("addons:info writes paused = %q, %v; want %q", got.WritesPaused, err, tt.want)
			}
			for name, list := range map[string]func() ([]api.Addon, error){
				"addons":               func() ([]api.Addon, error) { return tb.Addons.ListAddons(ctx) },
				"addons -a web":        func() ([]api.Addon, error) { return tb.Addons.ListAppAddons(ctx, "web") },
				"GET /addons":          func() ([]api.Addon, error) { return c.Addons(ctx, "") },
				"GET /apps/web/addons": func() ([]api.Addon, error) { return c.Addons(ctx, "web") },
			} {
				all, err := list()
				if err != nil || len(all) != 1 || all[0].WritesPaused != tt.want {
					t.Errorf("%s = %+v, %v; want writes paused %q", name, all, err, tt.want)
				}
			}
		})
	}
}
