package jobs

import (
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/store"
	"larder/store/sqlite"
	"larder/store/storetest"
)

// TestTake: a broker takes back its own left operation and one whose lease
// ended, and leaves one another broker still holds.
func TestTake(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "larder.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, _, _ := storetest.AddonWithPair(t, st)
	log := logrus.New()
	log.SetOutput(io.Discard)
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

// TestRunnerWritesOnlyWhatItOwns: a job whose broker lost the operation (it
// paused past the lease, and another broker claimed and resumed it) neither
// records progress nor its result over the new owner's run when it wakes
// up; it counts as taken over, not finished.
func TestRunnerWritesOnlyWhatItOwns(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "larder.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, _, _ := storetest.AddonWithPair(t, st)
	log := logrus.New()
	log.SetOutput(io.Discard)
	finished := make(chan string, 1)
	r := New(Config{Log: log, Store: st, Owner: "me", Lease: time.Minute, Finished: func(kind, result string) { finished <- result }})
	t.Cleanup(func() { r.Close(ctx) })

	op := store.Operation{AddonID: a.ID, AddonName: a.Name, Kind: "switchover", State: api.OpPending}
	r.Lease(&op)
	if err := st.CreateOperation(ctx, &op); err != nil {
		t.Fatal(err)
	}
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
