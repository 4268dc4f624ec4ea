package edge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/fault"
)

// A switch of backend under a go-redis writer: the writer keeps its one
// address, reconnects by itself, and every write it starts after the switch
// lands on the new node.
func TestBackendSwitchUnderWriter(t *testing.T) {
	a, b := startNode(t), startNode(t)
	if a.Pass != b.Pass { // one add-on's password is the same on both nodes
		if err := b.client(t).ConfigSet(context.Background(), "requirepass", a.Pass).Err(); err != nil {
			t.Fatal(err)
		}
		b.Pass = a.Pass
	}
	e := newEdge(t, Config{})
	r := routeTo("a1", a, 1)
	if err := e.Apply([]Route{r}); err != nil {
		t.Fatal(err)
	}
	addr := stats(t, e, "a1").PlainAddr
	app := redis.NewClient(&redis.Options{Addr: addr, Password: a.Pass, PoolSize: 4}) // go-redis defaults: 3 retries
	t.Cleanup(func() { app.Close() })

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var switched atomic.Int64 // the first write id started after the switch
	var acked, failed atomic.Int64
	switched.Store(-1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		deadline := time.Now().Add(30 * time.Second)
		for i := int64(0); ctx.Err() == nil && time.Now().Before(deadline); i++ {
			if err := app.Set(ctx, fmt.Sprintf("w:%d", i), i, 0).Err(); err != nil {
				failed.Add(1)
				continue
			}
			acked.Store(i)
		}
	}()
	t.Cleanup(func() { stop(); wg.Wait() })

	waitFor(t, 10*time.Second, func() error {
		if n := acked.Load(); n < 50 {
			return fmt.Errorf("%d writes acknowledged before the switch", n)
		}
		return nil
	})
	r.Backend, r.Epoch = b.Addr, 2
	if err := e.Set(r); err != nil {
		t.Fatalf("Set(epoch 2) error = %v", err)
	}
	switched.Store(acked.Load() + 2) // writes up to acked+1 may have started before
	waitFor(t, 10*time.Second, func() error {
		if n := acked.Load() - switched.Load(); n < 200 {
			return fmt.Errorf("%d writes acknowledged after the switch", n)
		}
		return nil
	})
	stop()
	wg.Wait()

	bc := b.client(t)
	for i, last := switched.Load(), acked.Load(); i <= last; i++ {
		if err := bc.Get(context.Background(), fmt.Sprintf("w:%d", i)).Err(); err != nil {
			t.Fatalf("write w:%d, acknowledged after the switch, is not on the new node: %v", i, err)
		}
	}
	if f := failed.Load(); f > 0 {
		t.Logf("%d writes failed across the switch (go-redis gave up after its retries)", f)
	}
	s := stats(t, e, "a1")
	if s.Cut == 0 || s.Epoch != 2 || s.Backend != b.Addr {
		t.Errorf("after the switch Cut, Epoch, Backend = %d, %d, %s; want ≥1, 2, %s", s.Cut, s.Epoch, s.Backend, b.Addr)
	}
	// No connection of the edge is left on the old node.
	ac := a.client(t)
	waitFor(t, 5*time.Second, func() error { return noOtherClients(ac) })
}

// noOtherClients fails while the node c talks to has clients besides c.
func noOtherClients(c *redis.Client) error {
	info, err := c.Info(context.Background(), "clients").Result()
	if err != nil {
		return err
	}
	if k := infoInt(info, "connected_clients"); k != 1 { // the INFO client itself
		return fmt.Errorf("%d clients on the node, want only the one asking", k)
	}
	return nil
}

// The edge never goes back to an older epoch, nor to another backend under
// the epoch it holds; a refused update leaves the others applied.
func TestEpochFencing(t *testing.T) {
	a, b := startNode(t), startNode(t)
	e := newEdge(t, Config{})
	ra, other := routeTo("a1", a, 1), routeTo("a2", a, 1)
	if err := e.Apply([]Route{ra, other}); err != nil {
		t.Fatal(err)
	}
	ra.Backend, ra.Epoch = b.Addr, 3
	if err := e.Set(ra); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		backend string
		epoch   int64
		wantErr string
	}{
		{"older epoch", a.Addr, 2, "route a1: epoch 2 is older than the edge's 3"},
		{"same epoch, other backend", a.Addr, 3, "route a1: backend " + a.Addr + " under epoch 3, which already chose " + b.Addr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stale := ra
			stale.Backend, stale.Epoch = tt.backend, tt.epoch
			moved := other
			moved.Backend, moved.Epoch = b.Addr, 2
			err := e.Apply([]Route{stale, moved})
			if !errors.Is(err, ErrStaleEpoch) || !errors.Is(err, fault.Conflict) || err.Error() != "stale epoch: "+tt.wantErr {
				t.Fatalf("Apply(stale) error = %v, want %q", err, tt.wantErr)
			}
			s := stats(t, e, "a1")
			if s.Backend != b.Addr || s.Epoch != 3 {
				t.Errorf("a1 after a refused update: %s epoch %d, want %s epoch 3", s.Backend, s.Epoch, b.Addr)
			}
			if got := servedBy(t, s.PlainAddr, b.Pass); got != b.Port {
				t.Errorf("a new connection to a1 reached port %d, want %d", got, b.Port)
			}
			if s := stats(t, e, "a2"); s.Backend != b.Addr || s.Epoch != 2 {
				t.Errorf("a2, given with the refused a1: %s epoch %d; want it applied", s.Backend, s.Epoch)
			}
		})
	}
	// A newer epoch with the same backend is taken, and open connections,
	// made under the old epoch, are cut.
	c := newClient(t, stats(t, e, "a1").PlainAddr, b.Pass, nil).Conn()
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	ra.Epoch = 4
	if err := e.Set(ra); err != nil {
		t.Fatalf("Set(epoch 4, same backend) error = %v", err)
	}
	if err := c.Ping(context.Background()).Err(); err == nil {
		t.Errorf("a connection made under epoch 3 still answers under epoch 4")
	}
}

// servedBy reports the port of the node a fresh connection through addr
// reaches.
func servedBy(t *testing.T, addr, pass string) int {
	t.Helper()
	c := newClient(t, addr, pass, nil)
	defer c.Close()
	p, err := nodePort(context.Background(), c)
	if err != nil {
		t.Fatalf("INFO through %s: %v", addr, err)
	}
	return p
}

// Clients connected when the edge stops reconnect to the next edge on the
// same address by themselves.
func TestEdgeRestart(t *testing.T) {
	n := startNode(t)
	r := routeTo("a1", n, 1)
	r.Plain = loopback(freePort(t))
	first := New(Config{})
	if err := first.Apply([]Route{r}); err != nil {
		t.Fatal(err)
	}
	app := redis.NewClient(&redis.Options{Addr: r.Plain, Password: n.Pass, PoolSize: 3})
	t.Cleanup(func() { app.Close() })
	ctx := context.Background()
	for i := range 3 {
		if err := app.Set(ctx, fmt.Sprint("k", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := first.Close(closeCtx); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := app.Ping(ctx).Err(); err == nil {
		t.Fatalf("PING answered with no edge running")
	}
	second := newEdge(t, Config{})
	if err := second.Apply([]Route{r}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() error { return app.Get(ctx, "k2").Err() })
	if err := first.Apply([]Route{r}); err == nil {
		t.Errorf("Apply on a closed edge: nil error")
	}
}

func infoInt(info, key string) int {
	var v int
	for _, line := range strings.Split(info, "\r\n") {
		if _, err := fmt.Sscanf(line, key+":%d", &v); err == nil {
			return v
		}
	}
	return -1
}
