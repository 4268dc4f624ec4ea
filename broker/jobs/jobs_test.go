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
