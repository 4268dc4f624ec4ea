package postgres

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"larder/internal/pgtest"
	"larder/internal/testkit"
	"larder/store"
)

// openPair opens two stores on one new database: two brokers sharing it.
func openPair(t *testing.T) (*DB, *DB) {
	t.Helper()
	ctx := context.Background()
	u := pgtest.URL(t)
	var out [2]*DB
	for i := range out {
		s, err := Open(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out[i] = s
	}
	return out[0], out[1]
}

// TestOnCommit_AnotherBrokersCommitWakes: a change another store commits
// runs this store's hooks (LISTEN/NOTIFY), so its waiters need no poll;
// its own commits run them once, not twice.
func TestOnCommit_AnotherBrokersCommitWakes(t *testing.T) {
	ctx := context.Background()
	a, b := openPair(t)
	web, err := a.CreateApp(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	a.OnCommit(func() { calls.Add(1) })
	if err := b.SetUserVar(ctx, web.ID, "A", "1"); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, func() error {
		if calls.Load() == 0 {
			return errNotYet
		}
		return nil
	})
	// Its own write: once at the commit; its notification is its own.
	before := calls.Load()
	if err := a.SetUserVar(ctx, web.ID, "B", "1"); err != nil {
		t.Fatal(err)
	}
	// A change by b after a's own proves a's notification was delivered
	// (notifications arrive in commit order) and skipped.
	if err := b.SetUserVar(ctx, web.ID, "C", "1"); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, func() error {
		if calls.Load() < before+2 {
			return errNotYet
		}
		return nil
	})
	if got := calls.Load(); got != before+2 {
		t.Fatalf("hooks ran %d times for one own and one other commit, want 2", got-before)
	}
}

var errNotYet = errors.New("not yet")

// TestChanges_NumberedInCommitOrder: a writer that took a number and has
// not committed holds back the next writer's number, so a reader never
// sees a later number while an earlier one may still commit (its cursor
// would pass it for ever).
func TestChanges_NumberedInCommitOrder(t *testing.T) {
	ctx := context.Background()
	a, b := openPair(t)
	web, _ := a.CreateApp(ctx, "web")
	start, _ := a.ChangeHead(ctx)
	hold, release := make(chan struct{}), make(chan struct{})
	txDone := make(chan error, 1)
	go func() {
		txDone <- a.InTx(ctx, func(tx store.Tx) error {
			if err := tx.SetUserVar(ctx, web.ID, "FIRST", "1"); err != nil {
				return err
			}
			close(hold)
			<-release
			return nil
		})
	}()
	<-hold
	bDone := make(chan error, 1)
	go func() { bDone <- b.SetUserVar(ctx, web.ID, "SECOND", "1") }()
	// b waits for the feed's lock while a's transaction is open.
	testkit.WaitFor(t, 10*time.Second, func() error {
		var n int
		if err := a.db.GetContext(ctx, &n, `SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`); err != nil || n == 0 {
			return errNotYet
		}
		return nil
	})
	if head, _ := a.ChangeHead(ctx); head != start {
		t.Fatalf("head %d while the first writer is open, want %d", head, start)
	}
	close(release)
	if err := <-txDone; err != nil {
		t.Fatal(err)
	}
	if err := <-bDone; err != nil {
		t.Fatal(err)
	}
	got, _, _, err := a.AppChanges(ctx, web.ID, start, 10)
	if err != nil || len(got) != 2 || got[0].Subject != "FIRST" || got[1].Subject != "SECOND" {
		t.Fatalf("changes %+v, %v; want FIRST then SECOND", got, err)
	}
}

// TestInTx_RetriesADeadlock: two transactions that lock two rows in
// opposite orders deadlock; PostgreSQL rolls one back, and InTx runs it
// again whole, so both commit.
func TestInTx_RetriesADeadlock(t *testing.T) {
	ctx := context.Background()
	s := openTest(t).(*DB)
	for _, h := range []string{"h1", "h2"} {
		if err := s.UpsertHost(ctx, &store.Host{Name: h, URL: "http://" + h, Token: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	var meet sync.WaitGroup
	meet.Add(2)
	var runs atomic.Int32
	lock := func(first, second string) error {
		once := false
		return s.InTx(ctx, func(tx store.Tx) error {
			runs.Add(1)
			if err := tx.SetHostCursor(ctx, first, "boot", 1); err != nil {
				return err
			}
			if !once { // both hold their first row before either asks for its second
				once = true
				meet.Done()
				meet.Wait()
			}
			return tx.SetHostCursor(ctx, second, "boot", 2)
		})
	}
	errs := make(chan error, 2)
	go func() { errs <- lock("h1", "h2") }()
	go func() { errs <- lock("h2", "h1") }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("a transaction failed: %v", err)
		}
	}
	if runs.Load() < 3 {
		t.Fatalf("%d runs: no deadlock was met and retried", runs.Load())
	}
}

// TestReports_AnotherBrokersReportWakes: a report another store records runs
// this store's report hooks (LISTEN/NOTIFY on larder_reports), not its
// commit hooks (a vote wakes no change waiter); its own run them once.
func TestReports_AnotherBrokersReportWakes(t *testing.T) {
	ctx := context.Background()
	a, b := openPair(t)
	var reports, commits atomic.Int32
	a.OnReport(func() { reports.Add(1) })
	a.OnCommit(func() { commits.Add(1) })
	report := func(s *DB, loc string) {
		t.Helper()
		r := &store.ObserverReport{BrokerID: "b", ReceivedAt: time.Now(), Location: loc, Observer: "o", Body: []byte(`{}`)}
		if err := s.AppendReport(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	report(b, "l1")
	testkit.WaitFor(t, 10*time.Second, func() error {
		if reports.Load() == 0 {
			return errNotYet
		}
		return nil
	})
	before := reports.Load()
	report(a, "l2")
	report(b, "l3") // delivered after a's own, which is skipped
	testkit.WaitFor(t, 10*time.Second, func() error {
		if reports.Load() < before+2 {
			return errNotYet
		}
		return nil
	})
	if got := reports.Load(); got != before+2 {
		t.Fatalf("report hooks ran %d times for one own and one other report, want 2", got-before)
	}
	if n := commits.Load(); n != 0 {
		t.Fatalf("commit hooks ran %d times for reports, want none", n)
	}
}

// TestReports_NumberedInCommitOrder: a report whose transaction took a
// number and has not committed holds the next report's number back, so a
// reader following ids never passes one that commits later.
func TestReports_NumberedInCommitOrder(t *testing.T) {
	ctx := context.Background()
	a, b := openPair(t)
	tx, err := a.db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var first int64
	if err := tx.GetContext(ctx, &first, `INSERT INTO monitor_reports (broker_id, received_at, location, observer, report)
		VALUES ('a', 0, 'l1', 'o', '{}') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	second := &store.ObserverReport{BrokerID: "b", ReceivedAt: time.Now(), Location: "l2", Observer: "o", Body: []byte(`{}`)}
	done := make(chan error, 1)
	go func() { done <- b.AppendReport(ctx, second) }()
	testkit.WaitFor(t, 10*time.Second, func() error {
		var n int
		if err := a.db.GetContext(ctx, &n, `SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`); err != nil || n == 0 {
			return errNotYet
		}
		return nil
	})
	if got, err := a.ReportsAfter(ctx, 0, 10); err != nil || len(got) != 0 {
		t.Fatalf("reports while the first is open: %+v, %v; want none", got, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if second.ID <= first {
		t.Fatalf("the report that committed second has id %d, the first %d", second.ID, first)
	}
}
