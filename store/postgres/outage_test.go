package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"larder/fault"
	"larder/internal/pgtest"
	"larder/internal/testkit"
	"larder/store"
)

// TestOutage_UnavailableThenServesAgain: while PostgreSQL is down, every
// kind of call (a read, a write on its own, a transaction, the brokers'
// list) fails as Unavailable with a message that says the store cannot be
// reached — no driver text, no password; once it is back, the same store
// serves again, and another store's commit still wakes this one's hooks
// (its LISTEN connection was made again).
func TestOutage_UnavailableThenServesAgain(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Own(t)
	const secret = "pg-0utage-s3cret"
	u := strings.Replace(c.URL("postgres"), "postgres@", "postgres:"+secret+"@", 1)
	s, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	other, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	if _, err := s.CreateApp(ctx, "web"); err != nil {
		t.Fatal(err)
	}

	if err := c.Down(); err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"read", func() error { _, err := s.AppByName(ctx, "web"); return err }},
		{"list", func() error { _, err := s.Apps(ctx); return err }},
		{"write", func() error { _, err := s.CreateApp(ctx, "api"); return err }},
		{"transaction", func() error {
			return s.InTx(ctx, func(tx store.Tx) error { _, err := tx.CreateApp(ctx, "worker"); return err })
		}},
		{"brokers", func() error { _, err := s.Brokers(ctx); return err }},
		// Rows scanned by hand (add-ons, attachments) and the observers'
		// reports go around the generic helpers: they say the same.
		{"add-on", func() error { _, err := s.AddonByName(ctx, "redis-a"); return err }},
		{"add-ons", func() error { _, err := s.Addons(ctx); return err }},
		{"listed add-ons", func() error { _, err := s.ListedAddons(ctx, ""); return err }},
		{"attachments", func() error { _, err := s.AttachmentsOfAddons(ctx, ""); return err }},
		{"report", func() error {
			return s.AppendReport(ctx, &store.ObserverReport{BrokerID: "b", Location: "l", Observer: "o", Body: []byte("{}"), ReceivedAt: time.Now()})
		}},
		{"reports", func() error { _, err := s.ReportsAfter(ctx, 0, 10); return err }},
		{"metric points pruned", func() error { _, err := s.PruneMetricPoints(ctx, 10, 0); return err }},
	}
	for _, tc := range calls {
		err := tc.call()
		if fault.KindOf(err) != fault.Unavailable || !strings.Contains(fault.Message(err), "cannot reach the store") {
			t.Errorf("%s while PostgreSQL is down: [%s] %q (%v); want Unavailable, \"cannot reach the store\"", tc.name, fault.KindOf(err), fault.Message(err), err)
		}
		if strings.Contains(fault.Message(err), secret) {
			t.Errorf("%s: the message shows the password: %s", tc.name, fault.Message(err))
		}
	}

	if err := c.Up(); err != nil {
		t.Fatal(err)
	}
	testkit.Wait(t, 20*time.Second, testkit.Patient, func() error {
		_, err := s.AppByName(ctx, "web")
		return err
	})
	var woken atomic.Int32
	s.OnCommit(func() { woken.Add(1) })
	tries := 0
	testkit.Wait(t, 20*time.Second, testkit.Patient, func() error {
		// Each try commits a change of the feed anew (an app's deletion
		// is one; its creation is not): the listener may still be
		// reconnecting.
		tries++
		app, err := other.CreateApp(ctx, fmt.Sprintf("from-other-%d", tries))
		if err != nil {
			return err
		}
		if err := other.DeleteApp(ctx, app.ID); err != nil {
			return err
		}
		if woken.Load() == 0 {
			return fault.E(fault.Unavailable, "no hook ran for the other store's commit")
		}
		return nil
	})
}
