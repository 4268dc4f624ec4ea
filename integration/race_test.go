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
	"larder/fault"
)

// TestTwoBrokersRaceOnePromotion (issue 11.6): two broker processes on one
// SQLite file are asked for a switchover of the same add-on at once, the
// first held right before recording it. The second is refused at once (one
// change of an add-on at a time, kept in the shared store) and touches no
// node; the first records and applies it; at no moment do both nodes answer
// as primary. (Two coordinators that both got past that check — a failover
// and a switchover — are raced at the epoch's compare-and-set in package
// broker's TestTwoPromotionsAtOnce.)
func TestTwoBrokersRaceOnePromotion(t *testing.T) {
	b1, ha, targets := pairOnAgents(t, "LARDER_HOLD_AT=switchover.swap")
	ctx := context.Background()
	b2 := sharingBroker(t, b1, "LARDER_RECONCILE_INTERVAL=200ms")
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

	res, err := b1.Client().Failover(ctx, "web", "REDIS")
	if err != nil || res.Operation == nil {
		t.Fatalf("switchover on broker 1: %+v, %v", res, err)
	}
	held := filepath.Join(b1.DataDir, "held-switchover.swap")
	WaitFor(t, 20*time.Second, "broker 1's switchover at the point of recording", func() error {
		_, err := os.Stat(held)
		return err
	})
	if res2, err := b2.Client().Failover(ctx, "web", "REDIS"); err == nil || fault.KindOf(err) != fault.Conflict || !strings.Contains(err.Error(), "under way") {
		t.Errorf("switchover on broker 2 during broker 1's: %+v, %v; want a Conflict naming the switchover under way", res2, err)
	}
	os.Remove(held)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	done, _ := b1.Client().WaitOperation(wctx, res.Operation.ID, 50*time.Millisecond, nil)
	cancel()
	twoPrimaries := stop()

	if done.State != api.OpSucceeded {
		t.Errorf("broker 1's switchover: %+v; want done", done)
	}
	if k := eventKinds(t, b1, "web"); k["switchover"] != 1 || k["switchover.superseded"] != 0 {
		t.Errorf("events %v: want one switchover, nothing superseded", k)
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

// pairOnAgents starts a broker placing nodes on agents h1 and h2, with fast
// HA loops and env, and an HA add-on of app web in sync on them; it returns
// the pair and its nodes as the observers probe them.
func pairOnAgents(t *testing.T, env ...string) (*Broker, api.HAInfo, []api.MonitorTarget) {
	t.Helper()
	b := NewBroker(t, append([]string{"LARDER_NO_LOCAL_NODES=1", "LARDER_RECONCILE_INTERVAL=200ms"}, env...)...)
	b.StartAgent("h1")
	b.StartAgent("h2")
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait")
	ha := waitInSync(t, b, "web", nil)
	targets, err := b.Client().MonitorTargets(context.Background())
	if err != nil || len(targets) != 2 {
		t.Fatalf("targets %+v, %v", targets, err)
	}
	return b, ha, targets
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

// sharedStore is the environment that opens b's store: its PostgreSQL
// database when it has one, else its SQLite file.
func sharedStore(b *Broker) string {
	for _, e := range b.extra {
		if strings.HasPrefix(e, "LARDER_STORE_URL=") {
			return e
		}
	}
	return "LARDER_DB=" + filepath.Join(b.DataDir, "larder.db")
}

// sharingBroker starts a second broker process on b's store: its own
// data directory, token and API address, and b's monitor password (so both
// render the same node users).
func sharingBroker(t testing.TB, b *Broker, env ...string) *Broker {
	t.Helper()
	root := t.TempDir()
	lo, hi := portRange(100)
	// The same edge ports as b's (they are claimed in the one store): the
	// edge of whichever broker binds them first serves, the other's tries
	// again until it can.
	s := &Broker{t: t, DataDir: filepath.Join(root, "data"), Home: filepath.Join(root, "home"), Ports: [2]int{lo, hi}, EdgePorts: b.EdgePorts,
		extra: append([]string{"LARDER_NO_LOCAL_NODES=1", sharedStore(b)}, env...)}
	for _, d := range []string{s.DataDir, s.Home} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// The secrets every broker of one store shares (docs/scale-out.md).
	for _, f := range []string{"token", "monitor-password"} {
		secret, err := os.ReadFile(filepath.Join(b.DataDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(s.DataDir, f), secret, 0o600); err != nil {
			t.Fatal(err)
		}
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
