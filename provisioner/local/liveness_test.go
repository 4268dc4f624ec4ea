package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/engine"
	"larder/fault"
	"larder/provisioner"
)

// busyLua keeps the engine's only thread in a script for secs seconds: it
// answers nothing at all until the script's time limit (5 s), so only its
// CPU time shows it is alive.
func busyLua(secs int) string {
	return fmt.Sprintf("local t=tonumber(redis.call('TIME')[1])+%d while tonumber(redis.call('TIME')[1])<t do end", secs)
}

// livenessHost is a host whose supervisor judges fast: a node with no
// sign of life for a second is stuck, and a node without persistence gets
// no longer window, so only the evidence of life keeps a node alive.
func livenessHost(env *testEnv) *Host {
	return env.host(Options{HangTimeout: time.Second, NoPersistenceHangTimeout: time.Second, PingTimeout: 200 * time.Millisecond})
}

// checkKept checks that the n keys fill wrote are all there.
func checkKept(t *testing.T, spec provisioner.NodeSpec, n int) {
	t.Helper()
	c := client(t, spec, spec.Customer)
	defer c.Close()
	for i := range n {
		got, err := c.Get(context.Background(), "key"+strconv.Itoa(i)).Result()
		if err != nil || got != strconv.Itoa(i) {
			t.Fatalf("GET key%d = %q, %v; want %d: the node lost its data", i, got, err, i)
		}
	}
}

// answeredAfter waits until the supervisor has had an answer from the node
// later than since: its judgement then covers the whole time until since.
func answeredAfter(t *testing.T, h *Host, id string, since time.Time) {
	t.Helper()
	waitFor(t, 15*time.Second, func() error {
		st, err := h.Status(context.Background())
		if err != nil {
			return err
		}
		for _, n := range st.Nodes {
			if n.ID == id && n.LastOK.After(since) {
				return nil
			}
		}
		return fmt.Errorf("no answer recorded after %v: %+v", since.Format(time.StampMilli), st.Nodes)
	})
}

// checkUntouched fails if the node was restarted or reported as hung.
func checkUntouched(t *testing.T, env *testEnv, spec provisioner.NodeSpec, n provisioner.Node) {
	t.Helper()
	if evs := env.Events.All(spec.ID); len(evs) != 0 {
		t.Errorf("events = %+v, want none: the node was alive all along", evs)
	}
	if pids := pidsUnder(n.Dir); len(pids) != 1 || pids[0] != n.PID {
		t.Errorf("processes of the node = %v, want only %d (never restarted)", pids, n.PID)
	}
}

// rawConn is one app connection held open, outside any pool.
type rawConn struct {
	c net.Conn
	r *bufio.Reader
}

// dialApp opens a connection as u and returns the first line the node
// answered to AUTH: "+OK", or its refusal.
func dialApp(t *testing.T, spec provisioner.NodeSpec, u engine.User) (*rawConn, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(spec.Port)), 2*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	rc := &rawConn{c: c, r: bufio.NewReader(c)}
	fmt.Fprintf(c, "AUTH %s %s\r\n", u.Name, u.Password)
	line, err := rc.r.ReadString('\n')
	if err != nil {
		return rc, "read: " + err.Error()
	}
	c.SetDeadline(time.Time{})
	return rc, strings.TrimSpace(line)
}

// holdAll opens exactly the plan's limit of app connections, once the
// node has let go of earlier ones, and checks that one more is refused.
func holdAll(t *testing.T, h *Host, spec provisioner.NodeSpec) []*rawConn {
	t.Helper()
	waitFor(t, 5*time.Second, func() error {
		info, err := h.Info(context.Background(), spec)
		if err == nil && info.ConnectedClients != 0 {
			err = fmt.Errorf("%d app connections still open", info.ConnectedClients)
		}
		return err
	})
	var held []*rawConn
	for i := range spec.MaxClients {
		rc, first := dialApp(t, spec, spec.Customer)
		if first != "+OK" {
			t.Fatalf("app connection %d of %d: AUTH answered %q, want +OK", i+1, spec.MaxClients, first)
		}
		held = append(held, rc)
	}
	_, first := dialApp(t, spec, spec.Customer)
	if !strings.Contains(first, "max number of clients reached") {
		t.Fatalf("app connection %d (one over the plan's %d): AUTH answered %q, want max number of clients reached",
			spec.MaxClients+1, spec.MaxClients, first)
	}
	return held
}

func TestAppBehaviourNeverCostsTheNode(t *testing.T) {
	behaviours := []struct {
		name string
		do   func(t *testing.T, h *Host, spec provisioner.NodeSpec)
	}{
		{"app CLIENT PAUSE 8000", func(t *testing.T, h *Host, spec provisioner.NodeSpec) {
			err := client(t, spec, spec.Customer).Do(context.Background(), "CLIENT", "PAUSE", "8000").Err()
			if err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
				t.Errorf("app CLIENT PAUSE error = %v, want NOPERM: larder owns pauses", err)
			}
		}},
		{"larder's own CLIENT PAUSE 3000", func(t *testing.T, h *Host, spec provisioner.NodeSpec) {
			// A pause delays every reply, the supervisor's PING included;
			// a delayed reply is an answer.
			if err := client(t, spec, spec.Admin).Do(context.Background(), "CLIENT", "PAUSE", "3000").Err(); err != nil {
				t.Fatal(err)
			}
			answeredAfter(t, h, spec.ID, time.Now().Add(2500*time.Millisecond))
		}},
		{"Lua loop of 3s", func(t *testing.T, h *Host, spec provisioner.NodeSpec) {
			c := redis.NewClient(&redis.Options{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(spec.Port)),
				Username: spec.Customer.Name, Password: spec.Customer.Password, ReadTimeout: 10 * time.Second, MaxRetries: -1, DisableIdentity: true})
			defer c.Close()
			if err := c.Eval(context.Background(), busyLua(3), nil).Err(); err != nil && err.Error() != "redis: nil" {
				t.Fatalf("EVAL error = %v, want the script to run to its end", err)
			}
		}},
		{"every connection held", func(t *testing.T, h *Host, spec provisioner.NodeSpec) {
			held := holdAll(t, h, spec)
			ctx := context.Background()
			info, err := h.Info(ctx, spec)
			if err != nil {
				t.Fatalf("Info() while the app holds every connection: %v", err)
			}
			if info.ConnectedClients != spec.MaxClients || info.MaxClients != spec.MaxClients {
				t.Errorf("Info() clients = %d of %d, want %d of %d", info.ConnectedClients, info.MaxClients, spec.MaxClients, spec.MaxClients)
			}
			spec.MaxMemoryPolicy = "allkeys-lru"
			if err := h.Reconfigure(ctx, spec); err != nil {
				t.Errorf("Reconfigure() while the app holds every connection: %v", err)
			}
			if err := h.DisconnectUser(ctx, spec, spec.Customer.Name); err != nil {
				t.Errorf("DisconnectUser() while the app holds every connection: %v", err)
			}
			for _, rc := range held {
				rc.c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := rc.r.ReadString('\n'); err == nil {
					t.Fatalf("an app connection survived DisconnectUser")
				}
			}
		}},
	}
	for _, persistent := range []bool{false, true} {
		plan := "mini"
		if persistent {
			plan = "persistent"
		}
		for _, b := range behaviours {
			t.Run(plan+"/"+b.name, func(t *testing.T) {
				t.Parallel()
				env := newEnv(t)
				h := livenessHost(env)
				spec := env.spec("app", persistent)
				n := startNode(t, h, spec)
				fill(t, spec, 100)
				b.do(t, h, spec)
				// The supervisor has judged the node over more than a hang window
				// after the behaviour ended.
				answeredAfter(t, h, spec.ID, time.Now().Add(1500*time.Millisecond))
				checkUntouched(t, env, spec, n)
				checkKept(t, spec, 100)
			})
		}
	}
}

// TestPairLeavesTheAppItsLimit: on both nodes of a pair, the standby's
// replication link has its own reserved connection, so the app still opens
// exactly its plan's limit on the primary and the link survives it.
func TestPairLeavesTheAppItsLimit(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	h := livenessHost(env)
	primary, standby := env.spec("p", true), env.spec("s", true)
	repl := engine.User{Name: engine.ReplUser, Password: randomHex(t)}
	primary.Repl, standby.Repl = repl, repl
	standby.Admin, standby.Customer = primary.Admin, primary.Customer // one add-on's users
	primary.FallbackReplicaOf = &engine.Endpoint{Addr: "127.0.0.1", Port: standby.Port}
	standby.ReplicaOf = &engine.Endpoint{Addr: "127.0.0.1", Port: primary.Port}
	startNode(t, h, primary)
	startNode(t, h, standby)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := engine.WaitInSync(ctx, targetOf(standby), engine.Endpoint{Addr: "127.0.0.1", Port: primary.Port}); err != nil {
		t.Fatal(err)
	}
	holdAll(t, h, primary)
	// Drop the link: the standby must get back in although the app holds
	// every connection it may.
	if _, err := h.adminDo(ctx, primary, "CLIENT", "KILL", "TYPE", "replica"); err != nil {
		t.Fatal(err)
	}
	if err := engine.WaitInSync(ctx, targetOf(standby), engine.Endpoint{Addr: "127.0.0.1", Port: primary.Port}); err != nil {
		t.Errorf("standby after its link dropped while the app holds every connection: %v", err)
	}
	if _, err := h.Info(ctx, primary); err != nil {
		t.Errorf("Info(primary) while the app holds every connection: %v", err)
	}
}

// TestStuckNodeRestarted: a SIGSTOPped node shows neither answers nor CPU
// progress. With persistence it is restarted after the hang window with its
// data; without, only after the longer window, saying its data was lost.
func TestStuckNodeRestarted(t *testing.T) {
	for _, persistent := range []bool{true, false} {
		t.Run(fmt.Sprintf("persistent=%v", persistent), func(t *testing.T) {
			t.Parallel()
			env := newEnv(t)
			h := env.host(Options{HangTimeout: time.Second, NoPersistenceHangTimeout: 3 * time.Second, PingTimeout: 200 * time.Millisecond})
			spec := env.spec("stuck", persistent)
			n := startNode(t, h, spec)
			fill(t, spec, 50)
			if err := syscall.Kill(n.PID, syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			skip := 0
			if !persistent {
				ev := env.Events.Wait(t, spec.ID, provisioner.EventUnresponsive, 0, 10*time.Second)
				if !strings.Contains(ev.Message, "no persistence") {
					t.Errorf("unresponsive event = %q, want it to say why the node is not restarted yet", ev.Message)
				}
				if !running(n.PID) || len(env.Events.All(spec.ID)) != 1 {
					t.Fatalf("after the hang window: pid %d running %v, events %+v; want it left alone until the longer window",
						n.PID, running(n.PID), env.Events.All(spec.ID))
				}
				skip = 1
			}
			hung := env.Events.Wait(t, spec.ID, provisioner.EventHung, skip, 15*time.Second)
			restarted := env.Events.Wait(t, spec.ID, provisioner.EventRestarted, skip, 15*time.Second)
			if hung.PID != n.PID || restarted.PID == n.PID {
				t.Errorf("hung pid %d, restarted pid %d; want hung %d and a new pid", hung.PID, restarted.PID, n.PID)
			}
			if running(n.PID) {
				t.Errorf("stopped process %d still exists after the restart", n.PID)
			}
			if persistent {
				checkKept(t, spec, 50)
				return
			}
			if !strings.Contains(hung.Message, "data") || !strings.Contains(hung.Message, "no persistence") {
				t.Errorf("hung event = %q, want it to say the data was lost and why", hung.Message)
			}
		})
	}
}

// TestAdoptAppliesTheCustomerACL: a node started before CLIENT PAUSE was
// denied (or with an older connection limit) gets the current rules and
// limit when a new host adopts it, without a restart.
func TestAdoptAppliesTheCustomerACL(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	first := env.host(Options{})
	spec := env.spec("old", false)
	n := startNode(t, first, spec)
	ctx := context.Background()
	admin := client(t, spec, spec.Admin)
	// What an older larder left: the app could pause, and 4 more connections.
	if err := admin.Do(ctx, "ACL", "SETUSER", engine.CustomerUser, "+client").Err(); err != nil {
		t.Fatal(err)
	}
	if err := admin.ConfigSet(ctx, "maxclients", strconv.Itoa(spec.MaxClients+4)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	second := env.host(Options{})
	got, err := second.Adopt(ctx, spec)
	if err != nil || got.PID != n.PID {
		t.Fatalf("Adopt() = %+v, %v; want pid %d kept", got, err, n.PID)
	}
	err = client(t, spec, spec.Customer).Do(ctx, "CLIENT", "PAUSE", "10").Err()
	if err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
		t.Errorf("app CLIENT PAUSE after adoption error = %v, want NOPERM", err)
	}
	cfg, err := admin.ConfigGet(ctx, "maxclients").Result()
	if want := strconv.Itoa(spec.MaxClients + 1); err != nil || cfg["maxclients"] != want {
		t.Errorf("maxclients after adoption = %v, %v; want %s", cfg, err, want)
	}
}

// TestReconfigureKeepsConnections: applying users live keeps every
// connection of a user that still exists (larder's own, the replication
// link, the app's); only a removed user's connections go.
func TestReconfigureKeepsConnections(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	h := env.host(Options{})
	spec := env.spec("reconf", false)
	kept, gone := engine.User{Name: "binding-1", Password: randomHex(t)}, engine.User{Name: "binding-2", Password: randomHex(t)}
	spec.ExtraUsers = []engine.User{kept, gone}
	startNode(t, h, spec)
	ctx := context.Background()
	conns := map[string]*rawConn{}
	var mu sync.Mutex
	for _, u := range []engine.User{spec.Customer, kept, gone} {
		rc, first := dialApp(t, spec, u)
		if first != "+OK" {
			t.Fatalf("AUTH %s = %q", u.Name, first)
		}
		mu.Lock()
		conns[u.Name] = rc
		mu.Unlock()
	}
	spec.ExtraUsers = []engine.User{kept}
	spec.Customer.Password = randomHex(t)
	env.Secrets = append(env.Secrets, spec.Customer.Password)
	if err := h.Reconfigure(ctx, spec); err != nil {
		t.Fatalf("Reconfigure() error = %v", err)
	}
	alive := func(name string) bool {
		rc := conns[name]
		rc.c.SetDeadline(time.Now().Add(2 * time.Second))
		fmt.Fprint(rc.c, "PING\r\n")
		line, err := rc.r.ReadString('\n')
		return err == nil && strings.HasPrefix(line, "+PONG")
	}
	for name, want := range map[string]bool{spec.Customer.Name: true, kept.Name: true, gone.Name: false} {
		if got := alive(name); got != want {
			t.Errorf("connection of %s alive after Reconfigure = %v, want %v", name, got, want)
		}
	}
	if err := client(t, spec, spec.Customer).Ping(ctx).Err(); err != nil {
		t.Errorf("the new customer password: %v", err)
	}
	// Live users are exactly what a restart would load from the file.
	live, err := client(t, spec, spec.Admin).Do(ctx, "ACL", "LIST").StringSlice()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Stop(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	startNode(t, h, spec)
	loaded, err := client(t, spec, spec.Admin).Do(ctx, "ACL", "LIST").StringSlice()
	if err != nil {
		t.Fatal(err)
	}
	// The engine lists a user's command rules in no fixed order.
	norm := func(list []string) string {
		var out []string
		for _, line := range list {
			f := strings.Fields(line)
			sort.Strings(f)
			out = append(out, strings.Join(f, " "))
		}
		sort.Strings(out)
		return strings.Join(out, "\n")
	}
	if norm(live) != norm(loaded) {
		t.Errorf("ACL LIST after Reconfigure:\n%s\nafter a restart from the file:\n%s", strings.Join(live, "\n"), strings.Join(loaded, "\n"))
	}
}

// TestTargetOnFullNode: a direct admin call to a node the app fills says so
// clearly instead of "does not answer".
func TestTargetOnFullNode(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	h := livenessHost(env)
	spec := env.spec("crowded", false)
	startNode(t, h, spec)
	holdAll(t, h, spec)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := engine.Replication(ctx, targetOf(spec))
	if err == nil || !errors.Is(err, engine.ErrNodeFull) || !strings.Contains(fault.Message(err), "is full") {
		t.Errorf("Replication() of a full node error = %v, want one saying the node is full", err)
	}
}
