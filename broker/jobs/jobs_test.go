package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/fault"
	"larder/internal/testkit"
	"larder/store"
	"larder/store/sqlite"
	"larder/store/storetest"
)

// TestTake: a broker takes back its own left operation and one whose lease
// ended, and leaves one another broker still holds.
func TestTake(t *testing.T) {
	ctx := context.Background()
	st, a, log := fixture(t)
	r := New(Config{Log: log, Store: st, Owner: "me", Lease: time.Minute})
	t.Cleanup(func() { r.Close(ctx) })
	for _, tt := range []struct {
		name  string
		owner string
		until time.Duration // lease end from now
		want  bool
	}{
		{"its own, left by its previous run", "me", time.Minute, true},
		{"another's, lease ended", "other", -time.Minute, true},
		{"another's, lease running", "other", time.Minute, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			op := store.Operation{AddonID: a.ID, AddonName: a.Name, Kind: "provision", State: api.OpPending,
				Owner: tt.owner, LeaseUntil: time.Now().Add(tt.until)}
			if err := st.CreateOperation(ctx, &op); err != nil {
				t.Fatal(err)
			}
			got, err := r.Take(ctx, op)
			if err != nil || got != tt.want {
				t.Fatalf("Take = %v, %v; want %v", got, err, tt.want)
			}
			after, err := st.OperationByID(ctx, op.ID)
			if err != nil {
				t.Fatal(err)
			}
			if wantOwner := map[bool]string{true: "me", false: tt.owner}[tt.want]; after.Owner != wantOwner {
				t.Errorf("owner %q, want %q", after.Owner, wantOwner)
			}
		})
	}
}

// fixture is a fresh SQLite store holding an add-on with a pair, and a
// logger that writes nowhere.
func fixture(t *testing.T) (store.Store, store.Addon, logrus.FieldLogger) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "larder.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, _, _ := storetest.AddonWithPair(t, st)
	log := logrus.New()
	log.SetOutput(io.Discard)
	return st, a, log
}

// leasedRun is a runner of broker "me" over a fresh SQLite store holding an
// add-on with a pair and an operation of kind on it, leased to "me";
// finished receives what the runner counts each job that ends as.
func leasedRun(t *testing.T, kind string) (store.Store, *Runner, store.Operation, chan string) {
	t.Helper()
	ctx := context.Background()
	st, a, log := fixture(t)
	finished := make(chan string, 1)
	r := New(Config{Log: log, Store: st, Owner: "me", Lease: time.Minute, Finished: func(kind, result string) { finished <- result }})
	t.Cleanup(func() { r.Close(ctx) })
	op := store.Operation{AddonID: a.ID, AddonName: a.Name, Kind: kind, State: api.OpPending, Params: "{}"}
	r.Lease(&op)
	if err := st.CreateOperation(ctx, &op); err != nil {
		t.Fatal(err)
	}
	return st, r, op, finished
}

// TestRunnerWritesOnlyWhatItOwns: a job whose broker lost the operation (it
// paused past the lease, and another broker claimed and resumed it) neither
// records progress nor its result over the new owner's run when it wakes
// up; it counts as taken over, not finished.
func TestRunnerWritesOnlyWhatItOwns(t *testing.T) {
	ctx := context.Background()
	st, r, op, finished := leasedRun(t, "switchover")
	takenOver, wake, ended := make(chan struct{}), make(chan struct{}), make(chan struct{})
	r.Run(st, op, func(ctx context.Context, progress func(string)) error {
		close(takenOver)
		<-wake // paused past its lease
		progress("late progress")
		close(ended)
		return nil
	})
	<-takenOver
	// The lease ran out while this broker was away; another claims the
	// operation and records its own run.
	if ok, err := st.ClaimOperation(ctx, op.ID, "other", time.Now().Add(2*time.Minute), time.Minute); !ok || err != nil {
		t.Fatalf("other broker's claim = %v, %v", ok, err)
	}
	if ok, err := st.UpdateOwnedOperation(ctx, op.ID, "other", api.OpRunning, "resumed elsewhere", ""); !ok || err != nil {
		t.Fatalf("other broker's progress = %v, %v", ok, err)
	}
	close(wake)
	<-ended
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := st.OperationByID(ctx, op.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != api.OpRunning || got.Progress != "resumed elsewhere" || got.Owner != "other" {
		t.Errorf("operation %s %q held by %q after the old runner woke up; want the other broker's run (running, %q)",
			got.State, got.Progress, got.Owner, "resumed elsewhere")
	}
	select {
	case res := <-finished:
		t.Errorf("the taken-over job counted as %s here", res)
	default:
	}
}

// TestStepSavedOnlyByItsOwner: a step a runner records after another
// broker took its operation over is refused with the whole transaction it
// was part of (a node it claimed, say), and the runner stops as taken over:
// the new owner's step and params stay, and nothing of the old run commits.
func TestStepSavedOnlyByItsOwner(t *testing.T) {
	ctx := context.Background()
	st, r, op, finished := leasedRun(t, "plan_change")
	a := store.Addon{ID: op.AddonID, Name: op.AddonName}
	takenOver, wake := make(chan struct{}), make(chan struct{})
	saved := make(chan error, 1)
	r.Run(st, op, func(ctx context.Context, progress func(string)) error {
		close(takenOver)
		<-wake // paused past its lease
		err := st.InTx(ctx, func(tx store.Tx) error {
			if err := tx.AddEvent(ctx, a.ID, a.Name, "addon.node", "old run claimed a standby"); err != nil {
				return err
			}
			return r.SaveStep(ctx, tx, &op, "standby_claimed", map[string]string{"standby": "old-run's"})
		})
		saved <- err
		return err
	})
	<-takenOver
	if ok, err := st.ClaimOperation(ctx, op.ID, "other", time.Now().Add(2*time.Minute), time.Minute); !ok || err != nil {
		t.Fatalf("other broker's claim = %v, %v", ok, err)
	}
	if ok, err := st.SetOperationStep(ctx, op.ID, "other", "standby_claimed", `{"standby":"new run's"}`); !ok || err != nil {
		t.Fatalf("other broker's step = %v, %v", ok, err)
	}
	close(wake)
	if err := <-saved; !errors.Is(err, context.Canceled) {
		t.Errorf("the old run's step = %v; want it refused as taken over (context.Canceled)", err)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := st.OperationByID(ctx, op.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Step != "standby_claimed" || got.Params != `{"standby":"new run's"}` || got.Owner != "other" {
		t.Errorf("operation at %q %s held by %q after the old run woke up; want the new run's step and params", got.Step, got.Params, got.Owner)
	}
	events, err := st.EventsOfAddon(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.Message == "old run claimed a standby" {
			t.Errorf("the old run's transaction committed with its refused step: %+v", e)
		}
	}
	select {
	case res := <-finished:
		t.Errorf("the taken-over job counted as %s here", res)
	default:
	}
}

// unreachable is a store whose writes of operations fail as a store whose
// database restarts does, while down is set.
type unreachable struct {
	store.Store
	down  atomic.Bool
	tries atomic.Int32
	reads atomic.Int32 // OperationByID fails for this many calls
}

func (u *unreachable) OperationByID(ctx context.Context, id string) (store.Operation, error) {
	if u.reads.Add(-1) >= 0 {
		return store.Operation{}, fault.Wrap(fault.Unavailable, store.ErrUnreachable, "cannot reach the store")
	}
	return u.Store.OperationByID(ctx, id)
}

func (u *unreachable) UpdateOwnedOperation(ctx context.Context, id, owner, state, progress, errMsg string) (bool, error) {
	if u.down.Load() {
		u.tries.Add(1)
		return false, fault.Wrap(fault.Unavailable, store.ErrUnreachable, "cannot reach the store")
	}
	return u.Store.UpdateOwnedOperation(ctx, id, owner, state, progress, errMsg)
}

// TestRunnerRecordsTheResultOnceTheStoreIsBack: a job that ends while the
// store cannot be reached (its database restarting) records its result once
// the store is back, keeping its lease meanwhile, rather than leaving the
// operation unfinished for another broker to run again.
func TestRunnerRecordsTheResultOnceTheStoreIsBack(t *testing.T) {
	ctx := context.Background()
	st, a, log := fixture(t)
	u := &unreachable{Store: st}
	finished := make(chan string, 2)
	r := New(Config{Log: log, Store: u, Owner: "me", Lease: time.Minute, Retry: time.Millisecond,
		Finished: func(kind, result string) { finished <- result }})
	t.Cleanup(func() { r.Close(ctx) })
	op := store.Operation{AddonID: a.ID, AddonName: a.Name, Kind: "provision", State: api.OpPending}
	r.Lease(&op)
	if err := st.CreateOperation(ctx, &op); err != nil {
		t.Fatal(err)
	}
	r.Run(u, op, func(ctx context.Context, progress func(string)) error {
		u.down.Store(true) // the database restarts as the work ends
		return nil
	})
	testkit.Wait(t, 10*time.Second, testkit.Patient, func() error {
		if u.tries.Load() < 2 {
			return fmt.Errorf("%d tries to record the result", u.tries.Load())
		}
		return nil
	})
	if !r.Runs(op.ID) {
		t.Fatalf("the job let its operation go while its result was unrecorded")
	}
	u.down.Store(false)
	select {
	case res := <-finished:
		if res != api.OpSucceeded {
			t.Fatalf("finished %s, want succeeded", res)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the result was not recorded once the store was back")
	}
	got, err := st.OperationByID(ctx, op.ID)
	if err != nil || got.State != api.OpSucceeded {
		t.Fatalf("operation %s, %v; want succeeded", got.State, err)
	}
}

// TestRunnerResumesWorkTheStoreCutShort: work cut short because the store
// could not be reached is neither failed nor rolled back: once the store
// answers, the runner resumes the operation here as a restarted broker
// would (its kind's Resume), and records how that ends.
func TestRunnerResumesWorkTheStoreCutShort(t *testing.T) {
	ctx := context.Background()
	st, a, log := fixture(t)
	finished := make(chan string, 2)
	u := &unreachable{Store: st}
	u.reads.Store(3) // the store is back only at the fourth look
	r := New(Config{Log: log, Store: u, Owner: "me", Lease: time.Minute, Finished: func(kind, result string) { finished <- result }})
	t.Cleanup(func() { r.Close(ctx) })
	var resumed atomic.Int32
	r.Register("provision", Kind{Resume: func(op store.Operation) Step {
		if op.ID == "" || op.AddonID != a.ID {
			t.Errorf("resumed %+v; want the operation as the store has it", op)
		}
		return func(ctx context.Context, progress func(string)) error {
			if why := WhyResumed(ctx); why != ErrStoreAway {
				t.Errorf("a step resumed after an outage is told %v; want ErrStoreAway", why)
			}
			if resumed.Add(1) == 1 {
				return fault.Wrap(fault.Unavailable, store.ErrUnreachable, "cannot reach the store") // cut short again
			}
			return nil
		}
	}})
	op := store.Operation{AddonID: a.ID, AddonName: a.Name, Kind: "provision", State: api.OpPending}
	r.Lease(&op)
	if err := st.CreateOperation(ctx, &op); err != nil {
		t.Fatal(err)
	}
	r.Run(u, op, func(ctx context.Context, progress func(string)) error {
		return fault.Wrap(fault.Unavailable, fmt.Errorf("mark node: %w", store.ErrUnreachable), "cannot reach the store")
	})
	select {
	case res := <-finished:
		if res != api.OpSucceeded {
			t.Fatalf("finished %s, want succeeded (resumed)", res)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the operation did not end")
	}
	if n := resumed.Load(); n != 2 {
		t.Errorf("resumed %d times, want 2 (once per outage)", n)
	}
	if got, err := st.OperationByID(ctx, op.ID); err != nil || got.State != api.OpSucceeded {
		t.Fatalf("operation %s, %v; want succeeded", got.State, err)
	}
}
