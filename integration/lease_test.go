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
)

// TestTwoBrokersOneResumesAnOperation (issue 12): two broker processes on
// one SQLite file. The first runs a switchover and is held before recording
// it; the second, started meanwhile, finds the operation unfinished but
// leased to the first and leaves it alone for several lease periods. Once
// the first dies (kill -9) and its lease ends, the second takes the
// operation over and ends it, and the add-on is left with one primary.
func TestTwoBrokersOneResumesAnOperation(t *testing.T) {
	const lease = "LARDER_OPERATION_LEASE=1500ms"
	b1 := NewBroker(t, "LARDER_NO_LOCAL_NODES=1", "LARDER_RECONCILE_INTERVAL=200ms", "LARDER_HOLD_AT=switchover.swap", lease)
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

	b2 := sharingBroker(t, b1, "LARDER_RECONCILE_INTERVAL=200ms", lease)
	// Broker 2 looks for operations to take over every third of a lease;
	// four looks span more than a lease, which broker 1 keeps renewing.
	WaitFor(t, 20*time.Second, "broker 2 to find the operation held four times", func() error {
		if n := strings.Count(b2.logs.String(), "operation held by another broker"); n < 4 {
			return fmt.Errorf("%d times", n)
		}
		return nil
	})
	if strings.Contains(b2.logs.String(), "resuming operation") {
		t.Fatalf("broker 2 resumed an operation broker 1 runs:\n%s", b2.logs.String())
	}

	// Broker 1 dies mid-way; its lease runs out and broker 2 takes over.
	b1.cmd.Process.Kill()
	<-b1.done
	b1.cmd = nil
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
