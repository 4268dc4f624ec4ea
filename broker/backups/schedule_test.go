package backups_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/api"
	"larder/backup/target"
	"larder/broker"
	"larder/broker/backups"
	"larder/broker/brokertest"
	"larder/ha/coord"
	"larder/internal/testkit"
	"larder/store"
)

// The daily schedule fires on the broker's clock (virtual time here): a
// premium add-on gets 02:00 UTC at creation, each run is taken from the
// standby and verified, and retention keeps the newest N, deleting the
// older archives with their records.
func TestScheduleFiresAndRetentionKeepsN(t *testing.T) {
	ctx := context.Background()
	clock := coord.NewFake(time.Date(2030, 1, 1, 1, 58, 0, 0, time.UTC))
	dir := t.TempDir()
	tgt, err := target.NewLocal(filepath.Join(dir, "backups"))
	if err != nil {
		t.Fatal(err)
	}
	b := brokertest.New(t, testkit.BrokerBackups, func(c *broker.Config) {
		c.Clock = clock
		c.Backups = backups.Config{Target: tgt, StageDir: filepath.Join(dir, "stage"), ScheduleInterval: time.Minute}
	})
	if err := os.MkdirAll(filepath.Join(dir, "stage"), 0o700); err != nil {
		t.Fatal(err)
	}
	st := b.Store()
	if _, err := b.Apps.CreateApp(ctx, api.AppCreate{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	res, err := b.Addons.CreateAddon(ctx, "web", api.AddonCreate{Plan: "larder-redis:premium-0", Name: "redis-sched"})
	if err != nil {
		t.Fatal(err)
	}
	waitOp(t, st, res.Operation.ID)
	a, err := st.AddonByName(ctx, "redis-sched")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := st.BackupScheduleOf(ctx, a.ID)
	if err != nil || sc.At != backups.DefaultAt || sc.Retain != backups.DefaultRetain {
		t.Fatalf("a premium add-on's schedule = %+v, %v; want %s, %d kept", sc, err, backups.DefaultAt, backups.DefaultRetain)
	}
	fill(t, st, a)
	if _, err := b.Backups.Schedule(ctx, "web", "redis-sched", api.BackupScheduleSet{At: "02:00 UTC", Retain: 2}); err != nil {
		t.Fatal(err)
	}

	for run := 1; run <= 3; run++ {
		if run > 1 {
			clock.Advance(24 * time.Hour)
		}
		id := waitScheduled(t, st, clock, a.ID, run)
		got, err := st.BackupByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != store.BackupCompleted || got.Verified != store.VerifyPassed || got.SourceRole != store.RoleStandby || got.Keys != 3 {
			t.Fatalf("run %d: backup %+v; want completed, verified, from the standby, 3 keys", run, got)
		}
	}
	// Three runs kept 2: the oldest went, archive and record.
	var ids []string
	for _, bk := range scheduledOf(t, st, a.ID) {
		ids = append(ids, bk.ID)
	}
	if want := []string{"a002", "a003"}; strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Errorf("scheduled backups kept = %v, want %v", ids, want)
	}
	objs, err := tgt.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		names = append(names, o.Name)
	}
	sort.Strings(names)
	if want := []string{"redis-sched-a002.tar.gz", "redis-sched-a003.tar.gz"}; strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("archives in the target = %v, want %v", names, want)
	}
	evs, err := st.EventsOfAddon(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	expired := 0
	for _, e := range evs {
		if e.Kind == "backup.expired" {
			expired++
		}
	}
	if expired != 1 {
		t.Errorf("backup.expired events = %d, want 1", expired)
	}
}

// waitOp waits until operation id succeeds.
func waitOp(t *testing.T, st store.Store, id string) {
	t.Helper()
	testkit.WaitFor(t, 60*time.Second, func() error {
		op, err := st.OperationByID(context.Background(), id)
		switch {
		case err != nil:
			return err
		case op.State == api.OpFailed:
			t.Fatalf("operation %s (%s) failed: %s", id, op.Kind, op.Error)
		case op.State != api.OpSucceeded:
			return fmt.Errorf("operation %s is %s (%s)", id, op.State, op.Progress)
		}
		return nil
	})
}

// fill writes three keys, one with an expiry, on the add-on's primary and
// waits until the standby has them.
func fill(t *testing.T, st store.Store, a store.Addon) {
	t.Helper()
	ctx := context.Background()
	nodes, err := st.NodesOfAddon(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("%s:%d", n.Address, n.Port), Username: "larder-admin", Password: a.AdminPassword})
		defer c.Close()
		if n.Role == store.RolePrimary {
			if err := c.Set(ctx, "k1", "v1", 0).Err(); err != nil {
				t.Fatal(err)
			}
			c.HSet(ctx, "h", "f", "v")
			c.Set(ctx, "ttl", "x", time.Hour)
			continue
		}
		testkit.WaitFor(t, 10*time.Second, func() error {
			if n, err := c.DBSize(ctx).Result(); err != nil || n != 3 {
				return fmt.Errorf("standby holds %d keys (%v)", n, err)
			}
			return nil
		})
	}
}

func scheduledOf(t *testing.T, st store.Store, addonID string) []store.Backup {
	t.Helper()
	all, err := st.BackupsOfAddon(context.Background(), addonID)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Backup
	for _, b := range all {
		if b.Scheduled {
			out = append(out, b)
		}
	}
	return out
}

// waitScheduled moves the clock a minute at a time (the scheduler may not
// wait on it yet when it first moves) until the run-th scheduled backup has
// finished (its operation ended), and returns its id.
func waitScheduled(t *testing.T, st store.Store, clock *coord.Fake, addonID string, run int) string {
	t.Helper()
	id := fmt.Sprintf("a%03d", run)
	testkit.WaitFor(t, 30*time.Second, func() error {
		b, err := st.BackupByID(context.Background(), id)
		if err != nil {
			clock.Advance(time.Minute)
			return err
		}
		// Its operation ends after retention has run.
		op, err := st.OperationByID(context.Background(), b.OperationID)
		if err != nil {
			return err
		}
		if op.State != api.OpSucceeded && op.State != api.OpFailed {
			return fmt.Errorf("backup %s: its operation is %s", id, op.State)
		}
		return nil
	})
	return id
}
