package storetest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"larder/fault"
	"larder/store"
)

// kinds lists the kinds of changes, in order.
func kinds(cs []store.Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Kind)
	}
	return out
}

func sameKinds(t *testing.T, what string, got []store.Change, want ...string) {
	t.Helper()
	g := kinds(got)
	if len(g) != len(want) {
		t.Fatalf("%s: changes %v, want %v", what, g, want)
	}
	for i := range g {
		if g[i] != want[i] {
			t.Fatalf("%s: changes %v, want %v", what, g, want)
		}
	}
}

// testChangesFollowAnApp: every write an app can see is one change in the
// feed, in commit order, whoever's it is: its config vars, its add-ons and
// theirs that it has attached, their operations and events. Another app's
// changes stay out; the cursor moves past them.
func testChangesFollowAnApp(t *testing.T, s store.Store) {
	ctx := context.Background()
	web, _ := s.CreateApp(ctx, "web")
	other, _ := s.CreateApp(ctx, "other")
	start, err := s.ChangeHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetUserVar(ctx, web.ID, "A", "1"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUserVar(ctx, other.ID, "B", "1"); err != nil {
		t.Fatal(err)
	}
	mine := seedAddon(t, s, web, "redis-mine")
	theirs := seedAddon(t, s, other, "redis-theirs")
	got, next, reset, err := s.AppChanges(ctx, web.ID, start, 100)
	if err != nil || reset {
		t.Fatalf("read: reset %v, err %v", reset, err)
	}
	sameKinds(t, "vars and an own add-on", got, "config", "addon")
	if got[1].AddonName != "redis-mine" || got[0].Subject != "A" || got[0].AppID != web.ID {
		t.Fatalf("changes %+v", got)
	}
	if head, _ := s.ChangeHead(ctx); next != head {
		t.Fatalf("next %d, want the head %d (past the other app's changes)", next, head)
	}
	// Nothing new: the same cursor back, no changes.
	if again, n2, _, err := s.AppChanges(ctx, web.ID, next, 100); err != nil || len(again) != 0 || n2 != next {
		t.Fatalf("re-read: %v, next %d, err %v", kinds(again), n2, err)
	}
	// Attaching another app's add-on makes its later changes this app's.
	if err := s.CreateAttachment(ctx, &store.Attachment{AddonID: theirs.ID, AppID: web.ID, Name: "SHARED"}); err != nil {
		t.Fatal(err)
	}
	op := store.Operation{AddonID: theirs.ID, AddonName: theirs.Name, Kind: "provision", State: "pending"}
	if err := s.CreateOperation(ctx, &op); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateOperation(ctx, op.ID, "running", "starting", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.AddEvent(ctx, theirs.ID, theirs.Name, "addon.create", "created"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAddonState(ctx, mine.ID, "provisioned", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.UnsetUserVar(ctx, web.ID, "A"); err != nil {
		t.Fatal(err)
	}
	got, next2, _, err := s.AppChanges(ctx, web.ID, next, 100)
	if err != nil {
		t.Fatal(err)
	}
	sameKinds(t, "after attaching", got, "attachment", "operation", "operation", "event", "addon", "config")
	if got[1].Subject != op.ID || got[1].AddonName != theirs.Name {
		t.Fatalf("operation change %+v, want subject %s", got[1], op.ID)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq || got[i].At.IsZero() {
			t.Fatalf("changes out of order or without a time: %+v", got)
		}
	}
	// A limit cuts the batch; the cursor is the last one returned.
	part, n3, _, err := s.AppChanges(ctx, web.ID, next, 2)
	if err != nil || len(part) != 2 || n3 != part[1].Seq {
		t.Fatalf("limited: %v, next %d, err %v", kinds(part), n3, err)
	}
	// Detaching is the app's change too; afterwards the add-on's are not.
	atts, _ := s.AttachmentsOfApp(ctx, web.ID)
	for _, a := range atts {
		if a.AddonID == theirs.ID {
			if err := s.DeleteAttachment(ctx, a.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.AddEvent(ctx, theirs.ID, theirs.Name, "addon.info", "not web's"); err != nil {
		t.Fatal(err)
	}
	got, _, _, err = s.AppChanges(ctx, web.ID, next2, 100)
	if err != nil {
		t.Fatal(err)
	}
	sameKinds(t, "after detaching", got, "attachment")
}

// testChangesOnlyWhatCommitted: a rolled-back transaction leaves no change;
// OnCommit runs after a commit, of a transaction or of a write on its own,
// once the change can be read, and not after a rollback.
func testChangesOnlyWhatCommitted(t *testing.T, s store.Store) {
	ctx := context.Background()
	web, _ := s.CreateApp(ctx, "web")
	var calls atomic.Int32
	var sawHead atomic.Int64
	s.OnCommit(func() {
		calls.Add(1)
		h, _ := s.ChangeHead(ctx)
		sawHead.Store(h)
	})
	start, _ := s.ChangeHead(ctx)
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx store.Tx) error {
		if err := tx.SetUserVar(ctx, web.ID, "A", "1"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if calls.Load() != 0 {
		t.Fatalf("OnCommit ran %d times after a rollback", calls.Load())
	}
	if got, _, _, _ := s.AppChanges(ctx, web.ID, start, 100); len(got) != 0 {
		t.Fatalf("a rolled-back write left changes: %v", kinds(got))
	}
	if err := s.InTx(ctx, func(tx store.Tx) error { return tx.SetUserVar(ctx, web.ID, "A", "1") }); err != nil {
		t.Fatal(err)
	}
	head, _ := s.ChangeHead(ctx)
	if calls.Load() != 1 || sawHead.Load() != head || head <= start {
		t.Fatalf("after a commit: %d calls, the hook saw head %d, head %d (from %d)", calls.Load(), sawHead.Load(), head, start)
	}
	if err := s.SetUserVar(ctx, web.ID, "B", "2"); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 {
		t.Fatalf("a write on its own: %d calls, want 2", calls.Load())
	}
	// Setting a var to the value it has changes nothing an app can see.
	h1, _ := s.ChangeHead(ctx)
	if err := s.SetUserVar(ctx, web.ID, "B", "2"); err != nil {
		t.Fatal(err)
	}
	if h2, _ := s.ChangeHead(ctx); h2 != h1 {
		t.Fatalf("an unchanged value made %d changes", h2-h1)
	}
}

// testChangesCursorRules: a cursor ahead of the head is Invalid and a
// negative one too; a cursor below what was pruned says reset; pruning
// keeps what is newer.
func testChangesCursorRules(t *testing.T, s store.Store) {
	ctx := context.Background()
	web, _ := s.CreateApp(ctx, "web")
	for _, v := range []string{"1", "2", "3"} {
		if err := s.SetUserVar(ctx, web.ID, "A", v); err != nil {
			t.Fatal(err)
		}
	}
	head, _ := s.ChangeHead(ctx)
	for _, c := range []int64{-1, head + 1} {
		if _, _, _, err := s.AppChanges(ctx, web.ID, c, 10); fault.KindOf(err) != fault.Invalid {
			t.Errorf("cursor %d: %v, want Invalid", c, err)
		}
	}
	// Prune everything so far, then one more change.
	n, err := s.PruneChanges(ctx, time.Now().Add(time.Minute))
	if err != nil || n < 3 {
		t.Fatalf("pruned %d, err %v", n, err)
	}
	// With every change pruned, the head stays where it was: a follower at
	// the head is not ahead of the feed, and a listing kept for that head
	// is not taken for one that predates later pruned changes.
	if h, err := s.ChangeHead(ctx); err != nil || h != head {
		t.Fatalf("head after pruning every change = %d, %v; want %d", h, err, head)
	}
	if got, next, reset, err := s.AppChanges(ctx, web.ID, head, 10); err != nil || reset || next != head || len(got) != 0 {
		t.Fatalf("cursor at the head with every change pruned: %d changes, next %d, reset %v, err %v", len(got), next, reset, err)
	}
	if err := s.SetUserVar(ctx, web.ID, "A", "4"); err != nil {
		t.Fatal(err)
	}
	if _, next, reset, err := s.AppChanges(ctx, web.ID, 0, 10); err != nil || !reset || next < head+1 {
		t.Fatalf("cursor 0 after pruning: reset %v, next %d, err %v", reset, next, err)
	}
	got, _, reset, err := s.AppChanges(ctx, web.ID, head, 10)
	if err != nil || reset {
		t.Fatalf("cursor at the pruned head: reset %v, err %v", reset, err)
	}
	sameKinds(t, "after pruning", got, "config")
	// Pruning what is older than long ago drops nothing.
	if n, err := s.PruneChanges(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("pruned %d old changes, err %v", n, err)
	}
}

// testChangesOfADeletedAddon: an app still sees its add-on's changes that
// come after the add-on's rows are deleted (the destroy operation ending,
// the last event): whoever follows the app learns how the destroy ended.
// Another app does not.
func testChangesOfADeletedAddon(t *testing.T, s store.Store) {
	ctx := context.Background()
	web, _ := s.CreateApp(ctx, "web")
	other, _ := s.CreateApp(ctx, "other")
	a := seedAddon(t, s, web, "redis-gone")
	op := store.Operation{AddonID: a.ID, AddonName: a.Name, Kind: "deprovision", State: "running"}
	if err := s.CreateOperation(ctx, &op); err != nil {
		t.Fatal(err)
	}
	start, _ := s.ChangeHead(ctx)
	if err := s.DeleteAddon(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.AddEvent(ctx, a.ID, a.Name, "addon.destroyed", "nodes stopped"); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateOperation(ctx, op.ID, "succeeded", "", ""); err != nil {
		t.Fatal(err)
	}
	got, _, _, err := s.AppChanges(ctx, web.ID, start, 100)
	if err != nil {
		t.Fatal(err)
	}
	sameKinds(t, "the owner after the delete", got, "addon", "event", "operation")
	if got[2].Subject != op.ID {
		t.Fatalf("changes %+v, want the operation %s last", got, op.ID)
	}
	theirs, _, _, err := s.AppChanges(ctx, other.ID, start, 100)
	if err != nil {
		t.Fatal(err)
	}
	sameKinds(t, "another app", theirs)
}
