package integration

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// appConn is one app connection opened by hand and held: AUTH as the URL's
// user, and the first line the node answered.
func appConn(t *testing.T, rawURL string) (net.Conn, string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", u.Host, err)
	}
	t.Cleanup(func() { c.Close() })
	pw, _ := u.User.Password()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "AUTH %s %s\r\n", u.User.Username(), pw)
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return c, "read: " + err.Error()
	}
	c.SetDeadline(time.Time{})
	return c, strings.TrimSpace(line)
}

// stayUp checks, for a while longer than the supervisor's hang window, that
// every node keeps its pid.
func stayUp(t *testing.T, b *Broker, pids []int, d time.Duration) {
	t.Helper()
	until := time.Now().Add(d)
	for time.Now().Before(until) {
		for _, pid := range pids {
			if !processAlive(pid) {
				t.Fatalf("node pid %d is gone: it was restarted", pid)
			}
		}
		time.Sleep(100 * time.Millisecond) // observation period: nothing to wait for
	}
	if got := nodePIDs(b.DataDir); len(got) != len(pids) {
		t.Fatalf("node pids = %v, want %v", got, pids)
	}
}

// TestAppBehaviourKeepsItsData: legal things an app does (try to pause the
// node, run a script longer than the supervisor's hang window, hold every
// connection its plan allows) never cost it a key or a restart, and
// larder's own admin work (redis:info, settings, credential rotation) keeps
// working meanwhile.
func TestAppBehaviourKeepsItsData(t *testing.T) {
	// A one-second hang window for both kinds of plan: only the evidence
	// of life keeps a node from being restarted.
	b := NewBroker(t, "LARDER_HANG_TIMEOUT=1s", "LARDER_HANG_TIMEOUT_NO_PERSISTENCE=1s")
	plans := []struct {
		name    string
		clients int
	}{{"mini", 20}, {"premium-0", 40}}
	for _, plan := range plans {
		b.MustLarder("apps:create", plan.name)
		b.MustLarder("addons:create", "larder-redis:"+plan.name, "-a", plan.name, "--wait")
	}
	for _, plan := range plans {
		t.Run(plan.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			app := plan.name
			url1 := configVars(t, b, app)["REDIS_URL"]
			c := redisClient(t, url1)
			for i := range 100 {
				if err := c.Set(ctx, fmt.Sprint("k", i), i, 0).Err(); err != nil {
					t.Fatal(err)
				}
			}
			pids := nodePIDs(b.DataDir)

			if err := c.Do(ctx, "CLIENT", "PAUSE", "8000").Err(); err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
				t.Errorf("app CLIENT PAUSE 8000 error = %v, want NOPERM", err)
			}
			opt, err := redis.ParseURL(url1)
			if err != nil {
				t.Fatal(err)
			}
			opt.ReadTimeout = 10 * time.Second
			slow := redis.NewClient(opt)
			script := "local t=tonumber(redis.call('TIME')[1])+3 while tonumber(redis.call('TIME')[1])<t do end"
			if err := slow.Eval(ctx, script, nil).Err(); err != nil && err != redis.Nil {
				t.Errorf("a 3 s script error = %v, want it to run to its end", err)
			}
			c.Close()
			slow.Close()

			// Exactly the plan's limit of connections, then one more.
			WaitFor(t, 10*time.Second, "the app's earlier connections closed", func() error {
				r := b.MustLarder("redis:info", "-a", app)
				if !strings.Contains(r.Stdout, fmt.Sprintf("0 / %d", plan.clients)) {
					return fmt.Errorf("redis:info:\n%s", r.Stdout)
				}
				return nil
			})
			for i := range plan.clients {
				if _, first := appConn(t, url1); first != "+OK" {
					t.Fatalf("app connection %d of %d: %q", i+1, plan.clients, first)
				}
			}
			if _, first := appConn(t, url1); !strings.Contains(first, "max number of clients reached") {
				t.Errorf("app connection %d (one over the plan): %q, want max number of clients reached", plan.clients+1, first)
			}
			r := b.MustLarder("redis:info", "-a", app)
			if want := fmt.Sprintf("%d / %d", plan.clients, plan.clients); !strings.Contains(r.Stdout, want) {
				t.Errorf("redis:info while the app holds every connection lacks %q:\n%s", want, r.Stdout)
			}
			b.MustLarder("redis:maxmemory", "-a", app, "--policy", "allkeys-lru")
			b.MustLarder("redis:credentials", "-a", app, "--reset")
			url2 := configVars(t, b, app)["REDIS_URL"]
			if url2 == url1 {
				t.Fatalf("REDIS_URL unchanged after redis:credentials --reset")
			}
			stayUp(t, b, pids, 2*time.Second)

			c2 := redisClient(t, url2)
			for i := range 100 {
				if v, err := c2.Get(ctx, fmt.Sprint("k", i)).Result(); err != nil || v != fmt.Sprint(i) {
					t.Fatalf("k%d = %q, %v after everything: the add-on lost its data", i, v, err)
				}
			}
			if p, err := c2.ConfigGet(ctx, "maxmemory-policy").Result(); err == nil {
				t.Errorf("the app read CONFIG: %v", p)
			}
			evs := eventsOf(t, b, app, "REDIS")
			for _, kind := range []string{"node.hung", "node.exited", "node.restarted", "node.unresponsive"} {
				if strings.Contains(evs, kind) {
					t.Errorf("events of %s hold %s:\n%s", app, kind, evs)
				}
			}
		})
	}
}
