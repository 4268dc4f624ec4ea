package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"larder/fault"
	"larder/store"
)

func testNodesPortIsClaimedOnce(t *testing.T, s store.Store) {
	ctx := context.Background()
	app, _ := s.CreateApp(ctx, "web")
	a := seedAddon(t, s, app, "redis-a")
	n1 := store.Node{AddonID: a.ID, Name: "n1", Role: store.RolePrimary, Host: "local", Port: 21000, State: store.NodeStarting}
	if err := s.CreateNode(ctx, &n1); err != nil {
		t.Fatal(err)
	}
	n2 := store.Node{AddonID: a.ID, Name: "n2", Role: store.RoleStandby, Host: "local", Port: 21000, State: store.NodeStarting}
	if got, want := fault.KindOf(s.CreateNode(ctx, &n2)), fault.Conflict; got != want {
		t.Fatalf("second claim of a port: kind %v, want %v", got, want)
	}
	n2.Host = "other"
	if err := s.CreateNode(ctx, &n2); err != nil {
		t.Fatalf("same port on another host: %v", err)
	}
	ports, err := s.UsedPorts(ctx, "local", "")
	if err != nil || len(ports) != 1 || ports[0] != 21000 {
		t.Fatalf("UsedPorts = %v, %v; want [21000]", ports, err)
	}
}

func testNodesClaimAndMoveSkipTakenPorts(t *testing.T, s store.Store) {
	ctx := context.Background()
	app, _ := s.CreateApp(ctx, "web")
	a := seedAddon(t, s, app, "redis-a")
	err := s.InTx(ctx, func(tx store.Tx) error {
		for i, want := range []bool{true, false} {
			n := store.Node{AddonID: a.ID, Name: fmt.Sprintf("n%d", i), Role: store.RolePrimary, Host: "local", Port: 21000, State: store.NodeStarting}
			got, err := tx.ClaimNode(ctx, &n)
			if err != nil || got != want {
				return fmt.Errorf("claim %d of port 21000 = %v, %v; want %v", i+1, got, err, want)
			}
		}
		// The transaction is still usable after a claim that lost.
		n := store.Node{AddonID: a.ID, Name: "n1", Role: store.RoleStandby, Host: "local", Port: 21001, State: store.NodeStarting}
		if ok, err := tx.ClaimNode(ctx, &n); !ok || err != nil {
			return fmt.Errorf("claim of port 21001 = %v, %v; want true", ok, err)
		}
		if ok, err := tx.MoveNodePort(ctx, n.ID, 21000); ok || err != nil {
			return fmt.Errorf("move to a taken port = %v, %v; want false", ok, err)
		}
		if ok, err := tx.MoveNodePort(ctx, n.ID, 21002); !ok || err != nil {
			return fmt.Errorf("move to a free port = %v, %v; want true", ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ports, err := s.UsedPorts(ctx, "local", "")
	if err != nil || fmt.Sprint(ports) != "[21000 21002]" {
		t.Fatalf("UsedPorts = %v, %v; want [21000 21002]", ports, err)
	}
}

func testNodeAt(t *testing.T, s store.Store) {
	ctx := context.Background()
	app, _ := s.CreateApp(ctx, "web")
	a := seedAddon(t, s, app, "redis-a")
	if err := s.CreateNode(ctx, &store.Node{AddonID: a.ID, Name: "n1", Role: store.RolePrimary, Host: "local", Address: "127.0.0.1", Port: 21000, State: store.NodeRunning}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.NodeAt(ctx, "127.0.0.1", 21000); err != nil || n.AddonID != a.ID {
		t.Errorf("NodeAt = %+v, %v", n, err)
	}
	if _, err := s.NodeAt(ctx, "127.0.0.1", 21001); fault.KindOf(err) != fault.NotFound {
		t.Errorf("NodeAt of a free port: %v, want NotFound", err)
	}
}

func testNodesCRUD(t *testing.T, s store.Store) {
	ctx := context.Background()
	app, _ := s.CreateApp(ctx, "web")
	a := seedAddon(t, s, app, "redis-a")
	standby := store.Node{AddonID: a.ID, Name: "n-standby", Role: store.RoleStandby, Host: "h2", Port: 21001, State: store.NodeStarting}
	primary := store.Node{AddonID: a.ID, Name: "n-primary", Role: store.RolePrimary, Host: "h1", Port: 21000, State: store.NodeStarting}
	for _, n := range []*store.Node{&standby, &primary} {
		if err := s.CreateNode(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.UpdateNodeRuntime(ctx, primary.ID, "127.0.0.1", "/data/p", 99, store.NodeRunning); err != nil {
		t.Fatal(err)
	}
	if err := s.SetNodeState(ctx, standby.ID, store.NodeSyncing, 0); err != nil {
		t.Fatal(err)
	}
	nodes, err := s.NodesOfAddon(ctx, a.ID)
	if err != nil || len(nodes) != 2 || nodes[0].ID != primary.ID {
		t.Fatalf("NodesOfAddon = %+v, %v; want the primary first", nodes, err)
	}
	if p := nodes[0]; p.Address != "127.0.0.1" || p.Dir != "/data/p" || p.PID != 99 || p.State != store.NodeRunning {
		t.Errorf("primary after UpdateNodeRuntime = %+v", p)
	}
	if err := s.SetNodeState(ctx, primary.ID, store.NodeFailed, 0); err != nil {
		t.Fatal(err)
	}
	if n, err := s.NodeByName(ctx, "n-primary"); err != nil || n.State != store.NodeFailed || n.PID != 99 {
		t.Errorf("NodeByName after SetNodeState(failed, 0) = %+v, %v; want failed with pid 99 kept", n, err)
	}
	if on, err := s.NodesOnHost(ctx, "h2"); err != nil || len(on) != 1 || on[0].ID != standby.ID {
		t.Errorf("NodesOnHost(h2) = %+v, %v; want the standby", on, err)
	}
	if counts, err := s.NodeCounts(ctx); err != nil || counts["h1"] != 1 || counts["h2"] != 1 || len(counts) != 2 {
		t.Errorf("NodeCounts = %v, %v; want h1:1 h2:1", counts, err)
	}
	if err := s.DeleteNode(ctx, standby.ID); err != nil {
		t.Fatal(err)
	}
	all, err := s.AllNodes(ctx)
	if err != nil || len(all) != 1 || all[0].ID != primary.ID {
		t.Fatalf("AllNodes after a delete = %+v, %v; want only the primary", all, err)
	}
	for name, err := range map[string]error{
		"NodeByID":          func() error { _, err := s.NodeByID(ctx, standby.ID); return err }(),
		"NodeByName":        func() error { _, err := s.NodeByName(ctx, "nope"); return err }(),
		"DeleteNode":        s.DeleteNode(ctx, standby.ID),
		"SetNodeState":      s.SetNodeState(ctx, standby.ID, store.NodeRunning, 0),
		"UpdateNodeRuntime": s.UpdateNodeRuntime(ctx, standby.ID, "", "", 0, store.NodeRunning),
	} {
		if got := fault.KindOf(err); got != fault.NotFound {
			t.Errorf("%s of a deleted node: %v, want NotFound", name, err)
		}
	}
}

// testNodesConcurrentPortClaims: many writers, each in its own transaction,
// claim ports on one host by trying them from the bottom of the range, as
// the broker does when its view of the used ports is stale. A lost claim
// is no error and leaves the transaction usable; no port is given twice.
func testNodesConcurrentPortClaims(t *testing.T, s store.Store) {
	ctx := context.Background()
	app, _ := s.CreateApp(ctx, "web")
	a := seedAddon(t, s, app, "redis-a")
	const writers, perWriter, base = 16, 3, 21000
	var wg sync.WaitGroup
	errs := make([]error, writers)
	got := make([][]int, writers)
	start := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[w] = s.InTx(ctx, func(tx store.Tx) error {
				got[w] = nil
				for i := range perWriter {
					n := store.Node{AddonID: a.ID, Name: fmt.Sprintf("n-%d-%d", w, i), Role: store.RoleStandby, Host: "local", State: store.NodeStarting}
					if err := claimLowest(ctx, tx, &n, base, base+writers*perWriter); err != nil {
						return err
					}
					got[w] = append(got[w], n.Port)
				}
				return nil
			})
		}()
	}
	close(start)
	wg.Wait()
	seen := map[int]int{}
	for w, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", w, err)
		}
		for _, p := range got[w] {
			if other, dup := seen[p]; dup {
				t.Fatalf("port %d given to writers %d and %d", p, other, w)
			}
			seen[p] = w
		}
	}
	used, err := s.UsedPorts(ctx, "local", "")
	if err != nil || len(used) != writers*perWriter || used[0] != base || used[len(used)-1] != base+writers*perWriter-1 {
		t.Fatalf("UsedPorts = %v, %v; want %d ports from %d, no gap", used, err, writers*perWriter, base)
	}
}

// claimLowest claims the lowest port in [lo, hi) free on n's host for n in
// q, trying each in turn.
func claimLowest(ctx context.Context, q store.Q, n *store.Node, lo, hi int) error {
	for p := lo; p < hi; p++ {
		n.Port = p
		ok, err := q.ClaimNode(ctx, n)
		if err != nil || ok {
			return err
		}
	}
	return fmt.Errorf("no free port in %d-%d", lo, hi-1)
}
