package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/api"
)

// TestTwoBrokersRaceOnePromotion (issue 11.6): two broker processes on one
// SQLite file start a switchover of the same add-on, decided on the same
// epoch, and are let go at the same instant right before recording it.
// Exactly one records and applies it; the other is refused, says so in an
// event and touches no node; at no moment do both nodes answer as primary.
func TestTwoBrokersRaceOnePromotion(t *testing.T) {
	b1 := NewBroker(t, "LARDER_NO_LOCAL_NODES=1", "LARDER_RECONCILE_INTERVAL=200ms", "LARDER_HOLD_AT=switchover.swap")
	b1.StartAgent("h1")
	b1.StartAgent("h2")
	b1.MustLarder("apps:create", "web")
	b1.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait")
	ha := waitInSync(t, b1, "web", nil)
	ctx := context.Background()
	targets, err := b1.Client().MonitorTargets(ctx)
	if err != nil || len(targets) != 2 {
		t.Fatalf("targets %+v, %v", targets, err)
	}
	b2 := sharingBroker(t, b1, "LARDER_RECONCILE_INTERVAL=200ms", "LARDER_HOLD_AT=switchover.swap")
	WaitFor(t, 10*time.Second, "the second broker reaches both agents", func() error {
		hosts, err := b2.Client().Hosts(ctx)
		if err != nil {
			return err
		}
		up := 0
		for _, h := range hosts {
			if !h.Local && h.State == "up" {
				up++
			}
		}
		if up != 2 {
			return fmt.Errorf("hosts %+v", hosts)
		}
		return nil
	})

	// Watch both nodes' roles for the whole race.
	stop := watchRoles(targets)

	var ops [2]*api.Operation
	for i, b := range []*Broker{b1, b2} {
		res, err := b.Client().Failover(ctx, "web", "REDIS")
		if err != nil || res.Operation == nil {
			t.Fatalf("switchover on broker %d: %+v, %v", i+1, res, err)
		}
		ops[i] = res.Operation
	}
	held := []string{filepath.Join(b1.DataDir, "held-switchover.swap"), filepath.Join(b2.DataDir, "held-switchover.swap")}
	WaitFor(t, 20*time.Second, "both switchovers at the point of recording", func() error {
		for _, f := range held {
			if _, err := os.Stat(f); err != nil {
				return err
			}
		}
		return nil
	})
	for _, f := range held {
		os.Remove(f)
	}
	var done [2]api.Operation
	for i, b := range []*Broker{b1, b2} {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		done[i], _ = b.Client().WaitOperation(wctx, ops[i].ID, 50*time.Millisecond, nil)
		cancel()
	}
	twoPrimaries := stop()

	won := 0
	for i, op := range done {
		switch {
		case op.State == api.OpSucceeded:
			won++
		case op.State == api.OpFailed && strings.Contains(op.Error, "another coordinator acted first"):
		default:
			t.Errorf("broker %d's switchover: %+v; want done, or refused as superseded", i+1, op)
		}
	}
	if won != 1 {
		t.Fatalf("%d switchovers done, want exactly 1: %+v", won, done)
	}
	if k := eventKinds(t, b1, "web"); k["switchover"] != 1 || k["switchover.superseded"] != 1 {
		t.Errorf("events %v: want one switchover and one switchover.superseded", k)
	}
	if twoPrimaries > 0 {
		t.Errorf("both nodes answered as primary at once (%d samples)", twoPrimaries)
	}
	after := waitInSync(t, b1, "web", func(h api.HAInfo) error {
		if h.PrimaryHost != ha.StandbyHost {
			return fmt.Errorf("primary on %s", h.PrimaryHost)
		}
		return nil
	})
	if after.Epoch != ha.Epoch+1 {
		t.Errorf("epoch %d → %d: want one step", ha.Epoch, after.Epoch)
	}
	if roles := rolesOf(targets); roles["master"] != 1 || roles["slave"] != 1 {
		t.Errorf("roles %v: want one master and one replica", roles)
	}
	url := configVars(t, b1, "web")["REDIS_URL"]
	if err := setOnce(url, "after", 2*time.Second); err != nil {
		t.Errorf("write through REDIS_URL after the race: %v", err)
	}
}

// rolesOf counts the roles the targets answer ROLE with, as the observers'
// read-only user.
func rolesOf(targets []api.MonitorTarget) map[string]int {
	out := map[string]int{}
	for _, tg := range targets {
		c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("%s:%d", tg.Addr, tg.Port), Username: tg.MonitorUser, Password: tg.MonitorPassword,
			DialTimeout: 300 * time.Millisecond, ReadTimeout: 300 * time.Millisecond, MaxRetries: -1, DisableIdentity: true})
		if v, err := c.Do(context.Background(), "ROLE").Slice(); err == nil && len(v) > 0 {
			out[fmt.Sprint(v[0])]++
		}
		c.Close()
	}
	return out
}

// sharingBroker starts a second broker process on b's SQLite file: its own
// data directory, token and API address, and b's monitor password (so both
// render the same node users).
func sharingBroker(t *testing.T, b *Broker, env ...string) *Broker {
	t.Helper()
	root := t.TempDir()
	lo, hi := portRange(100)
	s := &Broker{t: t, DataDir: filepath.Join(root, "data"), Home: filepath.Join(root, "home"), Ports: [2]int{lo, hi},
		extra: append([]string{"LARDER_NO_LOCAL_NODES=1", "LARDER_DB=" + filepath.Join(b.DataDir, "larder.db")}, env...)}
	for _, d := range []string{s.DataDir, s.Home} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	pw, err := os.ReadFile(filepath.Join(b.DataDir, "monitor-password"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.DataDir, "monitor-password"), pw, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.cleanup)
	s.Start()
	return s
}

// watchRoles samples the targets' roles until the returned stop is called,
// which reports how many samples saw two nodes answer as primary.
func watchRoles(targets []api.MonitorTarget) (stop func() int32) {
	var two atomic.Int32
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			// x, then y, then x again: each node's role changes one way in a
			// switchover, so x master at both ends overlaps y master.
			x, y := targets[:1], targets[1:]
			if rolesOf(x)["master"] == 1 && rolesOf(y)["master"] == 1 && rolesOf(x)["master"] == 1 {
				two.Add(1)
			}
		}
	}()
	return func() int32 {
		close(done)
		wg.Wait()
		return two.Load()
	}
}
