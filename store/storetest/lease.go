package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"larder/fault"
	"larder/store"
)

// epoch0 is the injected clock's start, at the store's millisecond.
var epoch0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func acquire(t *testing.T, s store.Store, holder string, now time.Time, ttl time.Duration) store.Lease {
	t.Helper()
	l, err := s.AcquireLease(context.Background(), holder, now, ttl)
	if err != nil {
		t.Fatalf("AcquireLease(%s) = %v", holder, err)
	}
	return l
}

func testCoordinatorLease(t *testing.T, s store.Store) {
	ctx := context.Background()
	ttl := 10 * time.Second
	if l, err := s.CoordinatorLease(ctx); err != nil || l.Holder != "" || l.Token != 0 {
		t.Fatalf("CoordinatorLease() on a new store = %+v, %v; want no holder, token 0", l, err)
	}
	a := acquire(t, s, "a", epoch0, ttl)
	want := store.Lease{Holder: "a", Token: 1, AcquiredAt: epoch0, Expires: epoch0.Add(ttl)}
	if a != want {
		t.Fatalf("first acquisition = %+v; want %+v", a, want)
	}
	if got := acquire(t, s, "b", epoch0.Add(5*time.Second), ttl); got != want {
		t.Fatalf("acquisition while a's lease is live = %+v; want a's lease unchanged %+v", got, want)
	}
	steps := []struct {
		holder string
		token  int64
		at     time.Duration
		want   bool
	}{
		{"a", 1, 5 * time.Second, true},   // live: extended to 15s
		{"b", 1, 6 * time.Second, false},  // not the holder
		{"a", 2, 6 * time.Second, false},  // not the tenure
		{"a", 1, 16 * time.Second, false}, // expired at 15s
	}
	for _, st := range steps {
		if ok, err := s.RenewLease(ctx, st.holder, st.token, epoch0.Add(st.at), ttl); err != nil || ok != st.want {
			t.Fatalf("RenewLease(%s, token %d, +%s) = %v, %v; want %v", st.holder, st.token, st.at, ok, err, st.want)
		}
	}
	b := acquire(t, s, "b", epoch0.Add(15*time.Second), ttl)
	if b.Holder != "b" || b.Token != 2 || !b.AcquiredAt.Equal(epoch0.Add(15*time.Second)) {
		t.Fatalf("acquisition once a's lease ended = %+v; want b, token 2, since +15s", b)
	}
	if !b.Live(epoch0.Add(20*time.Second)) || b.Live(epoch0.Add(25*time.Second)) {
		t.Fatalf("Live(%+v) at +20s, +25s: want true, false", b)
	}
	// a's tenure ended: its release changes nothing.
	if err := s.ReleaseLease(ctx, "a", 1, epoch0.Add(16*time.Second)); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.CoordinatorLease(ctx); l != b {
		t.Fatalf("after a stale release: %+v; want b's lease %+v", l, b)
	}
	if err := s.ReleaseLease(ctx, "b", 2, epoch0.Add(17*time.Second)); err != nil {
		t.Fatal(err)
	}
	if l := acquire(t, s, "c", epoch0.Add(17*time.Second), ttl); l.Holder != "c" || l.Token != 3 {
		t.Fatalf("acquisition after a release = %+v; want c at once, token 3", l)
	}
	// A broker restarted under its own id takes its lease back at once, in a
	// new tenure: writes of its previous run are refused.
	if l := acquire(t, s, "c", epoch0.Add(18*time.Second), ttl); l.Holder != "c" || l.Token != 4 {
		t.Fatalf("acquisition by the holder itself = %+v; want c, token 4", l)
	}
	if _, err := s.AcquireLease(ctx, "", epoch0, ttl); fault.KindOf(err) != fault.Invalid {
		t.Fatalf("AcquireLease(no holder) = %v; want Invalid", err)
	}
}

func testCoordinatorLeaseOneWinner(t *testing.T, s store.Store) {
	const n = 8
	var wg sync.WaitGroup
	won := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("broker-%d", i)
			l, err := s.AcquireLease(context.Background(), id, epoch0, 5*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			if l.Holder == id {
				won <- id
			}
		}()
	}
	wg.Wait()
	close(won)
	var winners []string
	for id := range won {
		winners = append(winners, id)
	}
	l, _ := s.CoordinatorLease(context.Background())
	if len(winners) != 1 || l.Token != 1 || l.Holder != winners[0] {
		t.Fatalf("%d brokers acquiring at once: winners %v, lease %+v; want exactly one, token 1", n, winners, l)
	}
}

// testLeaseFencesWrites: a write under a token that is no longer the
// lease's is refused whole — in a transaction, run on its own, or asked
// for with RequireLease — and one under the current token passes.
func testLeaseFencesWrites(t *testing.T, s store.Store) {
	ctx := context.Background()
	app, err := s.CreateApp(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	old := acquire(t, s, "a", epoch0, time.Second)
	cur := acquire(t, s, "b", epoch0.Add(2*time.Second), time.Second)
	lost := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrLeaseLost) || fault.KindOf(err) != fault.Conflict {
			t.Fatalf("%s under the lost token = %v; want a Conflict with ErrLeaseLost", what, err)
		}
	}
	stale := store.WithLease(ctx, old.Token)
	lost("InTx", s.InTx(stale, func(tx store.Tx) error { return tx.SetUserVar(ctx, app.ID, "A", "1") }))
	lost("a write on its own", s.SetUserVar(stale, app.ID, "B", "1"))
	lost("RequireLease", s.InTx(ctx, func(tx store.Tx) error {
		if err := tx.SetUserVar(ctx, app.ID, "C", "1"); err != nil {
			return err
		}
		return tx.RequireLease(ctx, old.Token)
	}))
	lost("AddMetricPoints", s.AddMetricPoints(stale, []store.MetricPoint{point("a1", "n1", 10, 1000, 1)}))
	if vars, err := s.UserVars(ctx, app.ID); err != nil || len(vars) != 0 {
		t.Fatalf("vars after fenced writes = %v, %v; want none written", vars, err)
	}
	fresh := store.WithLease(ctx, cur.Token)
	if err := s.InTx(fresh, func(tx store.Tx) error { return tx.SetUserVar(ctx, app.ID, "A", "1") }); err != nil {
		t.Fatalf("InTx under the current token = %v", err)
	}
	if err := s.SetUserVar(fresh, app.ID, "B", "1"); err != nil {
		t.Fatalf("a write on its own under the current token = %v", err)
	}
	if vars, _ := s.UserVars(ctx, app.ID); len(vars) != 2 {
		t.Fatalf("vars = %v; want A and B", vars)
	}
}

func testBrokersRegistry(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i, b := range []store.BrokerInfo{{ID: "b1", URL: "http://a:5000", Version: "v1"}, {ID: "b2", URL: "http://b:5000", Version: "v1"}} {
		if err := s.RegisterBroker(ctx, b, epoch0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.BrokerSeen(ctx, "b1", epoch0.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.BrokerSeen(ctx, "nope", epoch0); fault.KindOf(err) != fault.NotFound {
		t.Fatalf("BrokerSeen(unknown) = %v; want NotFound", err)
	}
	got, err := s.Brokers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.BrokerInfo{
		{ID: "b1", URL: "http://a:5000", Version: "v1", StartedAt: epoch0, LastSeen: epoch0.Add(30 * time.Second)},
		{ID: "b2", URL: "http://b:5000", Version: "v1", StartedAt: epoch0.Add(time.Second), LastSeen: epoch0.Add(time.Second)},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Brokers() =\n %+v\nwant\n %+v", got, want)
	}
	// A restart registers again: new URL and version, started anew.
	if err := s.RegisterBroker(ctx, store.BrokerInfo{ID: "b1", URL: "http://a:6000", Version: "v2"}, epoch0.Add(40*time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.ForgetBrokers(ctx, epoch0.Add(20*time.Second)); err != nil || n != 1 {
		t.Fatalf("ForgetBrokers(+20s) = %d, %v; want b2 forgotten", n, err)
	}
	got, _ = s.Brokers(ctx)
	if len(got) != 1 || got[0].URL != "http://a:6000" || got[0].Version != "v2" || !got[0].StartedAt.Equal(epoch0.Add(40*time.Second)) {
		t.Fatalf("Brokers() after b1's restart and b2 forgotten = %+v", got)
	}
	if err := s.RegisterBroker(ctx, store.BrokerInfo{}, epoch0); fault.KindOf(err) != fault.Invalid {
		t.Fatalf("RegisterBroker(no id) = %v; want Invalid", err)
	}
}
