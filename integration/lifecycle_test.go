package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestPersistentNodeRestartsInPlace: kill -9 of a premium node → the supervisor
// restarts it in place, with every acknowledged key still there.
func TestPersistentNodeRestartsInPlace(t *testing.T) {
	b := NewBroker(t)
	ctx := context.Background()
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait")
	c := redisClient(t, configVars(t, b, "web")["REDIS_URL"])
	for i := 0; i < 200; i++ {
		if err := c.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	aofCaughtUp(t, c)
	dirs := nodeDirs(b)
	pid, ok := readPID(filepath.Join(dirs[0], "node.pid"))
	if !ok {
		t.Fatal("no pidfile")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, 20*time.Second, "node restarted in place", func() error {
		np, ok := readPID(filepath.Join(dirs[0], "node.pid"))
		if !ok || np == pid || !processAlive(np) {
			return fmt.Errorf("pid %d (was %d)", np, pid)
		}
		return c.Ping(ctx).Err()
	})
	n, err := c.DBSize(ctx).Result()
	if err != nil || n != 200 {
		t.Fatalf("keys after restart = %d, %v; want 200", n, err)
	}
	r := b.MustLarder("redis:info", "-a", "web")
	if !strings.Contains(r.Stdout, "available") || !strings.Contains(r.Stdout, "AOF") {
		t.Errorf("redis:info after restart:\n%s", r.Stdout)
	}
	WaitFor(t, 5*time.Second, "restart recorded in the add-on's events", func() error {
		evs, err := b.Client().Events(ctx, "web", "REDIS")
		if err != nil {
			return err
		}
		for _, e := range evs {
			if e.Kind == "node.restarted" {
				return nil
			}
		}
		return fmt.Errorf("events: %+v", evs)
	})
}

// TestBrokerRestartKeepsNodesServing: the node answers throughout a broker
// stop and start, keeps its pid (re-adopted, not restarted), and the new
// broker supervises it (a later crash is restarted in place). The edge runs
// in the broker's process: an app's client reconnects through the same URL
// once the broker is back (`larder edge` elsewhere keeps it connected).
func TestBrokerRestartKeepsNodesServing(t *testing.T) {
	b := NewBroker(t)
	ctx := context.Background()
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait")
	appURL := configVars(t, b, "web")["REDIS_URL"]
	app := redisClient(t, appURL)
	c := redisClient(t, directURL(t, b, "web")) // the node itself
	if err := c.Set(ctx, "before", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	dirs := nodeDirs(b)
	pid, _ := readPID(filepath.Join(dirs[0], "node.pid"))

	var writes, failures atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := c.Set(ctx, fmt.Sprintf("w%d", i), i, 0).Err(); err != nil {
				failures.Add(1)
			} else {
				writes.Add(1)
			}
			if i >= 100000 {
				return
			}
		}
	}()
	b.Stop()
	// With the broker gone the node still serves.
	before := writes.Load()
	WaitFor(t, 5*time.Second, "writes while the broker is down", func() error {
		if writes.Load() < before+50 {
			return fmt.Errorf("%d writes", writes.Load()-before)
		}
		return nil
	})
	b.Start()
	close(stop)
	<-done
	if f := failures.Load(); f != 0 {
		t.Errorf("%d writes failed across the broker restart, want 0", f)
	}
	WaitFor(t, 10*time.Second, "the app's client back through the edge", func() error { return app.Get(ctx, "before").Err() })
	if got := configVars(t, b, "web")["REDIS_URL"]; got != appURL {
		t.Errorf("REDIS_URL changed across the broker restart: %s, want %s", got, appURL)
	}
	if np, _ := readPID(filepath.Join(dirs[0], "node.pid")); np != pid {
		t.Errorf("node pid changed across broker restart: %d → %d (it was restarted, not adopted)", pid, np)
	}
	r := b.MustLarder("redis:info", "-a", "web", "--json")
	if !strings.Contains(r.Stdout, `"live": true`) {
		t.Errorf("redis:info after broker restart:\n%s", r.Stdout)
	}
	// The new broker supervises the adopted node.
	syscall.Kill(pid, syscall.SIGKILL)
	WaitFor(t, 20*time.Second, "adopted node restarted in place", func() error {
		np, ok := readPID(filepath.Join(dirs[0], "node.pid"))
		if !ok || np == pid || !processAlive(np) {
			return fmt.Errorf("pid %d", np)
		}
		return c.Ping(ctx).Err()
	})
	if v, err := c.Get(ctx, "before").Result(); err != nil || v != "1" {
		t.Errorf("key after restart = %q, %v", v, err)
	}
}

// TestBrokerRestartRestartsDeadNodes: a node that died while no broker was
// running is restarted in place by the next broker.
func TestBrokerRestartRestartsDeadNodes(t *testing.T) {
	b := NewBroker(t)
	ctx := context.Background()
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait")
	c := redisClient(t, configVars(t, b, "web")["REDIS_URL"])
	if err := c.Set(ctx, "kept", "yes", 0).Err(); err != nil {
		t.Fatal(err)
	}
	dirs := nodeDirs(b)
	pid, _ := readPID(filepath.Join(dirs[0], "node.pid"))
	b.Stop()
	syscall.Kill(pid, syscall.SIGKILL)
	WaitFor(t, 5*time.Second, "node to die", func() error {
		if processAlive(pid) {
			return fmt.Errorf("alive")
		}
		return nil
	})
	b.Start()
	WaitFor(t, 10*time.Second, "node back", func() error { return c.Ping(ctx).Err() })
	if v, err := c.Get(ctx, "kept").Result(); err != nil || v != "yes" {
		t.Errorf("key after restart = %q, %v; want yes", v, err)
	}
	if _, err := os.Stat(dirs[0]); err != nil {
		t.Errorf("node dir: %v", err)
	}
}

// aofCaughtUp waits until the node c reaches has written every
// acknowledged write into its append-only file (aof_buffer_length 0). With
// appendfsync everysec the engine may hold writes in memory for up to 2 s
// while an earlier fsync is slow (a busy disk), and a process killed then
// loses them, as the plan's durability says: a test that kills a node to
// see its data survive must not depend on the disk's mood.
func aofCaughtUp(t *testing.T, c *redis.Client) {
	t.Helper()
	WaitFor(t, 10*time.Second, "the append-only file to hold every acknowledged write", func() error {
		info, err := c.Info(context.Background(), "persistence").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "aof_enabled:1") || strings.Contains(info, "aof_buffer_length:0\r\n") {
			return nil
		}
		return fmt.Errorf("the append-only file is behind the acknowledged writes")
	})
}
