package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/api"
)

// haBroker starts a broker that places nodes only on agents, with fast HA loops.
func haBroker(t *testing.T) *Broker {
	return NewBroker(t, "LARDER_NO_LOCAL_NODES=1", "LARDER_RECONCILE_INTERVAL=200ms", "LARDER_STANDBY_GRACE=1s")
}

func haInfo(t *testing.T, b *Broker, app string) api.RedisInfo {
	t.Helper()
	r := b.MustLarder("redis:info", "-a", app, "--json")
	var infos []api.RedisInfo
	if err := json.Unmarshal([]byte(r.Stdout), &infos); err != nil || len(infos) != 1 {
		t.Fatalf("redis:info --json: %v\n%s", err, r.Stdout)
	}
	return infos[0]
}

func waitInSync(t *testing.T, b *Broker, app string, check func(api.HAInfo) error) api.HAInfo {
	t.Helper()
	var h api.HAInfo
	WaitFor(t, 30*time.Second, "pair in sync", func() error {
		info := haInfo(t, b, app)
		if info.HA == nil || !info.HA.InSync || info.HA.Rebuilding {
			return fmt.Errorf("ha = %+v (%s)", info.HA, info.HAStatus)
		}
		h = *info.HA
		if check != nil {
			return check(h)
		}
		return nil
	})
	return h
}

func portOf(t *testing.T, rawURL string) int {
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(u.Port())
	return p
}

// writer does SETs with sequence numbers through the app's REDIS_URL with
// one go-redis client, which reconnects by itself after an error (the URL
// names the edge, which closes connections when the primary moves); it
// reads the URL again after an error and makes a new client only if the
// URL changed (as an app restarted on a config change would). It records
// every acknowledged write, the longest gap between two acknowledgements,
// and every URL it saw.
type writer struct {
	b      *Broker
	app    string
	url    string   // the URL it writes to now
	urls   []string // every URL it wrote to, in order
	mu     sync.Mutex
	acked  []int
	maxGap time.Duration
	errs   int
	stop   chan struct{}
	done   chan struct{}
}

func startWriter(b *Broker, app string) *writer {
	w := &writer{b: b, app: app, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

// currentURL reads the app's REDIS_URL and reports whether it changed.
func (w *writer) currentURL() (string, bool) {
	vars, err := w.b.Client().ConfigVars(context.Background(), w.app)
	if err != nil || vars["REDIS_URL"] == "" {
		return "", false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if vars["REDIS_URL"] == w.url {
		return w.url, false
	}
	w.url = vars["REDIS_URL"]
	w.urls = append(w.urls, w.url)
	return w.url, true
}

func (w *writer) client() *redis.Client {
	u, _ := w.currentURL()
	return w.clientOf(u)
}

func (w *writer) clientOf(u string) *redis.Client {
	opt, err := redis.ParseURL(u)
	if err != nil {
		return nil
	}
	opt.MaxRetries, opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = -1, 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
	// One dial attempt: go-redis retries a failed dial 5 times by default,
	// which would measure the client's patience rather than the failover.
	opt.DialerRetries = 1
	return redis.NewClient(opt)
}

// URLs lists every URL the writer wrote to.
func (w *writer) URLs() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.urls...)
}

func (w *writer) run() {
	defer close(w.done)
	ctx := context.Background()
	c := w.client()
	last := time.Now()
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		select {
		case <-w.stop:
			if c != nil {
				c.Close()
			}
			return
		default:
		}
		if c == nil {
			c = w.client()
			continue
		}
		if err := c.Set(ctx, fmt.Sprintf("seq:%d", i), i, 0).Err(); err != nil {
			w.mu.Lock()
			w.errs++
			w.mu.Unlock()
			if u, changed := w.currentURL(); changed {
				c.Close()
				c = w.clientOf(u)
			}
			continue
		}
		now := time.Now()
		w.mu.Lock()
		w.acked = append(w.acked, i)
		if gap := now.Sub(last); gap > w.maxGap {
			w.maxGap = gap
		}
		w.mu.Unlock()
		last = now
	}
}

func (w *writer) Stop() {
	close(w.stop)
	<-w.done
}

// missing counts acknowledged writes absent from the add-on now. A read that
// fails is retried on a fresh connection; only a read that answers "no such
// key" or another value counts as a lost write.
func (w *writer) missing(tb testing.TB) int {
	ctx := context.Background()
	c := w.client()
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	n := 0
	for _, i := range w.acked {
		key := fmt.Sprintf("seq:%d", i)
		var v string
		var err error
		for try := 0; try < 20; try++ {
			if c == nil {
				c = w.client()
				continue
			}
			if v, err = c.Get(ctx, key).Result(); err == nil || err == redis.Nil {
				break
			}
			c.Close()
			c = w.client()
		}
		switch {
		case err == redis.Nil, err == nil && v != strconv.Itoa(i):
			n++
		case err != nil:
			tb.Fatalf("cannot read %s to check it: %v", key, err)
		}
	}
	return n
}

// TestHAPair covers issue 4 end to end on three agents: the pair is placed on
// two hosts and in sync; a killed or hung primary is restarted in place with
// no failover; a planned switchover under a steady writer loses nothing; a
// broker restart re-adopts everything; a lost standby host gets a new standby
// on the third host, and the old one is removed when its host returns.
func TestHAPair(t *testing.T) {
	b := haBroker(t)
	ctx := context.Background()
	agents := map[string]*Agent{}
	for _, name := range []string{"h1", "h2"} {
		agents[name] = b.StartAgent(name)
	}
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait")
	ha := waitInSync(t, b, "web", nil)
	if ha.PrimaryHost == ha.StandbyHost || ha.SharesHost {
		t.Fatalf("pair shares host %s; want two hosts", ha.PrimaryHost)
	}
	url0 := configVars(t, b, "web")["REDIS_URL"]
	c := redisClient(t, url0)
	for i := 0; i < 100; i++ {
		if err := c.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatalf("write k%d: %v", i, err)
		}
	}

	t.Run("kill -9 primary restarts in place", func(t *testing.T) {
		port0 := primaryPort(t, b, "web")
		pid, _, ok := nodePIDByPort(agents[ha.PrimaryHost].Dir, port0)
		if !ok {
			t.Fatal("no primary pid")
		}
		syscall.Kill(pid, syscall.SIGKILL)
		WaitFor(t, 20*time.Second, "primary back", func() error {
			np, _, ok := nodePIDByPort(agents[ha.PrimaryHost].Dir, port0)
			if !ok || np == pid || !processAlive(np) {
				return fmt.Errorf("pid %d", np)
			}
			return c.Ping(ctx).Err()
		})
		if n, _ := c.DBSize(ctx).Result(); n != 100 {
			t.Errorf("keys after restart in place = %d, want 100", n)
		}
		if got := configVars(t, b, "web")["REDIS_URL"]; got != url0 || primaryPort(t, b, "web") != port0 {
			t.Errorf("REDIS_URL or the primary changed: a crash must not fail over")
		}
		waitInSync(t, b, "web", nil)
	})

	t.Run("SIGSTOP past the hang limit restarts in place", func(t *testing.T) {
		port0 := primaryPort(t, b, "web")
		pid, _, ok := nodePIDByPort(agents[ha.PrimaryHost].Dir, port0)
		if !ok || pid <= 0 {
			t.Fatal("no primary pid") // kill(0, …) would stop this test's own process group
		}
		syscall.Kill(pid, syscall.SIGSTOP)
		WaitFor(t, 20*time.Second, "hung primary replaced", func() error {
			np, _, ok := nodePIDByPort(agents[ha.PrimaryHost].Dir, port0)
			if !ok || np == pid || !processAlive(np) {
				return fmt.Errorf("pid %d", np)
			}
			return c.Ping(ctx).Err()
		})
		if n, _ := c.DBSize(ctx).Result(); n != 100 {
			t.Errorf("keys after hang restart = %d, want 100", n)
		}
		waitInSync(t, b, "web", nil)
	})

	t.Run("primary back without its data: the standby takes over", func(t *testing.T) {
		addr0, port0 := primaryNode(t, b, "web")
		pid, dir, ok := nodePIDByPort(agents[ha.PrimaryHost].Dir, port0)
		if !ok {
			t.Fatal("no primary pid")
		}
		// Lose the primary's data, then its process: restarted in place it
		// would be an empty primary; larder must not let that happen.
		if err := os.RemoveAll(filepath.Join(dir, "appendonlydir")); err != nil {
			t.Fatal(err)
		}
		syscall.Kill(pid, syscall.SIGKILL)
		after := waitInSync(t, b, "web", func(h api.HAInfo) error {
			if h.PrimaryHost != ha.StandbyHost {
				return fmt.Errorf("primary still on %s", h.PrimaryHost)
			}
			return nil
		})
		// The URL names the edge: the same before and after; the data
		// path moved to the new primary.
		if url1 := configVars(t, b, "web")["REDIS_URL"]; url1 != url0 {
			t.Fatalf("REDIS_URL changed in a failover: %s, want %s", url1, url0)
		}
		_, port1 := primaryNode(t, b, "web")
		if port1 == port0 {
			t.Fatalf("the primary is still the node that lost its data (port %d)", port1)
		}
		waitServedBy(t, url0, port1)
		c1 := redisClient(t, url0)
		if n, err := c1.DBSize(ctx).Result(); err != nil || n != 100 {
			t.Errorf("keys on the new primary = %d, %v; want 100", n, err)
		}
		rejoined := redisClient(t, nodeURL(t, url0, addr0, port0))
		if n, err := rejoined.DBSize(ctx).Result(); err != nil || n != 100 {
			t.Errorf("the rejoined node holds %d keys (%v); want 100, synced from the new primary", n, err)
		}
		if after.Epoch <= ha.Epoch {
			t.Errorf("epoch not bumped: %d → %d", ha.Epoch, after.Epoch)
		}
		c, ha = c1, after
	})

	t.Run("planned switchover loses no acknowledged write", func(t *testing.T) {
		w := startWriter(b, "web")
		WaitFor(t, 5*time.Second, "writer running", func() error {
			w.mu.Lock()
			defer w.mu.Unlock()
			if len(w.acked) < 100 {
				return fmt.Errorf("%d acked", len(w.acked))
			}
			return nil
		})
		b.MustLarder("redis:failover", "-a", "web")
		after := waitInSync(t, b, "web", func(h api.HAInfo) error {
			if h.PrimaryHost != ha.StandbyHost {
				return fmt.Errorf("primary still on %s", h.PrimaryHost)
			}
			return nil
		})
		w.mu.Lock()
		n := len(w.acked)
		w.mu.Unlock()
		WaitFor(t, 10*time.Second, "writes on the new primary", func() error {
			w.mu.Lock()
			defer w.mu.Unlock()
			if len(w.acked) < n+100 {
				return fmt.Errorf("%d acked", len(w.acked))
			}
			return nil
		})
		w.Stop()
		waitServedBy(t, url0, primaryPort(t, b, "web"))
		if m := w.missing(t); m != 0 {
			t.Errorf("%d of %d acknowledged writes lost in the switchover", m, len(w.acked))
		}
		if urls := w.URLs(); len(urls) != 1 || urls[0] != url0 {
			t.Errorf("the writer wrote to %v; want the one URL %s all along (its client reconnected by itself)", urls, url0)
		}
		t.Logf("switchover: %d writes acknowledged, longest gap between acknowledgements %v", len(w.acked), w.maxGap)
		if after.Epoch <= ha.Epoch {
			t.Errorf("epoch %d after switchover, want > %d", after.Epoch, ha.Epoch)
		}
		ha = after
	})

	t.Run("broker restart re-adopts the pair", func(t *testing.T) {
		b.Stop()
		b.Start()
		waitInSync(t, b, "web", nil)
		c2 := redisClient(t, configVars(t, b, "web")["REDIS_URL"])
		if v, err := c2.Get(ctx, "k42").Result(); err != nil || v != "42" {
			t.Errorf("k42 after broker restart = %q, %v", v, err)
		}
	})

	t.Run("lost standby host gets a new standby elsewhere", func(t *testing.T) {
		agents["h3"] = b.StartAgent("h3")
		lost := agents[ha.StandbyHost]
		lost.Kill()
		url1 := configVars(t, b, "web")["REDIS_URL"]
		c1 := redisClient(t, url1)
		if err := c1.Set(ctx, "during", "yes", 0).Err(); err != nil {
			t.Errorf("add-on not writable while its standby's host is gone: %v", err)
		}
		rebuilt := waitInSync(t, b, "web", func(h api.HAInfo) error {
			if h.StandbyHost != "h3" {
				return fmt.Errorf("standby on %s", h.StandbyHost)
			}
			return nil
		})
		if rebuilt.PrimaryHost != ha.PrimaryHost {
			t.Errorf("primary moved from %s to %s; only the standby should change", ha.PrimaryHost, rebuilt.PrimaryHost)
		}
		if v, err := c1.Get(ctx, "during").Result(); err != nil || v != "yes" {
			t.Errorf("during = %q, %v", v, err)
		}
		// The old standby still runs on the lost host; when it returns, larder
		// stops it and moves it to the host's quarantine (kept, not deleted).
		lost.Start()
		WaitFor(t, 20*time.Second, "orphan standby quarantined on the returning host", func() error {
			st, err := b.Client().Hosts(ctx)
			if err != nil {
				return err
			}
			for _, h := range st {
				if h.Name == lost.Name && h.Nodes == 0 {
					files, _ := filepath.Glob(filepath.Join(lost.Dir, "nodes", "*"))
					kept, _ := filepath.Glob(filepath.Join(lost.Dir, "quarantine", "*"))
					if len(files) == 0 && len(kept) == 1 {
						return nil
					}
					return fmt.Errorf("node dirs left: %v; quarantined: %v", files, kept)
				}
			}
			return fmt.Errorf("hosts %+v", st)
		})
	})
}
