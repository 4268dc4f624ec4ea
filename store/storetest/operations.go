package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"larder/fault"
	"larder/store"
)

func testOperationsAndEvents(t *testing.T, s store.Store) {
	ctx := context.Background()
	app, _ := s.CreateApp(ctx, "web")
	a := seedAddon(t, s, app, "redis-a")
	first := store.Operation{AddonID: a.ID, AddonName: a.Name, Kind: "provision", State: "pending"}
	second := store.Operation{AddonID: "gone", AddonName: "redis-gone", Kind: "deprovision", State: "running", Params: `{"x":1}`}
	for _, op := range []*store.Operation{&first, &second} {
		if err := s.CreateOperation(ctx, op); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := s.SetOperationStep(ctx, first.ID, first.Owner, "committed", `{"to":"premium-0"}`); !ok || err != nil {
		t.Fatal(err)
	}
	got, err := s.OperationByID(ctx, first.ID)
	if err != nil || got.Step != "committed" || got.Params != `{"to":"premium-0"}` || got.Kind != "provision" || got.Owner != "" {
		t.Fatalf("OperationByID = %+v, %v; want the step and params recorded, no owner", got, err)
	}
	if all, err := s.UnfinishedOperations(ctx); err != nil || len(all) != 2 || all[0].ID != first.ID {
		t.Fatalf("UnfinishedOperations = %+v, %v; want both, oldest first", all, err)
	}
	if err := s.UpdateOperation(ctx, first.ID, "succeeded", "done", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateOperation(ctx, second.ID, "failed", "", "no"); err != nil {
		t.Fatal(err)
	}
	if all, err := s.UnfinishedOperations(ctx); err != nil || len(all) != 0 {
		t.Fatalf("UnfinishedOperations after both ended = %+v, %v; want none", all, err)
	}
	if of, err := s.UnfinishedOperationsOf(ctx, a.ID); err != nil || len(of) != 0 {
		t.Fatalf("UnfinishedOperationsOf = %+v, %v; want none", of, err)
	}
	if got, _ := s.OperationByID(ctx, second.ID); got.State != "failed" || got.Error != "no" {
		t.Errorf("failed operation = %+v", got)
	}
	if _, err := s.OperationByID(ctx, "nope"); fault.KindOf(err) != fault.NotFound {
		t.Errorf("OperationByID of an unknown id: %v, want NotFound", err)
	}
	if got := fault.KindOf(s.UpdateOperation(ctx, "nope", "failed", "", "")); got != fault.NotFound {
		t.Errorf("UpdateOperation of an unknown id: kind %v, want NotFound", got)
	}

	for _, kind := range []string{"addon.create", "addon.ready"} {
		if err := s.AddEvent(ctx, a.ID, a.Name, kind, kind+" happened"); err != nil {
			t.Fatal(err)
		}
	}
	events, err := s.EventsOfAddon(ctx, a.ID)
	if err != nil || len(events) != 2 || events[0].Kind != "addon.create" || events[1].Message != "addon.ready happened" || events[0].ID >= events[1].ID {
		t.Fatalf("EventsOfAddon = %+v, %v; want both, oldest first", events, err)
	}
}

// testOperationLeases: an operation is held by one owner until its lease
// ends; the owner renews it, no one else (the owner included) claims it
// while it is live, and anyone takes it over once it has ended or was
// released. Time is the caller's: no test here waits.
func testOperationLeases(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 600_000_000, time.FixedZone("CET", 3600))
	const ttl = 10 * time.Second
	op := store.Operation{AddonID: "a", AddonName: "redis-a", Kind: "switchover", State: "running", Owner: "broker-a", LeaseUntil: t0.Add(ttl)}
	if err := s.CreateOperation(ctx, &op); err != nil {
		t.Fatal(err)
	}
	lease := func(when string, wantOwner string, wantUntil time.Time) {
		t.Helper()
		got, err := s.OperationByID(ctx, op.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Owner != wantOwner || !got.LeaseUntil.Equal(wantUntil) {
			t.Fatalf("%s: lease %q until %v; want %q until %v", when, got.Owner, got.LeaseUntil, wantOwner, wantUntil)
		}
	}
	lease("created", "broker-a", t0.Add(ttl))

	steps := []struct {
		name string
		do   func() (bool, error)
		want bool
	}{
		{"b claims a live lease", func() (bool, error) { return s.ClaimOperation(ctx, op.ID, "broker-b", t0, ttl) }, false},
		{"a claims its own live lease", func() (bool, error) { return s.ClaimOperation(ctx, op.ID, "broker-a", t0, ttl) }, false},
		{"a renews", func() (bool, error) { return s.RenewOperation(ctx, op.ID, "broker-a", t0.Add(5*time.Second), ttl) }, true},
		{"b renews what it does not hold", func() (bool, error) { return s.RenewOperation(ctx, op.ID, "broker-b", t0.Add(5*time.Second), ttl) }, false},
		{"b claims just before the renewed lease ends", func() (bool, error) {
			return s.ClaimOperation(ctx, op.ID, "broker-b", t0.Add(15*time.Second-time.Millisecond), ttl)
		}, false},
	}
	for _, st := range steps {
		got, err := st.do()
		if err != nil || got != st.want {
			t.Fatalf("%s = %v, %v; want %v", st.name, got, err, st.want)
		}
	}
	lease("after a's renewal", "broker-a", t0.Add(15*time.Second))

	// a stops renewing (it died): once the lease has ended, b takes over.
	t1 := t0.Add(16 * time.Second)
	if ok, err := s.ClaimOperation(ctx, op.ID, "broker-b", t1, ttl); !ok || err != nil {
		t.Fatalf("b claims an ended lease = %v, %v; want true", ok, err)
	}
	lease("taken over", "broker-b", t1.Add(ttl))
	if ok, err := s.RenewOperation(ctx, op.ID, "broker-a", t1, ttl); ok || err != nil {
		t.Fatalf("a renews after b took over = %v, %v; want false", ok, err)
	}
	if unfinished, err := s.UnfinishedOperations(ctx); err != nil || len(unfinished) != 1 || unfinished[0].Owner != "broker-b" {
		t.Fatalf("UnfinishedOperations = %+v, %v; want the operation held by b", unfinished, err)
	}

	// A release by a former owner changes nothing; by the owner, it frees
	// the operation at once.
	if err := s.ReleaseOperation(ctx, op.ID, "broker-a"); err != nil {
		t.Fatal(err)
	}
	lease("released by a former owner", "broker-b", t1.Add(ttl))
	if err := s.ReleaseOperation(ctx, op.ID, "broker-b"); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.ClaimOperation(ctx, op.ID, "broker-c", t1, ttl); !ok || err != nil {
		t.Fatalf("c claims a released operation = %v, %v; want true", ok, err)
	}

	// An operation created without an owner is free; a finished one, or an
	// unknown id, is never claimed.
	free := store.Operation{AddonID: "b", AddonName: "redis-b", Kind: "provision", State: "pending"}
	done := store.Operation{AddonID: "c", AddonName: "redis-c", Kind: "provision", State: "succeeded"}
	for _, o := range []*store.Operation{&free, &done} {
		if err := s.CreateOperation(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		id   string
		want bool
	}{{free.ID, true}, {done.ID, false}, {"nope", false}} {
		if ok, err := s.ClaimOperation(ctx, tc.id, "broker-d", t1, ttl); ok != tc.want || err != nil {
			t.Errorf("claim of %s = %v, %v; want %v", tc.id, ok, err, tc.want)
		}
	}
}

// testOperationLeasesOneWinner: brokers that all find an operation's lease
// ended at the same instant race to claim it; exactly one gets it.
func testOperationLeasesOneWinner(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	op := store.Operation{AddonID: "a", AddonName: "redis-a", Kind: "failover", State: "running", Owner: "dead", LeaseUntil: t0}
	if err := s.CreateOperation(ctx, &op); err != nil {
		t.Fatal(err)
	}
	const brokers = 8
	var wg sync.WaitGroup
	won := make([]bool, brokers)
	errs := make([]error, brokers)
	start := make(chan struct{})
	for i := range brokers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			won[i], errs[i] = s.ClaimOperation(ctx, op.ID, store.NewID(), t0.Add(time.Second), time.Minute)
		}()
	}
	close(start)
	wg.Wait()
	n := 0
	for i := range brokers {
		if errs[i] != nil {
			t.Errorf("broker %d: %v", i, errs[i])
		}
		if won[i] {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d brokers claimed the operation, want exactly 1", n)
	}
}

// testOperationWritesOfItsOwner: a runner's writes of progress and result
// (UpdateOwnedOperation) land only while its broker owns the operation: once
// another broker claimed it, the old runner's writes change nothing and say
// so, and the new owner's record stands.
func testOperationWritesOfItsOwner(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	const ttl = 10 * time.Second
	op := store.Operation{AddonID: "a", AddonName: "redis-a", Kind: "switchover", State: "pending", Owner: "broker-a", LeaseUntil: t0.Add(ttl)}
	if err := s.CreateOperation(ctx, &op); err != nil {
		t.Fatal(err)
	}
	record := func(when, state, progress, errMsg string) {
		t.Helper()
		got, err := s.OperationByID(ctx, op.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != state || got.Progress != progress || got.Error != errMsg {
			t.Fatalf("%s: operation %s %q %q; want %s %q %q", when, got.State, got.Progress, got.Error, state, progress, errMsg)
		}
	}
	write := func(owner, state, progress, errMsg string, want bool) {
		t.Helper()
		if ok, err := s.UpdateOwnedOperation(ctx, op.ID, owner, state, progress, errMsg); ok != want || err != nil {
			t.Fatalf("UpdateOwnedOperation by %s (%s %q) = %v, %v; want %v", owner, state, progress, ok, err, want)
		}
	}
	write("broker-a", "running", "started", "", true)
	record("a's progress", "running", "started", "")
	step := func(owner, step string, want bool) {
		t.Helper()
		if ok, err := s.SetOperationStep(ctx, op.ID, owner, step, `{"by":"`+owner+`"}`); ok != want || err != nil {
			t.Fatalf("SetOperationStep by %s (%s) = %v, %v; want %v", owner, step, ok, err, want)
		}
	}
	stepIs := func(when, step, by string) {
		t.Helper()
		got, err := s.OperationByID(ctx, op.ID)
		if err != nil || got.Step != step || got.Params != `{"by":"`+by+`"}` {
			t.Fatalf("%s: step %q %s, %v; want %q by %s", when, got.Step, got.Params, err, step, by)
		}
	}
	step("broker-a", "claimed", true)
	step("broker-b", "stolen", false)
	stepIs("b's step while a owns it", "claimed", "broker-a")
	write("broker-b", "failed", "", "not mine", false)
	record("b's write while a owns it", "running", "started", "")

	// a's lease ends (it paused) and b takes the operation over: a, waking
	// up, neither records progress nor a result over b's run.
	if ok, err := s.ClaimOperation(ctx, op.ID, "broker-b", t0.Add(2*ttl), ttl); !ok || err != nil {
		t.Fatalf("b claims the ended lease = %v, %v", ok, err)
	}
	write("broker-b", "running", "resumed", "", true)
	write("broker-a", "running", "still mine?", "", false)
	write("broker-a", "succeeded", "done", "", false)
	record("a's writes after b took over", "running", "resumed", "")
	step("broker-b", "claimed again", true)
	step("broker-a", "committed", false)
	stepIs("a's step after b took over", "claimed again", "broker-b")
	write("broker-b", "failed", "", "rolled back", true)
	record("b's result", "failed", "", "rolled back")

	// A released operation is nobody's: its former owner's late write is
	// refused too. An unknown id is no one's.
	free := store.Operation{AddonID: "b", AddonName: "redis-b", Kind: "provision", State: "running", Owner: "broker-a", LeaseUntil: t0.Add(ttl)}
	if err := s.CreateOperation(ctx, &free); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseOperation(ctx, free.ID, "broker-a"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{free.ID, "nope"} {
		if ok, err := s.UpdateOwnedOperation(ctx, id, "broker-a", "succeeded", "done", ""); ok || err != nil {
			t.Errorf("UpdateOwnedOperation of %s, owned by no one = %v, %v; want false", id, ok, err)
		}
	}
}
