package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"larder/fault"
	"larder/store"
)

// testEdgePortsClaimedOnce: an edge port belongs to one add-on; a taken port
// is no error and leaves the transaction usable; an add-on has one port per
// kind; its host is written once.
func testEdgePortsClaimedOnce(t *testing.T, s store.Store) {
	ctx := context.Background()
	app, _ := s.CreateApp(ctx, "web")
	a := seedAddon(t, s, app, "redis-a")
	b := seedAddon(t, s, app, "redis-b")
	if _, err := s.EdgeOf(ctx, a.ID); fault.KindOf(err) != fault.NotFound {
		t.Fatalf("EdgeOf before any edge: %v, want NotFound", err)
	}
	if _, err := s.ClaimEdgePort(ctx, a.ID, store.EdgePlain, 13000); fault.KindOf(err) != fault.NotFound {
		t.Fatalf("a port for an add-on without an edge: %v, want NotFound", err)
	}
	if err := s.EnsureEdge(ctx, "no-such-addon", "127.0.0.1"); fault.KindOf(err) != fault.NotFound {
		t.Fatalf("EnsureEdge of an unknown add-on: %v, want NotFound", err)
	}
	err := s.InTx(ctx, func(tx store.Tx) error {
		for _, id := range []string{a.ID, b.ID} {
			if err := tx.EnsureEdge(ctx, id, "127.0.0.1"); err != nil {
				return err
			}
		}
		if err := tx.EnsureEdge(ctx, a.ID, "other.example"); err != nil {
			return fmt.Errorf("EnsureEdge twice: %w", err)
		}
		claims := []struct {
			addon, kind string
			port        int
			want        bool
		}{
			{a.ID, store.EdgePlain, 13000, true},
			{b.ID, store.EdgePlain, 13000, false}, // taken: no error, the tx goes on
			{b.ID, store.EdgeTLS, 13000, false},
			{b.ID, store.EdgePlain, 13001, true},
			{a.ID, store.EdgeTLS, 13002, true},
			{b.ID, store.EdgeTLS, 13003, true},
		}
		for _, c := range claims {
			got, err := tx.ClaimEdgePort(ctx, c.addon, c.kind, c.port)
			if err != nil || got != c.want {
				return fmt.Errorf("claim %s port %d = %v, %v; want %v", c.kind, c.port, got, err, c.want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimEdgePort(ctx, a.ID, store.EdgePlain, 13009); fault.KindOf(err) != fault.Conflict {
		t.Errorf("a second plain port: %v, want Conflict", err)
	}
	if _, err := s.ClaimEdgePort(ctx, a.ID, "udp", 13009); fault.KindOf(err) != fault.Invalid {
		t.Errorf("an unknown kind: %v, want Invalid", err)
	}
	got, err := s.EdgeOf(ctx, a.ID)
	want := store.Edge{AddonID: a.ID, Host: "127.0.0.1", Port: 13000, TLSPort: 13002}
	if err != nil || !edgeEqual(got, want) || !got.Claimed() {
		t.Fatalf("EdgeOf = %+v, %v; want %+v", got, err, want)
	}
	if used, err := s.UsedEdgePorts(ctx); err != nil || fmt.Sprint(used) != "[13000 13001 13002 13003]" {
		t.Fatalf("UsedEdgePorts = %v, %v", used, err)
	}
	// Destroying an add-on releases its ports.
	if err := s.DeleteAddon(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if used, err := s.UsedEdgePorts(ctx); err != nil || fmt.Sprint(used) != "[13001 13003]" {
		t.Fatalf("UsedEdgePorts after a destroy = %v, %v; want [13001 13003]", used, err)
	}
	if all, err := s.Edges(ctx); err != nil || len(all) != 1 || all[0].AddonID != b.ID {
		t.Fatalf("Edges = %+v, %v; want b's alone", all, err)
	}
}

// testEdgeConcurrentPortClaims: brokers racing for the lowest free edge
// port each end up with their own.
func testEdgeConcurrentPortClaims(t *testing.T, s store.Store) {
	ctx := context.Background()
	app, _ := s.CreateApp(ctx, "web")
	const n = 8
	ids := make([]string, n)
	for i := range ids {
		a := seedAddon(t, s, app, fmt.Sprintf("redis-%d", i))
		ids[i] = a.ID
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.InTx(ctx, func(tx store.Tx) error {
				if err := tx.EnsureEdge(ctx, id, "127.0.0.1"); err != nil {
					return err
				}
				for p := 13000; p < 13000+n; p++ {
					if ok, err := tx.ClaimEdgePort(ctx, id, store.EdgePlain, p); err != nil || ok {
						return err
					}
				}
				return fmt.Errorf("no port left")
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("claim %d: %v", i, err)
		}
	}
	if used, err := s.UsedEdgePorts(ctx); err != nil || len(used) != n {
		t.Fatalf("UsedEdgePorts = %v, %v; want %d distinct ports", used, err, n)
	}
}

// testEdgeAccess: the allowlist and TLS-only setting are kept as given, and
// each change is an add-on change in the feed (the edge follows it).
func testEdgeAccess(t *testing.T, s store.Store) {
	ctx := context.Background()
	app, _ := s.CreateApp(ctx, "web")
	a := seedAddon(t, s, app, "redis-a")
	if err := s.SetEdgeAccess(ctx, a.ID, []string{"10.0.0.0/8"}, false); fault.KindOf(err) != fault.NotFound {
		t.Fatalf("SetEdgeAccess without an edge: %v, want NotFound", err)
	}
	if err := s.EnsureEdge(ctx, a.ID, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	head, _ := s.ChangeHead(ctx)
	allow := []string{"203.0.113.0/24", "10.0.0.0/8"}
	if err := s.SetEdgeAccess(ctx, a.ID, allow, true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetEdgeAccess(ctx, a.ID, []string{"bad\nentry"}, false); fault.KindOf(err) != fault.Invalid {
		t.Errorf("an entry with a newline: %v, want Invalid", err)
	}
	e, err := s.EdgeOf(ctx, a.ID)
	if err != nil || !slices.Equal(e.Allowlist, allow) || !e.TLSOnly {
		t.Fatalf("EdgeOf = %+v, %v; want allowlist %v, TLS only", e, err, allow)
	}
	cs, _, _, err := s.Changes(ctx, head, 10)
	if err != nil || len(cs) != 1 || cs[0].Kind != "addon" || cs[0].AddonID != a.ID {
		t.Fatalf("Changes after an access change = %+v, %v; want one addon change", cs, err)
	}
	if err := s.SetEdgeAccess(ctx, a.ID, nil, false); err != nil {
		t.Fatal(err)
	}
	if e, err := s.EdgeOf(ctx, a.ID); err != nil || len(e.Allowlist) != 0 || e.TLSOnly {
		t.Fatalf("EdgeOf after a reset = %+v, %v; want the default list", e, err)
	}
}

// testChangesOfEveryone: Changes reads every app's and add-on's changes
// in commit order, with the cursor rules of AppChanges.
func testChangesOfEveryone(t *testing.T, s store.Store) {
	ctx := context.Background()
	web, _ := s.CreateApp(ctx, "web")
	other, _ := s.CreateApp(ctx, "other")
	start, _ := s.ChangeHead(ctx)
	seedAddon(t, s, web, "redis-mine")
	seedAddon(t, s, other, "redis-theirs")
	got, next, reset, err := s.Changes(ctx, start, 100)
	if err != nil || reset || len(got) != 2 || got[0].AddonName != "redis-mine" || got[1].AddonName != "redis-theirs" {
		t.Fatalf("Changes = %+v, reset %v, %v; want both add-ons", got, reset, err)
	}
	if head, _ := s.ChangeHead(ctx); next != head {
		t.Errorf("next = %d, want the head %d", next, head)
	}
	if got, next2, _, err := s.Changes(ctx, start, 1); err != nil || len(got) != 1 || next2 != got[0].Seq {
		t.Errorf("Changes limit 1 = %+v, next %d, %v; want one, next at it", got, next2, err)
	}
	if _, _, _, err := s.Changes(ctx, next+1, 10); fault.KindOf(err) != fault.Invalid {
		t.Errorf("a cursor ahead of the head: %v, want Invalid", err)
	}
}

func edgeEqual(a, b store.Edge) bool {
	return a.AddonID == b.AddonID && a.Host == b.Host && a.Port == b.Port && a.TLSPort == b.TLSPort &&
		a.TLSOnly == b.TLSOnly && slices.Equal(a.Allowlist, b.Allowlist)
}
