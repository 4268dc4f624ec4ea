package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"larder/api"
	"larder/internal/pgtest"
)

// TestTwoBrokersOneResumesAnOperation (issue 12, 16): two broker processes
// on one SQLite file. The first coordinates and runs a switchover, held
// before recording it; the second, started meanwhile, does not coordinate
// and leaves the operation, leased to the first, alone for several lease
// periods. Once the first dies (kill -9) the second takes the coordinator
// lease over, then the operation, and ends it; the add-on is left with one
// primary.
func TestTwoBrokersOneResumesAnOperation(t *testing.T) { twoBrokersOneResumes(t) }

// TestCoordinatorKilledOnPostgres (issue 16): the same on a PostgreSQL
// store, as several brokers share one.
func TestCoordinatorKilledOnPostgres(t *testing.T) {
	twoBrokersOneResumes(t, "LARDER_STORE_URL="+pgtest.URL(t))
}

func twoBrokersOneResumes(t *testing.T, storeEnv ...string) {
	const lease = "LARDER_OPERATION_LEASE=1500ms"
	const coordLease = "LARDER_COORDINATOR_LEASE=1500ms"
	b1 := NewBroker(t, append([]string{"LARDER_NO_LOCAL_NODES=1", "LARDER_RECONCILE_INTERVAL=200ms", "LARDER_HOLD_AT=switchover.swap", lease, coordLease}, storeEnv...)...)
	b1.StartAgent("h1")
	b1.StartAgent("h2")
	b1.MustLarder("apps:create", "web")
	b1.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait")
	waitInSync(t, b1, "web", nil)
	ctx := context.Background()

	res, err := b1.Client().Failover(ctx, "web", "REDIS")
	if err != nil || res.Operation == nil {
		t.Fatalf("switchover on broker 1: %+v, %v", res, err)
	}
	opID := res.Operation.ID
	held := filepath.Join(b1.DataDir, "held-switchover.swap")
	WaitFor(t, 20*time.Second, "broker 1's switchover at the point of recording", func() error {
		_, err := os.Stat(held)
		return err
	})

	b2 := sharingBroker(t, b1, "LARDER_RECONCILE_INTERVAL=200ms", lease, coordLease)
	// Broker 1 coordinates: broker 2 takes nothing over while broker 1
	// renews its leases, for longer than one of them.
	coordinates(t, b2, b1)
	seen := brokerInfo(t, b2, b2).LastSeen
	WaitFor(t, 20*time.Second, "broker 2 to run for two leases beside broker 1", func() error {
		if b := brokerInfo(t, b2, b2); b.LastSeen.Sub(seen) < 3*time.Second {
			return fmt.Errorf("broker 2 seen %s after its first look", b.LastSeen.Sub(seen))
		}
		return nil
	})
	coordinates(t, b2, b1)
	if strings.Contains(b2.logs.String(), "resuming operation") {
		t.Fatalf("broker 2 resumed an operation broker 1 runs:\n%s", b2.logs.String())
	}

	// Broker 1 dies mid-way; its lease runs out and broker 2 takes over.
	killed := time.Now()
	killBroker(b1)
	coordinates(t, b2, b2)
	t.Logf("broker 2 coordinates %s after broker 1 was killed (lease 1.5s)", time.Since(killed).Round(time.Millisecond))
	var op api.Operation
	WaitFor(t, 60*time.Second, "broker 2 to end the operation", func() (err error) {
		op, err = b2.Client().Operation(ctx, opID)
		if err == nil && !op.Done() {
			err = fmt.Errorf("%s: %s", op.State, op.Progress)
		}
		return err
	})
	if n := strings.Count(b2.logs.String(), "resuming operation"); n != 1 {
		t.Errorf("broker 2 resumed %d operations, want 1", n)
	}
	if op.State != api.OpSucceeded && !strings.Contains(op.Error, "rolled back") {
		t.Errorf("operation = %s %q; want it finished or rolled back", op.State, op.Error)
	}
	waitInSync(t, b2, "web", nil)
}
