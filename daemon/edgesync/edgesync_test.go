package edgesync

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/catalog"
	"larder/edge"
	"larder/internal/testkit"
	"larder/store"
	"larder/store/sqlite"
)

// backend is a TCP server that greets every connection with its name and
// holds it open: enough to see where the edge forwards.
func backend(t *testing.T, name string) (addr string, port int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.WriteString(c, name+"\n")
				io.Copy(io.Discard, c)
			}()
		}
	}()
	return "127.0.0.1", ln.Addr().(*net.TCPAddr).Port
}

// greeting dials the edge's port and returns the first line it reads.
func greeting(port int) (string, error) {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

func waitGreeting(t *testing.T, port int, want string) {
	t.Helper()
	testkit.WaitFor(t, 10*time.Second, func() error {
		if got, err := greeting(port); got != want {
			return fmt.Errorf("greeting %q (%v), want %q", got, err, want)
		}
		return nil
	})
}

// TestSyncerFollowsTheStore: the edge gets each add-on's route at start and
// follows the store from there, woken by the store's commits in one
// process and by looking at the feed's head from another: a promotion
// moves new connections to the new primary, an allowlist change cuts an
// open connection no longer allowed, and a destroyed add-on's port closes.
func TestSyncerFollowsTheStore(t *testing.T) {
	for _, tt := range []struct {
		name string
		poll time.Duration
	}{{"woken by commits", 0}, {"polling the head from another process", 20 * time.Millisecond}} {
		t.Run(tt.name, func(t *testing.T) { testSyncer(t, tt.poll) })
	}
}

func testSyncer(t *testing.T, poll time.Duration) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "larder.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reader := store.Store(st)
	if poll > 0 { // another handle on the file: the writer's commits do not reach it
		if reader, err = sqlite.Open(ctx, path); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { reader.Close() })
	}
	a, na, nb, plain := seed(t, st)
	log := logrus.New()
	log.SetOutput(io.Discard)
	e := edge.New(edge.Config{})
	t.Cleanup(func() { e.Close(context.Background()) })
	s, err := Start(ctx, Config{Store: reader, Catalog: catalog.Builtin(), Edge: e, Listen: "127.0.0.1", Poll: poll, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if got, err := greeting(plain); got != "A" {
		t.Fatalf("after Start: greeting %q (%v), want A", got, err)
	}
	if st, err := e.Stats(a.ID); err != nil || st.MaxConns != 20 || st.Epoch != 1 {
		t.Fatalf("route = %+v, %v; want mini's 20 connections under epoch 1", st, err)
	}

	// A promotion: B under epoch 2.
	err = st.InTx(ctx, func(tx store.Tx) error {
		ep, err := tx.AdvanceEpoch(ctx, a.ID, 1)
		if err != nil {
			return err
		}
		if err := tx.SetNodeRole(ctx, nb.ID, store.RolePrimary, ep); err != nil {
			return err
		}
		return tx.SetNodeRole(ctx, na.ID, store.RoleStandby, ep)
	})
	if err != nil {
		t.Fatal(err)
	}
	waitGreeting(t, plain, "B")

	// An open connection from a network the new list leaves out is cut.
	open, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(plain)))
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	r := bufio.NewReader(open)
	if line, err := r.ReadString('\n'); line != "B\n" {
		t.Fatalf("open connection: %q, %v", line, err)
	}
	if err := st.SetEdgeAccess(ctx, a.ID, []string{"203.0.113.0/24"}, false); err != nil {
		t.Fatal(err)
	}
	open.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := r.ReadString('\n'); err != io.EOF {
		t.Fatalf("a now-denied open connection read %v, want EOF (cut)", err)
	}
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(plain)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "PING\r\n")
	if line, err := bufio.NewReader(c).ReadString('\n'); line != edge.ErrDenied {
		t.Fatalf("a new connection from outside the list read %q, %v; want %q", line, err, edge.ErrDenied)
	}

	// Destroyed: the port closes.
	if err := st.DeleteAddon(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, func() error {
		if _, err := e.Stats(a.ID); err == nil {
			return fmt.Errorf("the route is still there")
		}
		return nil
	})
	if s.Cursor() == 0 {
		t.Errorf("cursor 0 after following changes")
	}
}

// seed records add-on redis-a with a primary greeting "A" and a standby
// greeting "B", and its edge ports; plain is the plain one.
func seed(t *testing.T, st store.Store) (a store.Addon, na, nb store.Node, plain int) {
	t.Helper()
	ctx := context.Background()
	aHost, aPort := backend(t, "A")
	bHost, bPort := backend(t, "B")
	plain = testkit.FreePort(t, testkit.EdgeSync)
	tls := testkit.FreePort(t, testkit.EdgeSync)
	app, _ := st.CreateApp(ctx, "web")
	a = store.Addon{Name: "redis-a", Service: "larder-redis", Plan: "mini", AppID: app.ID, State: api.StateProvisioned,
		MaxMemoryPolicy: "noeviction", AdminPassword: "a", CustomerUser: "default", CustomerPassword: "c"}
	na = store.Node{Name: "na", Role: store.RolePrimary, Host: "local", Address: aHost, Port: aPort, State: store.NodeRunning}
	nb = store.Node{Name: "nb", Role: store.RoleStandby, Host: "local", Address: bHost, Port: bPort, State: store.NodeRunning}
	err := st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateAddon(ctx, &a); err != nil {
			return err
		}
		na.AddonID, nb.AddonID = a.ID, a.ID
		for _, n := range []*store.Node{&na, &nb} {
			if err := tx.CreateNode(ctx, n); err != nil {
				return err
			}
		}
		if err := tx.EnsureEdge(ctx, a.ID, "127.0.0.1"); err != nil {
			return err
		}
		for kind, p := range map[string]int{store.EdgePlain: plain, store.EdgeTLS: tls} {
			if ok, err := tx.ClaimEdgePort(ctx, a.ID, kind, p); !ok || err != nil {
				return fmt.Errorf("claim %d: %v, %v", p, ok, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return a, na, nb, plain
}

// TestSyncerRetriesRefusedRoutes: a port another process holds when the
// route comes is taken once it is free (a second broker's edge on the
// same store, say, takes over when the first one stops).
func TestSyncerRetriesRefusedRoutes(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "larder.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	_, _, _, plain := seed(t, st)
	other, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(plain)))
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	e := edge.New(edge.Config{})
	t.Cleanup(func() { e.Close(context.Background()) })
	s, err := Start(ctx, Config{Store: st, Catalog: catalog.Builtin(), Edge: e, Listen: "127.0.0.1", Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	other.Close()
	waitGreeting(t, plain, "A")
}
