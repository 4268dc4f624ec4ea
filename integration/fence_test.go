package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/api"
	"larder/provisioner"
)

// clusterLease is the agents' and broker's lease in newHACluster.
const clusterLease = time.Second

// setOnce writes key through rawURL on a fresh connection that gives up
// after timeout: a paused primary makes it time out.
func setOnce(rawURL, key string, timeout time.Duration) error {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return err
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.MaxRetries = timeout, timeout, timeout, -1
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return c.Set(ctx, key, "v", 0).Err()
}

// writeKeys writes n keys through rawURL.
func writeKeys(t *testing.T, rawURL string, n int) {
	t.Helper()
	c := redisClient(t, rawURL)
	for i := range n {
		if err := c.Set(context.Background(), fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatalf("write k%d: %v", i, err)
		}
	}
}

// keysKept checks that the n keys writeKeys wrote read back through rawURL.
func keysKept(t *testing.T, rawURL string, n int) {
	t.Helper()
	c := redisClient(t, rawURL)
	for i := range n {
		if v, err := c.Get(context.Background(), fmt.Sprintf("k%d", i)).Result(); err != nil || v != fmt.Sprint(i) {
			t.Fatalf("k%d = %q, %v: want %d", i, v, err, i)
		}
	}
}

// standbyHas waits until app's standby has applied every write its primary
// acknowledged: replication is asynchronous, and a test that then loses the
// primary expects every key on the standby.
func standbyHas(t *testing.T, b *Broker, app string) {
	t.Helper()
	waitInSync(t, b, app, func(h api.HAInfo) error {
		if h.LagBytes != 0 {
			return fmt.Errorf("standby %d bytes behind", h.LagBytes)
		}
		return nil
	})
}

// agentStatus asks the agent of host (in ns) for its status, as the broker would.
func (c *haCluster) agentStatus(host string) (provisioner.HostStatus, error) {
	var st provisioner.HostStatus
	req, _ := http.NewRequest(http.MethodGet, "http://"+c.hostNS[host].IP+":7481/v1/status", nil)
	req.Header.Set("Authorization", "Bearer tok-"+host)
	cl := &http.Client{Timeout: time.Second}
	resp, err := cl.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("status %d", resp.StatusCode)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// pauseOn is the pause host's agent reports on the node at port; nil if none.
func (c *haCluster) pauseOn(host string, port int) (*provisioner.Pause, error) {
	st, err := c.agentStatus(host)
	if err != nil {
		return nil, err
	}
	for _, ns := range st.Nodes {
		if ns.Port == port {
			return ns.Pause, nil
		}
	}
	return nil, fmt.Errorf("host %s runs no node on port %d: %+v", host, port, st.Nodes)
}

// waitPausedLog waits until host's agent logs that the lease paused a
// node's writes. It reads the log, not the agent's API: an authenticated call
// is the broker's, and renews the lease.
func (c *haCluster) waitPausedLog(t *testing.T, host string) {
	t.Helper()
	WaitFor(t, 10*time.Second, "the agent of "+host+" to say it paused writes", func() error {
		for _, l := range strings.Split(c.agents[host].logs.String(), "\n") {
			if strings.Contains(l, "writes paused since") && strings.Contains(l, "lease expired") {
				return nil
			}
		}
		return fmt.Errorf("not yet")
	})
}

// restartSameAddress starts the killed broker b again where it listened, so
// agents and observers keep finding it, without the env entries named by
// drop (e.g. a crash point).
func restartSameAddress(b *Broker, drop ...string) {
	b.t.Helper()
	extra := []string{"LARDER_LISTEN=" + strings.TrimPrefix(b.URL, "http://")}
	for _, e := range b.extra {
		keep := !strings.HasPrefix(e, "LARDER_LISTEN=")
		for _, d := range drop {
			keep = keep && !strings.HasPrefix(e, d+"=")
		}
		if keep {
			extra = append(extra, e)
		}
	}
	b.extra = extra
	b.Start()
}

// killBroker kills b with SIGKILL, as a crash would.
func killBroker(b *Broker) {
	b.cmd.Process.Kill()
	<-b.done
	b.cmd = nil
}

// TestLeasePauseLiftedWhenBrokerReturns (issue 18.1): the standby's host is
// cut and the broker killed; past the lease the primary's agent pauses its
// writes (the fence) and says so, and keeps them paused while the broker is
// away. When the broker comes back, writes through REDIS_URL succeed within
// lease + 1 s, every key is kept, and the events say what happened.
func TestLeasePauseLiftedWhenBrokerReturns(t *testing.T) {
	c := newHACluster(t, "2s")
	b := c.b
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait")
	ha := waitInSync(t, b, "web", nil)
	url := configVars(t, b, "web")["REDIS_URL"]
	port := primaryPort(t, b, "web")
	direct := directURL(t, b, "web") // the edge goes with the broker: check the node itself
	writeKeys(t, url, 100)

	c.hostNS[ha.StandbyHost].Cut()
	defer c.hostNS[ha.StandbyHost].Heal()
	killBroker(b)

	// The broker does not come back (yet): the primary is fenced, its agent
	// says so, and the fence holds for as long as the broker is away.
	c.waitPausedLog(t, ha.PrimaryHost)
	for end := time.Now().Add(3 * clusterLease); time.Now().Before(end); {
		if err := setOnce(direct, "fenced", 300*time.Millisecond); err == nil {
			t.Fatal("a write went through on a primary fenced by its lease")
		}
	}
	p, err := c.pauseOn(ha.PrimaryHost, port) // the broker's view (this call renews the lease, as the broker's would)
	if err != nil || p == nil || p.Owner != provisioner.PauseOwnerLease || !strings.Contains(p.String(), "writes paused since") || !strings.Contains(p.Reason, "lease expired") {
		t.Fatalf("the agent's status reports the pause as %+v (%v); want the lease's, saying since when and why", p, err)
	}

	// The broker is back, the standby's host still cut: the primary takes
	// writes again within lease + 1 s of the broker answering.
	restartSameAddress(b)
	WaitFor(t, clusterLease+time.Second, "a write through REDIS_URL after the broker is back", func() error {
		return setOnce(url, "back", 300*time.Millisecond)
	})
	keysKept(t, url, 100)
	if got, err := c.pauseOn(ha.PrimaryHost, port); err != nil || got != nil {
		t.Errorf("pause after the broker is back = %+v, %v; want none", got, err)
	}
	WaitFor(t, 10*time.Second, "events of the pause and its end", func() error {
		evs, err := b.Client().Events(context.Background(), "web", "REDIS")
		if err != nil {
			return err
		}
		var paused, resumed bool
		for _, e := range evs {
			paused = paused || e.Kind == "node.paused" && strings.Contains(e.Message, "writes paused since") && strings.Contains(e.Message, "lease expired")
			resumed = resumed || e.Kind == "node.resumed" && strings.Contains(e.Message, "writes resumed")
		}
		if !paused || !resumed {
			return fmt.Errorf("events %v", evs)
		}
		return nil
	})
	if info := haInfo(t, b, "web"); strings.Contains(info.Status, "paused") || info.WritesPaused != "" {
		t.Errorf("redis:info says %q / %q after the pause was lifted", info.Status, info.WritesPaused)
	}
}

// TestBrokerCrashAfterPromotionOldPrimaryBack (issue 18.1): the broker dies
// right after promoting the standby, and the old primary's host comes back
// before the broker does. Both primaries' agents have paused their writes
// (neither has a replica or the broker). Once the broker is back, the new
// primary takes writes within lease + 1 s, every key is kept, and the old
// primary is removed: never two primaries taking writes.
func TestBrokerCrashAfterPromotionOldPrimaryBack(t *testing.T) {
	c := newHACluster(t, "2s", "LARDER_CRASH_AT=failover.promoted")
	b := c.b
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait")
	ha := waitInSync(t, b, "web", nil)
	url0 := configVars(t, b, "web")["REDIS_URL"]
	addr0, port0 := primaryNode(t, b, "web")
	direct0 := nodeURL(t, url0, addr0, port0) // the old primary itself, past the edge
	// The old primary is known by its process: once it is removed, the new
	// standby built on its host may take the same port.
	pid0, _, ok := nodePIDByPort(filepath.Join(filepath.Dir(b.DataDir), "agent-"+ha.PrimaryHost), port0)
	if !ok {
		t.Fatalf("no pid for the primary on port %d of %s", port0, ha.PrimaryHost)
	}
	writeKeys(t, url0, 100)
	standbyHas(t, b, "web")

	c.hostNS[ha.PrimaryHost].Cut()
	select {
	case <-b.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the broker did not reach the crash point")
	}
	b.cmd = nil
	c.hostNS[ha.PrimaryHost].Heal()
	c.waitPausedLog(t, ha.PrimaryHost)
	// The new primary's agent lost the broker too, and it has no replica.
	c.waitPausedLog(t, ha.StandbyHost)
	var newPort int
	if st, err := c.agentStatus(ha.StandbyHost); err == nil {
		for _, ns := range st.Nodes {
			if ns.Pause != nil {
				newPort = ns.Port
			}
		}
	}
	if newPort == 0 {
		t.Fatalf("the new primary's agent reports no pause")
	}

	restartSameAddress(b, "LARDER_CRASH_AT")
	url1 := configVars(t, b, "web")["REDIS_URL"]
	if url1 != url0 {
		t.Fatalf("REDIS_URL changed in the failover: %s, want %s", url1, url0)
	}
	if p := primaryPort(t, b, "web"); p != newPort {
		t.Fatalf("primary on port %d after the restart: want the promoted standby (port %d)", p, newPort)
	}
	WaitFor(t, clusterLease+time.Second, "a write to the new primary after the broker is back", func() error {
		return setOnce(url1, "back", 300*time.Millisecond)
	})
	keysKept(t, url1, 100)
	WaitFor(t, 20*time.Second, "the old primary removed from its returning host", func() error {
		if err := setOnce(direct0, "split-brain", 300*time.Millisecond); err == nil {
			return fmt.Errorf("the old primary took a write")
		}
		if processAlive(pid0) {
			return fmt.Errorf("old primary pid %d still runs", pid0)
		}
		return nil
	})
	if k := eventKinds(t, b, "web"); k["failover"] != 1 {
		t.Errorf("events %v: want exactly one failover", k)
	}
}

// TestSwitchoverCrash (issue 18.1): the broker dies in the middle of a
// planned switchover, with the primary's writes paused. Before the new roles
// are recorded, nothing changes and the pause ends by itself (it is bounded);
// after, the next broker applies the recorded roles. Either way writes
// through REDIS_URL work again, and never do two nodes answer as primary.
func TestSwitchoverCrash(t *testing.T) {
	for _, tt := range []struct {
		point   string
		swapped bool
		within  time.Duration // of the broker's restart, for writes through REDIS_URL
	}{
		{"switchover.swap", false, 20 * time.Second}, // the pause's bound: the switchover's timeout + 10 s
		{"switchover.committed", true, 5 * time.Second},
	} {
		t.Run(tt.point, func(t *testing.T) {
			b := NewBroker(t, "LARDER_NO_LOCAL_NODES=1", "LARDER_RECONCILE_INTERVAL=200ms", "LARDER_CRASH_AT="+tt.point)
			b.StartAgent("h1")
			b.StartAgent("h2")
			b.MustLarder("apps:create", "web")
			b.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait")
			ha := waitInSync(t, b, "web", nil)
			url0 := configVars(t, b, "web")["REDIS_URL"]
			port0 := primaryPort(t, b, "web")
			writeKeys(t, url0, 100)
			targets, err := b.Client().MonitorTargets(context.Background())
			if err != nil || len(targets) != 2 {
				t.Fatalf("targets %+v, %v", targets, err)
			}
			stop := watchRoles(targets)

			b.Larder("redis:failover", "-a", "web", "--no-wait")
			select {
			case <-b.done:
			case <-time.After(30 * time.Second):
				t.Fatal("the broker did not reach the crash point")
			}
			b.cmd = nil
			restartSameAddress(b, "LARDER_CRASH_AT")
			url := configVars(t, b, "web")["REDIS_URL"]
			if url != url0 {
				t.Fatalf("REDIS_URL changed: %s, want %s", url, url0)
			}
			if swapped := primaryPort(t, b, "web") != port0; swapped != tt.swapped {
				t.Fatalf("primary moved: %v, want %v", swapped, tt.swapped)
			}
			WaitFor(t, tt.within, "a write through REDIS_URL after the restart", func() error {
				return setOnce(url, "back", 300*time.Millisecond)
			})
			keysKept(t, url, 100)
			want := ha.PrimaryHost
			if tt.swapped {
				want = ha.StandbyHost
			}
			waitInSync(t, b, "web", func(h api.HAInfo) error {
				if h.PrimaryHost != want {
					return fmt.Errorf("primary on %s, want %s", h.PrimaryHost, want)
				}
				return nil
			})
			waitServedBy(t, url, primaryPort(t, b, "web"))
			if roles := rolesOf(targets); roles["master"] != 1 || roles["slave"] != 1 {
				t.Errorf("roles %v: want one master and one replica", roles)
			}
			if n := stop(); n > 0 {
				t.Errorf("both nodes answered as primary at once (%d samples)", n)
			}
		})
	}
}
