package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/api"
	"larder/internal/netns"
)

// nsProc is a larder process running inside a network namespace.
type nsProc struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
}

func startInNS(t testing.TB, ns *netns.NS, env []string, args ...string) *nsProc {
	t.Helper()
	p := &nsProc{logs: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = ns.Exec(append([]string{larderBin}, args...)...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s log:\n%s", strings.Join(args[:2], " "), p.logs.String())
		}
	})
	return p
}

// haCluster is a broker on the bridge, three agents (h1..h3) and three
// observer locations (l1..l3), each in its own namespace; others are more
// brokers on the first's store, if any.
type haCluster struct {
	b        *Broker
	others   []*Broker
	hostNS   map[string]*netns.NS
	locNS    map[string]*netns.NS
	monitors map[string]*nsProc // by location
	agents   map[string]*nsProc // by host
}

func newHACluster(t testing.TB, window string, extra ...string) *haCluster {
	return newHAClusterMon(t, window, nil, extra...)
}

// newHAClusterMon is newHACluster with extra flags for every monitor.
func newHAClusterMon(t testing.TB, window string, monArgs []string, extra ...string) *haCluster {
	c := newHAHosts(t, window, extra...)
	c.startMonitors(t, func(string) string { return c.b.URL }, monArgs...)
	c.waitUp(t)
	return c
}

// haPeer is the bridge's address: brokers listen on it, so that agents and
// monitors in the namespaces reach them.
const haPeer = "198.18.2.1"

// newHAHosts starts the broker of an haCluster and its three agents; the
// monitors are started next (startMonitors).
func newHAHosts(t testing.TB, window string, extra ...string) *haCluster {
	netns.RequireRoot(t)
	if engineErr != nil {
		t.Skip(engineErr)
	}
	c := &haCluster{hostNS: map[string]*netns.NS{}, locNS: map[string]*netns.NS{}, monitors: map[string]*nsProc{}, agents: map[string]*nsProc{}}
	for i, h := range []string{"h1", "h2", "h3"} {
		c.hostNS[h] = netns.New(t, h, fmt.Sprintf("198.18.2.%d", 11+i), haPeer)
	}
	for i, l := range []string{"l1", "l2", "l3"} {
		c.locNS[l] = netns.New(t, l, fmt.Sprintf("198.18.2.%d", 21+i), haPeer)
	}
	c.b = NewBroker(t, append(haBrokerEnv(window), extra...)...)
	env := baseEnv(c.b.Home)
	for name, ns := range c.hostNS {
		c.agents[name] = startInNS(t, ns, env, "agent", "--host", name, "--listen", ns.IP+":7481", "--addr", ns.IP,
			"--data-dir", filepath.Join(filepath.Dir(c.b.DataDir), "agent-"+name), "--token", "tok-"+name,
			"--broker", c.b.URL, "--broker-token", c.b.Token, "--check-interval", "100ms", "--lease", "1s")
	}
	// Nodes run in the hosts' namespaces until those go; stop them before the
	// data directories are removed (cleanups run last-registered first).
	t.Cleanup(func() {
		for _, ns := range c.hostNS {
			ns.Kill()
		}
	})
	return c
}

// haBrokerEnv is the environment of an haCluster's brokers: on the bridge,
// nodes on the agents, fast HA loops, window the failover window.
func haBrokerEnv(window string) []string {
	return []string{"LARDER_LISTEN=" + haPeer + ":0", "LARDER_NO_LOCAL_NODES=1", "LARDER_RECONCILE_INTERVAL=200ms",
		"LARDER_STANDBY_GRACE=1s", "LARDER_FAILOVER_WINDOW=" + window, "LARDER_MONITOR_FRESH=1s", "LARDER_LEASE=1s"}
}

// startMonitors starts a monitor in each location, reporting to the
// broker URL (or comma list) brokers gives for it, with extra flags.
func (c *haCluster) startMonitors(t testing.TB, brokers func(loc string) string, extra ...string) {
	env := baseEnv(c.b.Home)
	for name, ns := range c.locNS {
		c.monitors[name] = startInNS(t, ns, env, append([]string{"monitor", "--location", name, "--broker", brokers(name), "--token", c.b.Token,
			"--interval", "200ms", "--stall-hold", "3s"}, extra...)...)
	}
	// Nodes the agents started outlive them: kill every process of the
	// hosts before the broker's temporary directory (which holds the agents'
	// data) is removed, so no node writes into it meanwhile.
	t.Cleanup(func() {
		for _, ns := range c.hostNS {
			ns.Kill()
		}
	})
}

// waitUp waits until every broker of the cluster sees the three hosts up
// and the three locations reporting.
func (c *haCluster) waitUp(t testing.TB) {
	t.Helper()
	for i, b := range append([]*Broker{c.b}, c.others...) {
		WaitFor(t, 20*time.Second, fmt.Sprintf("broker %d to see 3 hosts and 3 locations up", i+1), func() error {
			hosts, err := b.Client().Hosts(context.Background())
			if err != nil {
				return err
			}
			up := 0
			for _, h := range hosts {
				if h.State == "up" && !h.Local {
					up++
				}
			}
			locs, err := b.Client().Monitors(context.Background())
			if err != nil {
				return err
			}
			if up < 3 || len(locs) < 3 {
				return fmt.Errorf("%d hosts up, %d locations", up, len(locs))
			}
			return nil
		})
	}
}

func eventKinds(t *testing.T, b *Broker, app string) map[string]int {
	t.Helper()
	evs, err := b.Client().Events(context.Background(), app, "REDIS")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range evs {
		out[e.Kind]++
	}
	return out
}

// noFailoverFor checks, for d, that no failover starts.
func noFailoverFor(t *testing.T, b *Broker, app string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if k := eventKinds(t, b, app); k["failover.detect"] > 0 {
			t.Fatalf("a failover started: %v", k)
		}
		time.Sleep(100 * time.Millisecond) // sampling an absence over a fixed span
	}
}

// TestHAMonitor covers issue 5's scenarios 1–4 with real partitions.
func TestHAMonitor(t *testing.T) {
	c := newHACluster(t, "2s")
	b := c.b
	ctx := context.Background()
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait")
	ha := waitInSync(t, b, "web", nil)
	url0 := configVars(t, b, "web")["REDIS_URL"]

	t.Run("observers see roles through the read-only monitor user", func(t *testing.T) {
		nodes, err := b.Client().MonitorTargets(ctx)
		if err != nil || len(nodes) != 2 {
			t.Fatalf("targets %+v, %v", nodes, err)
		}
		WaitFor(t, 10*time.Second, "every location reports both roles", func() error {
			locs, err := b.Client().Monitors(ctx)
			if err != nil {
				return err
			}
			for _, l := range locs {
				for _, n := range nodes {
					want := map[string]string{"primary": "master", "standby": "slave"}[n.Role]
					if l.Roles[n.NodeID] != want {
						return fmt.Errorf("%s sees %s as %q, want %q", l.Location, n.NodeID, l.Roles[n.NodeID], want)
					}
				}
			}
			return nil
		})
		r := b.MustLarder("monitors")
		for _, l := range []string{"l1", "l2", "l3"} {
			if !strings.Contains(r.Stdout, l) {
				t.Errorf("larder monitors does not list %s:\n%s", l, r.Stdout)
			}
		}
		// The monitor user may look, not touch.
		mc := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("%s:%d", nodes[0].Addr, nodes[0].Port),
			Username: nodes[0].MonitorUser, Password: nodes[0].MonitorPassword})
		defer mc.Close()
		if err := mc.Do(ctx, "ROLE").Err(); err != nil {
			t.Errorf("monitor user ROLE: %v", err)
		}
		if err := mc.Get(ctx, "k").Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
			t.Errorf("monitor user GET: %v, want NOPERM", err)
		}
	})

	t.Run("a stalled observer withholds its votes", func(t *testing.T) {
		p := c.monitors["l3"].cmd.Process
		p.Signal(syscall.SIGSTOP)
		stalledFor := time.Now()
		WaitFor(t, 10*time.Second, "l3 silent for more than the stall threshold", func() error {
			if time.Since(stalledFor) < 2500*time.Millisecond {
				return fmt.Errorf("stopped for %v", time.Since(stalledFor))
			}
			return nil
		})
		p.Signal(syscall.SIGCONT)
		WaitFor(t, 5*time.Second, "l3 reports its votes withheld", func() error {
			locs, err := b.Client().Monitors(ctx)
			if err != nil {
				return err
			}
			for _, l := range locs {
				if l.Location == "l3" && l.Stalled && time.Since(l.LastReport) < time.Second {
					return nil
				}
			}
			return fmt.Errorf("locations %+v", locs)
		})
		if r := b.MustLarder("monitors"); !strings.Contains(r.Stdout, "withheld") {
			t.Errorf("larder monitors does not show the withheld votes:\n%s", r.Stdout)
		}
		WaitFor(t, 10*time.Second, "l3 votes again after the hold", func() error {
			locs, _ := b.Client().Monitors(ctx)
			for _, l := range locs {
				if l.Location == "l3" && !l.Stalled {
					return nil
				}
			}
			return fmt.Errorf("still withheld")
		})
	})

	t.Run("one location cut off: no failover", func(t *testing.T) {
		c.locNS["l1"].Cut()
		noFailoverFor(t, b, "web", 4*time.Second) // twice the window
		c.locNS["l1"].Heal()
		if got := configVars(t, b, "web")["REDIS_URL"]; got != url0 {
			t.Errorf("REDIS_URL changed")
		}
	})

	t.Run("primary process killed, host alive: restart in place", func(t *testing.T) {
		pid, _, ok := nodePIDByPort(filepath.Join(filepath.Dir(b.DataDir), "agent-"+ha.PrimaryHost), primaryPort(t, b, "web"))
		if !ok {
			t.Fatal("no primary pid")
		}
		syscall.Kill(pid, syscall.SIGKILL)
		noFailoverFor(t, b, "web", 4*time.Second)
		if err := redisClient(t, url0).Ping(ctx).Err(); err != nil {
			t.Errorf("primary not back in place: %v", err)
		}
	})

	t.Run("primary host cut off: exactly one failover", func(t *testing.T) {
		addr0, port0 := primaryNode(t, b, "web")
		w := startWriter(b, "web")
		waitAcked(t, w, 200)
		cut := c.hostNS[ha.PrimaryHost]
		cutAt := time.Now()
		cut.Cut()
		defer cut.Heal()
		var after api.HAInfo
		WaitFor(t, 30*time.Second, "failover to the standby and a new standby", func() error {
			info := haInfo(t, b, "web")
			if info.HA == nil || info.HA.PrimaryHost != ha.StandbyHost || !info.HA.InSync {
				return fmt.Errorf("%s", info.HAStatus)
			}
			after = *info.HA
			return nil
		})
		// A client on the cut-off side (inside the namespace, straight to
		// the old primary) must not get a write acknowledged by it: its
		// agent fenced it.
		out, _ := cut.Exec("timeout", "2", "redis-cli", "-u", nodeURL(t, url0, addr0, port0), "SET", "split-brain", "yes").CombinedOutput()
		if strings.Contains(string(out), "OK") {
			t.Errorf("the old primary acknowledged a write after the failover: %q", out)
		}
		if strings.Contains(string(out), "Could not connect") {
			t.Errorf("the old primary was unreachable from its own side; the fence check proves nothing: %q", out)
		}
		waitAcked(t, w, 200)
		w.Stop()
		evs, _ := b.Client().Events(ctx, "web", "REDIS")
		for _, e := range evs {
			if strings.HasPrefix(e.Kind, "failover") || strings.HasPrefix(e.Kind, "standby") {
				t.Logf("%s %s %s", e.CreatedAt.Sub(cutAt).Round(time.Millisecond), e.Kind, e.Message)
			}
		}
		k := eventKinds(t, b, "web")
		if k["failover"] != 1 || k["failover.detect"] != 1 {
			t.Errorf("failover events %v, want exactly one", k)
		}
		if after.StandbyHost == ha.PrimaryHost {
			t.Errorf("new standby on the cut-off host")
		}
		if urls := w.URLs(); len(urls) != 1 || urls[0] != url0 {
			t.Errorf("the writer wrote to %v; want REDIS_URL unchanged through the failover", urls)
		}
		waitServedBy(t, url0, primaryPort(t, b, "web")) // the data path moved to the new primary
		lost := w.missing(t)
		t.Logf("host cut: outage seen by the writer %v (cut → first write on the new primary), %d of %d acknowledged writes lost, failover took %v",
			w.maxGap, lost, len(w.acked), time.Since(cutAt))
		if lost != 0 {
			t.Errorf("%d acknowledged writes lost", lost)
		}
		// Heal: the old primary must not take writes, and larder removes it.
		cut.Heal()
		oldDir := filepath.Join(filepath.Dir(b.DataDir), "agent-"+ha.PrimaryHost, "nodes")
		WaitFor(t, 20*time.Second, "old primary removed from the healed host", func() error {
			entries, _ := os.ReadDir(oldDir)
			for _, e := range entries {
				if strings.HasSuffix(url0, "") && e.IsDir() {
					pid, _, ok := nodePIDByPort(filepath.Dir(oldDir), port0)
					if ok && processAlive(pid) {
						return fmt.Errorf("old primary pid %d still runs", pid)
					}
				}
			}
			return nil
		})
	})

	t.Run("standby down when the primary is lost: nothing promoted, reported", func(t *testing.T) {
		now := haInfo(t, b, "web")
		if now.HA == nil {
			t.Fatal("no pair")
		}
		urlBefore := configVars(t, b, "web")["REDIS_URL"]
		primaryBefore := primaryPort(t, b, "web")
		c.hostNS[now.HA.StandbyHost].Cut()
		c.hostNS[now.HA.PrimaryHost].Cut()
		defer c.hostNS[now.HA.StandbyHost].Heal()
		defer c.hostNS[now.HA.PrimaryHost].Heal()
		WaitFor(t, 30*time.Second, "failover blocked and reported", func() error {
			if k := eventKinds(t, b, "web"); k["failover.blocked"] == 0 {
				return fmt.Errorf("events %v", k)
			}
			return nil
		})
		info := haInfo(t, b, "web")
		if !strings.Contains(info.Status, "needs an operator") {
			t.Errorf("status %q does not say the add-on needs help", info.Status)
		}
		if k := eventKinds(t, b, "web"); k["failover"] != 1 {
			t.Errorf("a second failover happened: %v", k)
		}
		if got := configVars(t, b, "web")["REDIS_URL"]; got != urlBefore {
			t.Errorf("REDIS_URL changed: %s, want %s", got, urlBefore)
		}
		if got := primaryPort(t, b, "web"); got != primaryBefore {
			t.Errorf("the primary moved to another node (port %d → %d) although no standby was fit", primaryBefore, got)
		}
	})
}
