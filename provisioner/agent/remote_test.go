package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"larder/engine"
	"larder/fault"
	"larder/provisioner"
	"larder/provisioner/local"
	"larder/provisioner/nodetest"
)

// testAgent is an agent API over a real local.Host, served on a fixed
// loopback address so it can go down and come back where the RemoteHost
// looks for it.
type testAgent struct {
	env   *testEnv
	addr  string
	token string

	mu   sync.Mutex
	host *local.Host
	ring *EventRing
	srv  *http.Server
}

// agent starts a local.Host named h1 on the env's root and serves it.
func (e *testEnv) agent() *testAgent {
	e.TB.Helper()
	a := &testAgent{env: e, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(e.TB))), token: randomHex(e.TB)}
	e.Secrets = append(e.Secrets, a.token)
	a.restartHost()
	a.up()
	e.TB.Cleanup(a.down)
	return a
}

func (a *testAgent) url() string { return "http://" + a.addr }

// restartHost replaces the local.Host and its ring, as a restarted agent
// process would have: the nodes keep running, the event sequence starts over.
func (a *testAgent) restartHost() {
	a.env.TB.Helper()
	a.mu.Lock()
	old := a.host
	a.mu.Unlock()
	if old != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := old.Close(ctx); err != nil {
			a.env.TB.Fatalf("Close() error = %v", err)
		}
	}
	ring := NewEventRing(0)
	h := a.env.host(local.Options{Name: "h1", OnEvent: ring.Add})
	a.mu.Lock()
	a.host, a.ring = h, ring
	a.mu.Unlock()
}

// up serves the agent API on a.addr.
func (a *testAgent) up() {
	a.env.TB.Helper()
	var l net.Listener
	waitFor(a.env.TB, 5*time.Second, func() (err error) {
		l, err = net.Listen("tcp", a.addr)
		return err
	})
	a.mu.Lock()
	defer a.mu.Unlock()
	a.srv = &http.Server{Handler: NewHandler(a.host, a.ring, a.token, a.env.Log), ReadHeaderTimeout: 5 * time.Second}
	go a.srv.Serve(l)
}

// down stops serving; the local.Host keeps supervising.
func (a *testAgent) down() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.srv != nil {
		a.srv.Close()
		a.srv = nil
	}
}

// remote is a RemoteHost of the agent at url with fast test intervals; it
// records its events and is closed at cleanup.
func (e *testEnv) remote(url, token string) (*RemoteHost, *nodetest.Recorder) {
	e.TB.Helper()
	evs := &nodetest.Recorder{}
	r, err := NewRemoteHost(RemoteOptions{Name: "h1", URL: url, Token: token, OnEvent: evs.Add,
		PollInterval: 50 * time.Millisecond, Timeout: time.Second, Log: e.Log})
	if err != nil {
		e.TB.Fatalf("NewRemoteHost() error = %v", err)
	}
	e.TB.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			e.TB.Errorf("Close() error = %v", err)
		}
	})
	return r, evs
}

func wantKind(t *testing.T, what string, err error, kind fault.Kind) {
	t.Helper()
	if got := fault.KindOf(err); got != kind {
		t.Errorf("%s error = %v (kind %s), want kind %s", what, err, got, kind)
	}
}

func TestRemoteHostNodeLifecycle(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.agent()
	r, evs := env.remote(a.url(), a.token)
	if r.Name() != "h1" || r.Addr() != "127.0.0.1" || r.Engine() != env.Engine {
		t.Fatalf("remote host = %s on %q running %+v; want h1 on 127.0.0.1 running %+v", r.Name(), r.Addr(), r.Engine(), env.Engine)
	}
	ctx := context.Background()
	spec := env.spec("remote-life", true)
	n, err := r.Start(ctx, spec)
	if err != nil {
		t.Fatalf("Start() error = %v", err)
	}
	if n.PID <= 0 || n.Addr != "127.0.0.1" || n.Port != spec.Port || n.Dir != filepath.Join(env.Root, spec.Name) {
		t.Errorf("Start() = %+v, want a pid, 127.0.0.1:%d, dir under the agent's root", n, spec.Port)
	}
	cust := client(t, spec, spec.Customer)
	if err := cust.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("customer SET error = %v", err)
	}

	info, err := r.Info(ctx, spec)
	if err != nil || info.Role != "master" || !info.AOFEnabled || info.MaxMemoryBytes != spec.MaxMemoryBytes || info.MaxClients != spec.MaxClients {
		t.Errorf("Info() = %+v, %v; want a master with AOF, maxmemory %d, maxclients %d", info, err, spec.MaxMemoryBytes, spec.MaxClients)
	}
	spec.MaxMemoryBytes, spec.MaxClients = 30<<20, 30
	if err := r.Reconfigure(ctx, spec); err != nil {
		t.Fatalf("Reconfigure() error = %v", err)
	}
	if info, err := r.Info(ctx, spec); err != nil || info.MaxMemoryBytes != 30<<20 || info.MaxClients != 30 {
		t.Errorf("Info() after Reconfigure = %+v, %v; want maxmemory %d, maxclients 30", info, err, 30<<20)
	}
	if err := r.DisconnectUser(ctx, spec, engine.CustomerUser); err != nil {
		t.Errorf("DisconnectUser(customer) error = %v", err)
	}
	wantKind(t, "DisconnectUser(admin)", r.DisconnectUser(ctx, spec, engine.AdminUser), fault.Invalid)

	st, err := r.Status(ctx)
	if err != nil || len(st.Nodes) != 1 || st.Nodes[0].ID != spec.ID || st.Nodes[0].PID != n.PID || st.Nodes[0].State != "running" {
		t.Errorf("Status() = %+v, %v; want %s running as pid %d", st, err, spec.ID, n.PID)
	}
	if free, err := r.PortFree(ctx, spec.Port); free || err != nil {
		t.Errorf("PortFree(%d) = %v, %v for the node's port; want false", spec.Port, free, err)
	}
	if p := freePort(t); !mustPortFree(t, r, p) {
		t.Errorf("PortFree(%d) = false for a free port", p)
	}
	if again, err := r.Adopt(ctx, spec); err != nil || again.PID != n.PID {
		t.Errorf("Adopt() of a supervised node = %+v, %v; want pid %d kept", again, err, n.PID)
	}
	_, err = r.Start(ctx, spec)
	wantKind(t, "Start() twice", err, fault.Conflict)
	wantKind(t, "Stop(unknown)", r.Stop(ctx, "id-nope"), fault.NotFound)
	_, err = r.Start(ctx, provisioner.NodeSpec{ID: "id-bad", Name: "../bad", Port: freePort(t)})
	wantKind(t, "Start(bad name)", err, fault.Invalid)

	if err := r.Stop(ctx, spec.ID); err != nil {
		t.Fatalf("Stop() error = %v", err)
	}
	if running(n.PID) {
		t.Errorf("pid %d still runs after Stop()", n.PID)
	}
	back, err := r.Adopt(ctx, spec)
	if err != nil || back.PID == n.PID {
		t.Fatalf("Adopt() of a stopped node = %+v, %v; want a new pid", back, err)
	}
	evs.Wait(t, spec.ID, provisioner.EventRestarted, 0, 5*time.Second)
	if got, err := client(t, spec, spec.Customer).Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Errorf("GET k after restart in place = %q, %v; want v from the AOF", got, err)
	}

	if err := r.Remove(ctx, spec); err != nil {
		t.Fatalf("Remove() error = %v", err)
	}
	if _, err := os.Stat(n.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("node dir after Remove(): %v, want it gone", err)
	}
}

func TestRemoteHostEventsAfterKill(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.agent()
	r, evs := env.remote(a.url(), a.token)
	spec := env.spec("remote-kill", false)
	n, err := r.Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("Start() error = %v", err)
	}
	if err := syscall.Kill(n.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	exited := evs.Wait(t, spec.ID, provisioner.EventExited, 0, 10*time.Second)
	restarted := evs.Wait(t, spec.ID, provisioner.EventRestarted, 0, 10*time.Second)
	if exited.PID != n.PID || restarted.PID == n.PID || restarted.PID <= 0 {
		t.Errorf("events: exited pid %d, restarted pid %d; want %d, then a new one", exited.PID, restarted.PID, n.PID)
	}
	if got := evs.All(spec.ID); got[0].Kind != provisioner.EventExited {
		t.Errorf("events = %+v, want exited first", got)
	}

	// A restarted broker resumes after the cursor its predecessor reached,
	// or replays what the agent holds when it has none.
	waitFor(t, 5*time.Second, func() error {
		if c := r.Cursor(); c.Seq < 2 || c.Boot == "" {
			return fmt.Errorf("Cursor() = %+v, want past both events", c)
		}
		return nil
	})
	resumed := &nodetest.Recorder{}
	r2, err := NewRemoteHost(RemoteOptions{Name: "h1", URL: a.url(), Token: a.token, OnEvent: resumed.Add,
		Since: r.Cursor(), PollInterval: 50 * time.Millisecond, Log: env.Log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r2.Close(context.Background()) })
	_, replayed := env.remote(a.url(), a.token)
	if got := replayed.Wait(t, spec.ID, provisioner.EventExited, 0, 5*time.Second); got.PID != n.PID {
		t.Errorf("replayed exit = %+v, want the first one, of pid %d", got, n.PID)
	}
	if err := syscall.Kill(restarted.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	resumed.Wait(t, spec.ID, provisioner.EventRestarted, 0, 10*time.Second)
	if got := resumed.All(spec.ID); got[0].Kind != provisioner.EventExited || got[0].PID != restarted.PID {
		t.Errorf("resumed events = %+v, want only those after the cursor: pid %d exiting first", got, restarted.PID)
	}
}

func TestRemoteHostWrongToken(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.agent()
	r, _ := env.remote(a.url(), "not-"+a.token)
	ctx := context.Background()
	_, err := r.Status(ctx)
	wantKind(t, "Status()", err, fault.Unauthorized)
	_, err = r.Start(ctx, env.spec("remote-unauth", false))
	wantKind(t, "Start()", err, fault.Unauthorized)
	free, err := r.PortFree(ctx, freePort(t))
	wantKind(t, "PortFree()", err, fault.Unauthorized)
	if free {
		t.Error("PortFree() = true without a valid token")
	}
	if err := r.Reachable(); err != nil {
		t.Errorf("Reachable() = %v, want nil: the agent answers, it only refuses", err)
	}
	if r.Addr() != "" {
		t.Errorf("Addr() = %q, want it unknown", r.Addr())
	}
}

func TestRemoteHostWrongName(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.agent()
	r, err := NewRemoteHost(RemoteOptions{Name: "h2", URL: a.url(), Token: a.token, Log: env.Log, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	_, err = r.Start(context.Background(), env.spec("remote-name", false))
	wantKind(t, "Start() on an agent of another name", err, fault.Conflict)
	if st, _ := a.host.Status(context.Background()); len(st.Nodes) != 0 {
		t.Errorf("agent nodes = %+v, want none started", st.Nodes)
	}
}

func TestRemoteHostAgentDownAndRestarted(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.agent()
	r, evs := env.remote(a.url(), a.token)
	ctx := context.Background()
	spec := env.spec("remote-down", true)
	n, err := r.Start(ctx, spec)
	if err != nil {
		t.Fatalf("Start() error = %v", err)
	}

	a.down()
	_, err = r.Status(ctx)
	wantKind(t, "Status() with the agent down", err, fault.Unavailable)
	_, err = r.Info(ctx, spec)
	wantKind(t, "Info() with the agent down", err, fault.Unavailable)
	waitFor(t, 5*time.Second, func() error {
		if r.Reachable() == nil {
			return errors.New("Reachable() = nil with the agent down")
		}
		return nil
	})
	wantKind(t, "Reachable()", r.Reachable(), fault.Unavailable)
	if !running(n.PID) {
		t.Fatalf("node pid %d died with the agent's API", n.PID)
	}

	// The agent process restarts: a new supervisor, a new event sequence.
	a.restartHost()
	a.up()
	waitFor(t, 5*time.Second, func() error {
		_, err := r.Status(ctx)
		return err
	})
	if again, err := r.Adopt(ctx, spec); err != nil || again.PID != n.PID {
		t.Fatalf("Adopt() after the agent restarted = %+v, %v; want pid %d kept", again, err, n.PID)
	}
	if info, err := r.Info(ctx, spec); err != nil || info.Role != "master" {
		t.Errorf("Info() after the agent restarted = %+v, %v", info, err)
	}
	waitFor(t, 5*time.Second, r.Reachable)
	if err := syscall.Kill(n.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	evs.Wait(t, spec.ID, provisioner.EventExited, 0, 10*time.Second)
	evs.Wait(t, spec.ID, provisioner.EventRestarted, 0, 10*time.Second)
}

func TestRemoteHostAgentAbsentAtCreation(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	token := randomHex(t)
	r, _ := env.remote("http://"+addr, token)
	if r.Addr() != "" {
		t.Errorf("Addr() = %q before the agent answered, want empty", r.Addr())
	}
	spec := env.spec("remote-late", false)
	_, err := r.Start(context.Background(), spec)
	wantKind(t, "Start() before the agent is up", err, fault.Unavailable)

	a := &testAgent{env: env, addr: addr, token: token}
	a.restartHost()
	a.up()
	t.Cleanup(a.down)
	waitFor(t, 5*time.Second, func() error {
		if r.Addr() != "127.0.0.1" {
			return errors.New("the poll loop has not read the agent's status yet")
		}
		return nil
	})
	if _, err := r.Start(context.Background(), spec); err != nil {
		t.Errorf("Start() once the agent is up: %v", err)
	}
}

// mustPortFree is h.PortFree that fails the test on an error.
func mustPortFree(t *testing.T, h provisioner.Host, port int) bool {
	t.Helper()
	free, err := h.PortFree(context.Background(), port)
	if err != nil {
		t.Fatalf("PortFree(%d) error = %v", port, err)
	}
	return free
}

// TestRemoteHostPortCheckDeadline: an agent that never answers a port check
// does not hold the caller past its context's deadline; the answer is an
// Unavailable fault, not "taken".
func TestRemoteHostPortCheckDeadline(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	abandoned := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/status":
			fmt.Fprint(w, `{"name": "h1", "addr": "127.0.0.1", "nodes": []}`)
		case "/v1/events":
			fmt.Fprint(w, `{"boot": "b", "events": [], "last": 0}`)
		default:
			select {
			case <-r.Context().Done():
				abandoned <- struct{}{}
			case <-release:
			}
		}
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { close(release); srv.Close() })
	r, _ := env.remote("http://"+l.Addr().String(), "token")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	free, err := r.PortFree(ctx, 4242)
	wantKind(t, "PortFree() on a hung agent", err, fault.Unavailable)
	if free {
		t.Errorf("PortFree() on a hung agent = true")
	}
	select {
	case <-abandoned:
	case <-time.After(10 * time.Second):
		t.Errorf("the hung port check was never abandoned")
	}
}

func TestRemoteHostLogs(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.agent()
	r, _ := env.remote(a.url(), a.token)
	spec := env.spec("remote-logs", false)
	if _, err := r.Start(context.Background(), spec); err != nil {
		t.Fatalf("Start() error = %v", err)
	}
	nodetest.CheckLogs(t, env.Env, r, spec)
}
