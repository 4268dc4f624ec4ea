package storetest

import (
	"context"
	"sync"
	"testing"

	"larder/fault"
	"larder/store"
)

// AddonWithPair records an app "web", a provisioned HA add-on and its
// primary and standby rows (both on host "local"), for tests of code over a
// store.
func AddonWithPair(t *testing.T, s store.Store) (store.Addon, store.Node, store.Node) {
	t.Helper()
	ctx := context.Background()
	app, err := s.CreateApp(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	a := store.Addon{Name: "redis-race-1", Service: "larder-redis", Plan: "premium-0", AppID: app.ID, State: "provisioned",
		MaxMemoryPolicy: "noeviction", AdminPassword: "a", CustomerUser: "default", CustomerPassword: "c"}
	if err := s.CreateAddon(ctx, &a); err != nil {
		t.Fatal(err)
	}
	var nodes [2]store.Node
	for i, role := range []string{store.RolePrimary, store.RoleStandby} {
		nodes[i] = store.Node{AddonID: a.ID, Name: a.Name + "-" + role, Role: role, Host: "local", Address: "127.0.0.1", Port: 21000 + i,
			State: store.NodeRunning, Epoch: a.Epoch}
		if err := s.CreateNode(ctx, &nodes[i]); err != nil {
			t.Fatal(err)
		}
	}
	return a, nodes[0], nodes[1]
}

// TestAdvanceEpochIsCompareAndSet: two writers that read the same epoch race
// to record a promotion; exactly one moves the epoch, the other is told it
// lost (Conflict) and its role writes never land.
func testAdvanceEpochIsCompareAndSet(t *testing.T, s store.Store) {
	ctx := context.Background()
	a, primary, standby := AddonWithPair(t, s)

	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	start := make(chan struct{})
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = s.InTx(ctx, func(tx store.Tx) error {
				epoch, err := tx.AdvanceEpoch(ctx, a.ID, a.Epoch)
				if err != nil {
					return err
				}
				if err := tx.SetNodeRole(ctx, standby.ID, store.RolePrimary, epoch); err != nil {
					return err
				}
				return tx.SetNodeRole(ctx, primary.ID, store.RoleStandby, epoch)
			})
		}()
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case fault.KindOf(err) != fault.Conflict:
			t.Errorf("writer %d: %v, want a Conflict", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d writers recorded the promotion, want exactly 1", won)
	}
	got, err := s.AddonByID(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Epoch != a.Epoch+1 {
		t.Errorf("epoch = %d, want %d", got.Epoch, a.Epoch+1)
	}
	nodes, err := s.NodesOfAddon(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 || nodes[0].ID != standby.ID || nodes[0].Role != store.RolePrimary || nodes[1].Role != store.RoleStandby {
		t.Errorf("nodes after the race = %+v; want the old standby primary and the old primary standby", nodes)
	}

	// A stale writer, or an unknown add-on.
	if _, err := s.AdvanceEpoch(ctx, a.ID, a.Epoch); fault.KindOf(err) != fault.Conflict {
		t.Errorf("AdvanceEpoch from a stale epoch: %v, want Conflict", err)
	}
	if _, err := s.AdvanceEpoch(ctx, "nope", 1); fault.KindOf(err) != fault.NotFound {
		t.Errorf("AdvanceEpoch of an unknown add-on: %v, want NotFound", err)
	}
}

// TestSetNodeRoleNeedsANewerEpoch: a node's role is only written under an
// epoch newer than the one it was last written under.
func testSetNodeRoleNeedsANewerEpoch(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, primary, _ := AddonWithPair(t, s)
	for _, tt := range []struct {
		name  string
		epoch int64
		want  fault.Kind
	}{
		{"same epoch", primary.Epoch, fault.Conflict},
		{"older epoch", primary.Epoch - 1, fault.Conflict},
		{"newer epoch", primary.Epoch + 1, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := s.SetNodeRole(ctx, primary.ID, store.RoleStandby, tt.epoch)
			if got := fault.KindOf(err); err != nil && got != tt.want || err == nil && tt.want != "" {
				t.Errorf("SetNodeRole(epoch %d) = %v, want kind %q", tt.epoch, err, tt.want)
			}
		})
	}
	if err := s.SetNodeRole(ctx, "nope", store.RoleStandby, 99); fault.KindOf(err) != fault.NotFound {
		t.Errorf("SetNodeRole of an unknown node: %v, want NotFound", err)
	}
}
