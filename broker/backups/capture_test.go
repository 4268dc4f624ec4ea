package backups_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/api"
	"larder/backup/target"
	"larder/broker"
	"larder/broker/backups"
	"larder/broker/brokertest"
	"larder/engine"
	"larder/internal/testkit"
	"larder/store"
)

// TestCaptureHoldsWhatWasAcknowledged: a backup asked for right after a
// write holds it, even when the standby has not received it yet (its link
// to the primary is down here: the primary refuses its replication user).
// The capture waits for the standby to catch up, and takes it from there
// once it has.
func TestCaptureHoldsWhatWasAcknowledged(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tgt, err := target.NewLocal(filepath.Join(dir, "backups"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "stage"), 0o700); err != nil {
		t.Fatal(err)
	}
	b := brokertest.New(t, testkit.BrokerBackups, func(c *broker.Config) {
		c.Backups = backups.Config{Target: tgt, StageDir: filepath.Join(dir, "stage")}
		c.StandbyGrace = time.Hour // the standby's link is cut on purpose
	})
	st := b.Store()
	if _, err := b.Apps.CreateApp(ctx, api.AppCreate{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	res, err := b.Addons.CreateAddon(ctx, "web", api.AddonCreate{Plan: "larder-redis:premium-0", Name: "redis-caught"})
	if err != nil {
		t.Fatal(err)
	}
	waitOp(t, st, res.Operation.ID)
	a, err := st.AddonByName(ctx, "redis-caught")
	if err != nil {
		t.Fatal(err)
	}
	fill(t, st, a) // 3 keys, on both nodes
	primary, standby := adminClients(t, st, a)

	// Cut the standby off: the primary refuses its replication user and
	// drops its link; then one more write, which only the primary has.
	if err := primary.Do(ctx, "ACL", "SETUSER", engine.ReplUser, "off").Err(); err != nil {
		t.Fatal(err)
	}
	if err := primary.Do(ctx, "CLIENT", "KILL", "TYPE", "replica").Err(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, func() error {
		info, err := standby.Info(ctx, "replication").Result()
		if err != nil || !strings.Contains(info, "master_link_status:down") {
			return fmt.Errorf("the standby's link is not down yet (%v)", err)
		}
		return nil
	})
	if err := primary.Set(ctx, "k4", "acknowledged", 0).Err(); err != nil {
		t.Fatal(err)
	}

	out, err := b.Backups.Capture(ctx, "web", "redis-caught", api.BackupCapture{})
	if err != nil {
		t.Fatal(err)
	}
	// Once the capture waits for the standby, let it catch up.
	var op store.Operation
	testkit.WaitFor(t, 30*time.Second, func() error {
		if op, err = st.OperationByID(ctx, out.Operation.ID); err != nil {
			return err
		}
		if op.State == api.OpPending || op.State == api.OpRunning {
			if strings.Contains(op.Progress, "waiting for the standby") {
				return nil
			}
			return fmt.Errorf("the capture is %s (%s)", op.State, op.Progress)
		}
		return nil // ended without waiting
	})
	if err := primary.Do(ctx, "ACL", "SETUSER", engine.ReplUser, "on").Err(); err != nil {
		t.Fatal(err)
	}
	waitOp(t, st, out.Operation.ID)
	got, err := st.BackupByID(ctx, out.Backup.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.BackupCompleted || got.Keys != 4 {
		t.Fatalf("backup %+v; want completed with 4 keys: the write acknowledged before it was asked for is missing", got)
	}
	if got.SourceRole != store.RoleStandby {
		t.Errorf("backup taken from the %s; want the standby, once it caught up", got.SourceRole)
	}
}

// TestCaptureFromThePrimaryWhenTheStandbyLags: a standby that cannot catch
// up within the capture's wait (its own password for the primary is wrong
// here) is passed over: the backup comes from the primary, whole.
func TestCaptureFromThePrimaryWhenTheStandbyLags(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tgt, err := target.NewLocal(filepath.Join(dir, "backups"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "stage"), 0o700); err != nil {
		t.Fatal(err)
	}
	b := brokertest.New(t, testkit.BrokerBackups, func(c *broker.Config) {
		c.Backups = backups.Config{Target: tgt, StageDir: filepath.Join(dir, "stage")}
		c.StandbyGrace = time.Hour // the standby's link is cut on purpose
	})
	st := b.Store()
	if _, err := b.Apps.CreateApp(ctx, api.AppCreate{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	res, err := b.Addons.CreateAddon(ctx, "web", api.AddonCreate{Plan: "larder-redis:premium-0", Name: "redis-lags"})
	if err != nil {
		t.Fatal(err)
	}
	waitOp(t, st, res.Operation.ID)
	a, err := st.AddonByName(ctx, "redis-lags")
	if err != nil {
		t.Fatal(err)
	}
	fill(t, st, a)
	primary, standby := adminClients(t, st, a)
	if err := standby.ConfigSet(ctx, "masterauth", "not-the-password").Err(); err != nil {
		t.Fatal(err)
	}
	if err := standby.Do(ctx, "CLIENT", "KILL", "TYPE", "master").Err(); err != nil {
		t.Fatal(err)
	}
	if err := primary.Set(ctx, "k4", "acknowledged", 0).Err(); err != nil {
		t.Fatal(err)
	}
	out, err := b.Backups.Capture(ctx, "web", "redis-lags", api.BackupCapture{})
	if err != nil {
		t.Fatal(err)
	}
	waitOp(t, st, out.Operation.ID)
	got, err := st.BackupByID(ctx, out.Backup.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.BackupCompleted || got.Keys != 4 || got.SourceRole != store.RolePrimary {
		t.Fatalf("backup %+v; want completed with 4 keys, from the primary", got)
	}
}

// adminClients are clients of a's primary and standby as larder's admin.
func adminClients(t *testing.T, st store.Store, a store.Addon) (primary, standby *redis.Client) {
	t.Helper()
	nodes, err := st.NodesOfAddon(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("%s:%d", n.Address, n.Port), Username: engine.AdminUser, Password: a.AdminPassword})
		t.Cleanup(func() { c.Close() })
		if n.Role == store.RolePrimary {
			primary = c
		} else {
			standby = c
		}
	}
	if primary == nil || standby == nil {
		t.Fatalf("%s has no primary and standby: %+v", a.Name, nodes)
	}
	return primary, standby
}
