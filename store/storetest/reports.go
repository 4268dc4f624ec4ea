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

// observerReport is a report of loc received by broker at.
func observerReport(broker, loc string, at time.Time) *store.ObserverReport {
	return &store.ObserverReport{BrokerID: broker, ReceivedAt: at, Location: loc, Observer: loc + "-1",
		Body: []byte(`{"location":"` + loc + `","observer":"` + loc + `-1","nodes":[]}`)}
}

func testReportsInOrder(t *testing.T, s store.Store) {
	ctx := context.Background()
	var woken atomic.Int32
	s.OnReport(func() { woken.Add(1) })
	at := time.UnixMicro(1_700_000_000_123_456).UTC()
	var want []*store.ObserverReport
	for i, b := range []string{"b1", "b2", "b1"} {
		r := observerReport(b, []string{"l1", "l2", "l3"}[i], at.Add(time.Duration(i)*time.Millisecond))
		if err := s.AppendReport(ctx, r); err != nil {
			t.Fatal(err)
		}
		if i > 0 && r.ID <= want[i-1].ID {
			t.Fatalf("report %d got id %d after %d; want ids that grow", i, r.ID, want[i-1].ID)
		}
		want = append(want, r)
	}
	if n := woken.Load(); n != 3 {
		t.Errorf("report hooks ran %d times for 3 reports, want 3", n)
	}
	got, err := s.ReportsAfter(ctx, 0, 10)
	if err != nil || len(got) != 3 {
		t.Fatalf("ReportsAfter(0) = %+v, %v; want 3", got, err)
	}
	for i, r := range got {
		w := want[i]
		if r.ID != w.ID || r.BrokerID != w.BrokerID || !r.ReceivedAt.Equal(w.ReceivedAt) || r.Location != w.Location ||
			r.Observer != w.Observer || string(r.Body) != string(w.Body) {
			t.Errorf("report %d = %+v, want %+v", i, r, *w)
		}
	}
	if page, err := s.ReportsAfter(ctx, want[0].ID, 1); err != nil || len(page) != 1 || page[0].ID != want[1].ID {
		t.Fatalf("ReportsAfter(first, 1) = %+v, %v; want the second only", page, err)
	}
	if none, err := s.ReportsAfter(ctx, want[2].ID, 10); err != nil || len(none) != 0 {
		t.Fatalf("ReportsAfter(last) = %+v, %v; want none", none, err)
	}
	// Any broker records a vote: a context carrying some lease is no
	// matter to AppendReport.
	if err := s.AppendReport(store.WithLease(ctx, 99), observerReport("b3", "l1", at)); err != nil {
		t.Fatalf("AppendReport under an unknown lease token = %v; want it recorded", err)
	}
}

func testReportsRefused(t *testing.T, s store.Store) {
	ctx := context.Background()
	var woken atomic.Int32
	s.OnReport(func() { woken.Add(1) })
	at := time.Now()
	for name, r := range map[string]*store.ObserverReport{
		"no broker":   observerReport("", "l1", at),
		"no location": observerReport("b1", "", at),
		"no observer": {BrokerID: "b1", Location: "l1", ReceivedAt: at, Body: []byte(`{}`)},
		"not JSON":    {BrokerID: "b1", Location: "l1", Observer: "o", ReceivedAt: at, Body: []byte(`{"nodes":`)},
	} {
		if err := s.AppendReport(ctx, r); fault.KindOf(err) != fault.Invalid {
			t.Errorf("%s: AppendReport = %v; want Invalid", name, err)
		}
	}
	if got, err := s.ReportsAfter(ctx, 0, 10); err != nil || len(got) != 0 || woken.Load() != 0 {
		t.Fatalf("after refused reports: %+v, %v, %d wake-ups; want nothing", got, err, woken.Load())
	}
}

func testReportsPrune(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := time.Unix(1_700_000_000, 0)
	var last int64
	for i := range 4 {
		r := observerReport("b1", "l1", t0.Add(time.Duration(i)*time.Second))
		if err := s.AppendReport(ctx, r); err != nil {
			t.Fatal(err)
		}
		last = r.ID
	}
	if n, err := s.PruneReports(ctx, t0.Add(2*time.Second)); err != nil || n != 2 {
		t.Fatalf("PruneReports(+2s) = %d, %v; want 2", n, err)
	}
	got, err := s.ReportsAfter(ctx, 0, 10)
	if err != nil || len(got) != 2 || !got[0].ReceivedAt.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("after pruning: %+v, %v; want the reports from +2s on", got, err)
	}
	// Ids never go back, even once every row is gone.
	if _, err := s.PruneReports(ctx, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	r := observerReport("b1", "l1", t0)
	if err := s.AppendReport(ctx, r); err != nil || r.ID <= last {
		t.Fatalf("report after pruning all: id %d, %v; want above %d", r.ID, err, last)
	}
	// Pruning is the coordinator's: fenced by the lease.
	old := acquire(t, s, "a", epoch0, time.Second)
	acquire(t, s, "b", epoch0.Add(2*time.Second), time.Second)
	if _, err := s.PruneReports(store.WithLease(ctx, old.Token), t0.Add(time.Hour)); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("PruneReports under a lost lease = %v; want ErrLeaseLost", err)
	}
	if got, _ := s.ReportsAfter(ctx, 0, 10); len(got) != 1 {
		t.Fatalf("reports after a fenced prune: %+v; want the one kept", got)
	}
}
