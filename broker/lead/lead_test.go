package lead_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"larder/broker/lead"
	"larder/fault"
	"larder/internal/testkit"
	"larder/store"
	"larder/store/sqlite"
)

// openShared opens n stores on one SQLite file: n brokers sharing it.
func openShared(t *testing.T, n int) []store.Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "larder.db")
	var out []store.Store
	for range n {
		s, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out = append(out, s)
	}
	return out
}

func start(t *testing.T, st store.Store, id string, ttl time.Duration) *lead.Elector {
	t.Helper()
	log := logrus.New()
	log.SetLevel(logrus.WarnLevel)
	e := lead.New(lead.Config{Store: st, Self: store.BrokerInfo{ID: id, URL: "http://" + id}, Lease: ttl, Log: log})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

func leading(e *lead.Elector) error {
	if _, ok := e.Lease(); !ok {
		return errors.New("not coordinating yet")
	}
	return nil
}

// TestElector_OneCoordinatesThenTheOtherTakesOver: of two brokers the first
// coordinates and the second does not; when the first stops, its rounds are
// cancelled and the second takes over in a new tenure, whose token fences
// the first's writes.
func TestElector_OneCoordinatesThenTheOtherTakesOver(t *testing.T) {
	st := openShared(t, 2)
	a := start(t, st[0], "a", 900*time.Millisecond)
	b := start(t, st[1], "b", 900*time.Millisecond)
	actx, adone, ok := a.During(context.Background())
	if !ok {
		t.Fatal("a, started first on an empty store, does not coordinate")
	}
	defer adone()
	if _, _, ok := b.During(context.Background()); ok {
		t.Fatal("b coordinates beside a")
	}
	la, _ := a.Lease()
	a.Close(context.Background())
	if actx.Err() == nil {
		t.Fatal("a's round still runs after a stopped")
	}
	testkit.WaitFor(t, 10*time.Second, func() error { return leading(b) })
	lb, _ := b.Lease()
	if lb.Holder != "b" || lb.Token != la.Token+1 {
		t.Fatalf("b's tenure %+v; want b with token %d", lb, la.Token+1)
	}
	app, err := st[1].CreateApp(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	if err := st[0].SetUserVar(store.WithLease(context.Background(), la.Token), app.ID, "A", "1"); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("a write under a's old token = %v; want ErrLeaseLost", err)
	}
	bctx, bdone, ok := b.During(context.Background())
	if !ok {
		t.Fatal("b does not coordinate")
	}
	defer bdone()
	if err := st[1].SetUserVar(bctx, app.ID, "A", "1"); err != nil {
		t.Fatalf("a write of b's round = %v", err)
	}
}

// TestElector_StopsWhenItsLeaseIsTaken: a coordinator whose renewal is
// refused (another tenure began: its clock ran ahead, or it was paused)
// cancels its rounds at its next renewal and runs none after.
func TestElector_StopsWhenItsLeaseIsTaken(t *testing.T) {
	st := openShared(t, 1)
	ttl := 900 * time.Millisecond
	a := start(t, st[0], "a", ttl)
	actx, adone, ok := a.During(context.Background())
	if !ok {
		t.Fatal("a does not coordinate")
	}
	defer adone()
	l, err := st[0].AcquireLease(context.Background(), "x", time.Now().Add(time.Hour), time.Hour)
	if err != nil || l.Holder != "x" {
		t.Fatalf("x's acquisition past a's lease = %+v, %v", l, err)
	}
	testkit.WaitFor(t, 10*time.Second, func() error {
		if actx.Err() == nil {
			return errors.New("a's round not cancelled yet")
		}
		return nil
	})
	if _, _, ok := a.During(context.Background()); ok {
		t.Fatal("a still runs rounds after x took the lease")
	}
}

// TestGateAlways: a component alone runs every round, unfenced.
func TestGateAlways(t *testing.T) {
	ran := lead.Run(nil, context.Background(), func(ctx context.Context) {
		if _, ok := store.LeaseOf(ctx); ok {
			t.Error("Always fences its rounds")
		}
	})
	if !ran {
		t.Fatal("Run(nil gate) did not run the round")
	}
}

// unreachable is a store whose lease renewals fail, as a store whose
// database restarts does, for as many calls as fail says.
type unreachable struct {
	store.Store
	fail atomic.Int32
}

func (u *unreachable) RenewLease(ctx context.Context, holder string, token int64, now time.Time, ttl time.Duration) (bool, error) {
	if u.fail.Add(-1) >= 0 {
		return false, fault.Wrap(fault.Unavailable, store.ErrUnreachable, "cannot reach the store")
	}
	return u.Store.RenewLease(ctx, holder, token, now, ttl)
}

// TestElector_KeepsItsTenureThroughABriefOutage: a renewal that fails
// because the store cannot be reached (PostgreSQL restarting) is no sign
// another broker took the lease — none can before it expires — so the
// coordinator keeps its tenure and renews it once the store answers; only
// when renewals keep failing until the lease's end does its tenure end.
func TestElector_KeepsItsTenureThroughABriefOutage(t *testing.T) {
	st := &unreachable{Store: openShared(t, 1)[0]}
	a := start(t, st, "a", 1500*time.Millisecond)
	actx, adone, ok := a.During(context.Background())
	if !ok {
		t.Fatal("a does not coordinate")
	}
	defer adone()
	before, _ := a.Lease()
	st.fail.Store(1)
	testkit.WaitFor(t, 10*time.Second, func() error {
		if st.fail.Load() > -2 {
			return errors.New("no renewal after the failed one yet")
		}
		return nil
	})
	if actx.Err() != nil {
		t.Fatal("a's round was cancelled by one renewal that met an unreachable store")
	}
	if after, ok := a.Lease(); !ok || after.Token != before.Token {
		t.Fatalf("tenure %+v (%v) after the outage; want %+v kept", after, ok, before)
	}
	st.fail.Store(1 << 20) // the store stays away
	testkit.WaitFor(t, 10*time.Second, func() error {
		if actx.Err() == nil {
			return errors.New("a's round still runs")
		}
		return nil
	})
}
