package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"larder/api"
	"larder/internal/testkit"
)

// Stand-ins for brokers that do not answer, on loopback.

// closedPortURL is a loopback port nobody listens on: connections are refused.
func closedPortURL(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("http://127.0.0.1:%d", freeTCPPort(t))
}

// stoppingURL answers every request as a broker that is shutting down does
// (503 with api.StoppingHeader).
func stoppingURL(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(api.StoppingHeader, "true")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"id":"unavailable","message":"the broker is shutting down"}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// countingProxy forwards requests to a broker and counts them by method and
// path. With drop set it still forwards each request, so the broker does
// it, then closes the connection without the answer: a broker that took a
// request and died before answering.
type countingProxy struct {
	URL  string
	srv  *httptest.Server
	drop atomic.Bool
	mu   sync.Mutex
	seen map[string]int
}

func newCountingProxy(t *testing.T, target string) *countingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{seen: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.seen[r.Method+" "+r.URL.Path]++
		p.mu.Unlock()
		if !p.drop.Load() {
			rp.ServeHTTP(w, r)
			return
		}
		rp.ServeHTTP(httptest.NewRecorder(), r) // the broker does it; the answer is lost
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(p.Cut)
	p.URL = p.srv.URL
	return p
}

// count is how many requests of method to path reached the proxy.
func (p *countingProxy) count(method, path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen[method+" "+path]
}

// Cut closes the proxy and every connection through it, as a broker's
// machine that goes away does. Safe to call twice.
func (p *countingProxy) Cut() {
	p.srv.CloseClientConnections()
	p.srv.Close()
}

// appNames lists the apps of b.
func appNames(t *testing.T, b *Broker) []string {
	t.Helper()
	apps, err := b.Client().Apps(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range apps {
		names = append(names, a.Name)
	}
	return names
}

func hasApp(t *testing.T, b *Broker, name string) bool {
	t.Helper()
	for _, n := range appNames(t, b) {
		if n == name {
			return true
		}
	}
	return false
}

// TestBrokerListCLI: with LARDER_API_URL listing a broker that is dead,
// hangs or is shutting down before a live one, the CLI's reads go to the
// live broker; a write goes there too when the first broker never got it
// (dead), and otherwise fails saying it may have been done, with nothing
// sent to the live broker. A provision's --wait follows the live broker.
func TestBrokerListCLI(t *testing.T) {
	b := NewBroker(t)
	b.MustLarder("apps:create", "seen")
	hang := testkit.NewHanging(t)
	firsts := []struct {
		name, url string
		writeErr  string // "": the write goes to the live broker
	}{
		{"dead", closedPortURL(t), ""},
		{"hanging", hang.URL, "did not answer POST /apps (no answer within 1s); it may have done it: check before trying again"},
		{"stopping", stoppingURL(t), "did not answer POST /apps (answered 503 Service Unavailable, shutting down); it may have done it"},
	}
	for _, f := range firsts {
		t.Run(f.name, func(t *testing.T) {
			env := []string{"LARDER_API_URL=" + f.url + "," + b.URL, "LARDER_API_TIMEOUT=1s"}
			if r := b.LarderEnv("", env, "apps"); r.Code != 0 || !strings.Contains(r.Stdout, "seen") {
				t.Fatalf("larder apps: exit %d, %q, %q; want the live broker's apps", r.Code, r.Stdout, r.Stderr)
			}
			app := "web-" + f.name
			r := b.LarderEnv("", env, "apps:create", app)
			if f.writeErr == "" {
				if r.Code != 0 || !hasApp(t, b, app) {
					t.Fatalf("apps:create: exit %d, %q; want it made on the live broker", r.Code, r.Stderr)
				}
				if r := b.LarderEnv("", env, "addons:create", "larder-redis:mini", "-a", app, "--wait"); r.Code != 0 {
					t.Fatalf("addons:create --wait: exit %d, %q", r.Code, r.Stderr)
				}
				if r := b.LarderEnv("", env, "config:get", "REDIS_URL", "-a", app); r.Code != 0 || !strings.HasPrefix(r.Stdout, "redis://") {
					t.Fatalf("config:get REDIS_URL after addons:create --wait: exit %d, %q, %q", r.Code, r.Stdout, r.Stderr)
				}
				return
			}
			if r.Code == 0 || !strings.Contains(r.Stderr, f.writeErr) || !strings.Contains(r.Stderr, "not sent to another broker") {
				t.Errorf("apps:create: exit %d, %q; want an error with %q", r.Code, r.Stderr, f.writeErr)
			}
			if hasApp(t, b, app) {
				t.Errorf("the live broker made %s: the write was sent twice", app)
			}
		})
	}
	if hang.Took.Load() == 0 {
		t.Error("the hanging broker was never asked")
	}
}

// TestBrokerListNotSentTwice: a broker that takes a write and dies before
// answering (a counting proxy that forwards the request, then drops the
// answer) is not followed by the same write on the next broker: the CLI
// says it may have been done, the first broker did it once, the second
// never saw it. A read in the same situation goes on to the second broker.
func TestBrokerListNotSentTwice(t *testing.T) {
	a, b := NewBroker(t), NewBroker(t)
	// Brokers of one deployment share the API token: b takes a's, so a
	// write sent on to b would be done there.
	b.Stop()
	if err := os.WriteFile(filepath.Join(b.DataDir, "token"), []byte(a.Token), 0o600); err != nil {
		t.Fatal(err)
	}
	b.Start()
	if b.Token != a.Token {
		t.Fatalf("b's token %q, want a's", b.Token)
	}
	first := newCountingProxy(t, a.URL)
	first.drop.Store(true)
	second := newCountingProxy(t, b.URL)
	env := []string{"LARDER_API_URL=" + first.URL + "," + second.URL, "LARDER_API_TIMEOUT=5s"}

	r := a.LarderEnv("", env, "apps:create", "web")
	if r.Code == 0 || !strings.Contains(r.Stderr, "the larder broker at "+first.URL+" did not answer POST /apps (connection closed without an answer); it may have done it") {
		t.Errorf("apps:create through a broker that drops its answer: exit %d, %q", r.Code, r.Stderr)
	}
	if n := first.count(http.MethodPost, "/apps"); n != 1 {
		t.Errorf("the first broker got POST /apps %d times, want once", n)
	}
	if n := second.count(http.MethodPost, "/apps"); n != 0 {
		t.Errorf("the second broker got POST /apps %d times, want never", n)
	}
	if !hasApp(t, a, "web") {
		t.Error("the first broker did not make the app it was sent")
	}
	if hasApp(t, b, "web") {
		t.Error("the second broker made the app too: the write was done twice")
	}

	// A read is safe to repeat: its answer lost at a, it goes on to b.
	b.MustLarder("apps:create", "only-on-b")
	r = a.LarderEnv("", env, "apps")
	if r.Code != 0 || !strings.Contains(r.Stdout, "only-on-b") || first.count(http.MethodGet, "/apps") != 1 || second.count(http.MethodGet, "/apps") != 1 {
		t.Errorf("larder apps: exit %d, %q, %q; GETs %d and %d; want b's apps after one lost GET at a",
			r.Code, r.Stdout, r.Stderr, first.count(http.MethodGet, "/apps"), second.count(http.MethodGet, "/apps"))
	}
}

// TestBrokerListLogsTailMoves: `larder logs -t` long-polling a broker that
// goes away (its URL cut, connections and all) goes on from its cursor
// through the next URL of the list: the next event shows, and no line
// shows twice.
func TestBrokerListLogsTailMoves(t *testing.T) {
	b := NewBroker(t)
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--wait")
	p := newCountingProxy(t, b.URL)

	lines, stderr := startTail(t, p.URL+","+b.URL, b, "-s", "larder", "-n", "5", "-a", "web")
	var shown []string
	next := func(want string) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("larder logs -t ended; stderr: %s", stderr.String())
				}
				shown = append(shown, l)
				if strings.Contains(l, want) {
					return
				}
			case <-deadline:
				t.Fatalf("larder logs -t showed no line with %q (shown: %q); stderr: %s", want, shown, stderr.String())
			}
		}
	}
	next("addon.provisioned")
	// The tail is waiting on the proxy's broker; cut it mid-wait.
	WaitFor(t, 10*time.Second, "the tail to long-poll through the proxy", func() error {
		if p.count(http.MethodGet, "/apps/web/logs") < 2 {
			return fmt.Errorf("%d reads", p.count(http.MethodGet, "/apps/web/logs"))
		}
		return nil
	})
	p.Cut()
	b.MustLarder("redis:maxmemory", "-a", "web", "--policy", "allkeys-lru")
	next("settings.update")
	b.MustLarder("redis:timeout", "-a", "web", "--seconds", "30")
	next("settings.update: maxmemory_policy=allkeys-lru timeout=30")
	seen := map[string]bool{}
	for _, l := range shown {
		if seen[l] {
			t.Errorf("line shown twice: %q (all: %q)", l, shown)
		}
		seen[l] = true
	}
}

// TestBrokerListAgentAndMonitor: an agent and a monitor given a list whose
// first brokers are dead, hanging and shutting down register and report
// with the live one: the broker lists the host up and the location voting,
// with the add-on's node seen up.
func TestBrokerListAgentAndMonitor(t *testing.T) {
	b := NewBroker(t)
	list := strings.Join([]string{closedPortURL(t), testkit.NewHanging(t).URL, stoppingURL(t), b.URL}, ",")

	b.StartAgentVia(list, "h1", "--broker-timeout", "1s") // waits until b lists h1 up

	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--wait")
	var logs syncBuffer
	mon := exec.Command(larderBin, "monitor", "--location", "l1", "--broker", list, "--token", b.Token, "--interval", "200ms")
	mon.Env = baseEnv(b.Home)
	mon.Stdout, mon.Stderr = &logs, &logs
	if err := mon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		mon.Process.Kill()
		mon.Wait()
		if t.Failed() {
			t.Logf("monitor log:\n%s", logs.String())
		}
	})
	WaitFor(t, 20*time.Second, "location l1 to vote with the node up", func() error {
		locs, err := b.Client().Monitors(context.Background())
		if err != nil {
			return err
		}
		for _, l := range locs {
			if l.Location == "l1" && l.Voting && l.Up >= 1 {
				return nil
			}
		}
		return fmt.Errorf("monitors: %+v", locs)
	})
	if s := logs.String(); !strings.Contains(s, "reporting to "+list) {
		t.Errorf("monitor said %q, want the list it reports to", s)
	}
}
