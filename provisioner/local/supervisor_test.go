package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"larder/engine"
	"larder/provisioner"
)

func TestRestartAfterKill(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	h := env.host(Options{})
	spec := env.spec("killed", true)
	n := startNode(t, h, spec)

	ctx := context.Background()
	cust := client(t, spec, spec.Customer)
	for i := range 100 {
		if err := cust.Set(ctx, fmt.Sprint("key", i), i, 0).Err(); err != nil {
			t.Fatalf("SET error = %v", err)
		}
	}
	if err := syscall.Kill(n.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	exited := env.Events.Wait(t, spec.ID, provisioner.EventExited, 0, 10*time.Second)
	restarted := env.Events.Wait(t, spec.ID, provisioner.EventRestarted, 0, 10*time.Second)
	if exited.PID != n.PID || restarted.PID == n.PID || restarted.PID <= 0 {
		t.Errorf("exited pid %d, restarted pid %d; want exited %d and a new pid", exited.PID, restarted.PID, n.PID)
	}
	for i := range 100 {
		got, err := cust.Get(ctx, fmt.Sprint("key", i)).Result()
		if err != nil || got != strconv.Itoa(i) {
			t.Fatalf("GET key%d after restart = %q, %v; want %d (AOF lost data)", i, got, err, i)
		}
	}
	if pids := pidsUnder(n.Dir); len(pids) != 1 || pids[0] != restarted.PID {
		t.Errorf("processes of the node = %v, want only %d", pids, restarted.PID)
	}
}

func TestCrashLoopGivesUp(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	h := env.host(Options{CrashLoopRestarts: 3, BackoffMin: 10 * time.Millisecond, BackoffMax: 40 * time.Millisecond})
	spec := env.spec("looping", false)
	n := startNode(t, h, spec)

	// Kill the node each time it comes back; the 4th death is one too many.
	pid := n.PID
	for i := range 3 {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		pid = env.Events.Wait(t, spec.ID, provisioner.EventRestarted, 2*i, 10*time.Second).PID
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	failed := env.Events.Wait(t, spec.ID, provisioner.EventFailed, 6, 10*time.Second)
	if failed.PID != pid {
		t.Errorf("failed pid = %d, want %d", failed.PID, pid)
	}
	if pids := pidsUnder(n.Dir); len(pids) != 0 {
		t.Errorf("processes of a failed node = %v, want none", pids)
	}
	if err := h.Stop(context.Background(), spec.ID); err != nil {
		t.Errorf("Stop() of a failed node error = %v", err)
	}
}

func TestRestartFailuresGiveUp(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	h := env.host(Options{CrashLoopRestarts: 2, BackoffMin: 10 * time.Millisecond, BackoffMax: 40 * time.Millisecond})
	spec := env.spec("broken", false)
	n := startNode(t, h, spec)

	// A directory where the ACL file goes makes every restart fail to write it.
	acl := filepath.Join(n.Dir, engine.ACLFile)
	if err := os.Remove(acl); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(acl, "block"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(n.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	env.Events.Wait(t, spec.ID, provisioner.EventFailed, 0, 10*time.Second)
	for _, ev := range env.Events.All(spec.ID) {
		if ev.Kind == provisioner.EventRestarted {
			t.Errorf("event %+v, want no successful restart", ev)
		}
	}
}

func TestAdoptAfterBrokerRestart(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	first := env.host(Options{})
	alive, dead := env.spec("alive", true), env.spec("dead", true)
	aliveNode := startNode(t, first, alive)
	deadNode := startNode(t, first, dead)
	ctx := context.Background()
	if err := client(t, dead, dead.Customer).Set(ctx, "survives", "yes", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(ctx); err != nil {
		t.Fatalf("Close() error = %v", err)
	}
	if !running(aliveNode.PID) {
		t.Fatalf("node %d died with its host's Close", aliveNode.PID)
	}
	// While no host supervises, one node dies.
	if err := syscall.Kill(deadNode.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() error {
		if running(deadNode.PID) {
			return errors.New("killed node still running")
		}
		return nil
	})

	second := env.host(Options{})
	got, err := second.Adopt(ctx, alive)
	if err != nil {
		t.Fatalf("Adopt(alive) error = %v", err)
	}
	if got.PID != aliveNode.PID {
		t.Errorf("Adopt(alive) pid = %d, want %d (adopted as is)", got.PID, aliveNode.PID)
	}
	again, err := second.Adopt(ctx, alive)
	if err != nil || again.PID != aliveNode.PID {
		t.Errorf("second Adopt(alive) = %+v, %v; want the same pid, no error", again, err)
	}
	got, err = second.Adopt(ctx, dead)
	if err != nil {
		t.Fatalf("Adopt(dead) error = %v", err)
	}
	if got.PID == deadNode.PID || !running(got.PID) {
		t.Errorf("Adopt(dead) pid = %d, want a new running process", got.PID)
	}
	if v, err := client(t, dead, dead.Customer).Get(ctx, "survives").Result(); err != nil || v != "yes" {
		t.Errorf("GET after adoption restart = %q, %v; want yes", v, err)
	}
	if evs := env.Events.All(alive.ID); len(evs) != 0 {
		t.Errorf("events of the adopted running node = %+v, want none", evs)
	}
	env.Events.Wait(t, dead.ID, provisioner.EventRestarted, 0, time.Second)

	// The adopted process is not our child: its death is seen through /proc.
	if err := syscall.Kill(aliveNode.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	env.Events.Wait(t, alive.ID, provisioner.EventExited, 0, 10*time.Second)
	restarted := env.Events.Wait(t, alive.ID, provisioner.EventRestarted, 0, 10*time.Second)
	if restarted.PID == aliveNode.PID {
		t.Errorf("restarted pid = %d, want a new one", restarted.PID)
	}
}

func TestAdoptMissingDir(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	h := env.host(Options{})
	spec := env.spec("never-started", false)
	n, err := h.Adopt(context.Background(), spec)
	if err != nil {
		t.Fatalf("Adopt() of a node without a directory error = %v, want it started", err)
	}
	if !running(n.PID) {
		t.Errorf("Adopt() pid %d is not running", n.PID)
	}
	ev := env.Events.Wait(t, spec.ID, provisioner.EventRestarted, 0, time.Second)
	if !strings.Contains(ev.Message, "empty") {
		t.Errorf("event message = %q, want it to say the node starts empty", ev.Message)
	}
}

func TestOnEventMayCallHost(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	var hp atomic.Pointer[Host]
	stopped := make(chan error, 1)
	// A handler that stops the node from inside OnEvent must not deadlock.
	h := env.host(Options{OnEvent: func(ev provisioner.Event) {
		if ev.Kind == provisioner.EventRestarted {
			stopped <- hp.Load().Stop(context.Background(), ev.NodeID)
		}
	}})
	hp.Store(h)
	spec := env.spec("callback", false)
	n := startNode(t, h, spec)
	if err := syscall.Kill(n.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("Stop() from OnEvent error = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Stop() from OnEvent did not return: deadlock?")
	}
	if pids := pidsUnder(n.Dir); len(pids) != 0 {
		t.Errorf("processes after Stop from OnEvent = %v, want none", pids)
	}
}

func TestAdoptRestartsNodeWithOtherCredentials(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	first := env.host(Options{})
	spec := env.spec("rotated", true)
	old := startNode(t, first, spec)
	if err := first.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The store now holds a new admin password the running node never saw.
	spec.Admin.Password = randomHex(t)
	env.Secrets = append(env.Secrets, spec.Admin.Password)
	second := env.host(Options{})
	n, err := second.Adopt(context.Background(), spec)
	if err != nil {
		t.Fatalf("Adopt() error = %v", err)
	}
	if n.PID == old.PID || running(old.PID) {
		t.Errorf("Adopt() pid = %d (old %d running: %v), want the old process replaced", n.PID, old.PID, running(old.PID))
	}
	if err := client(t, spec, spec.Admin).Ping(context.Background()).Err(); err != nil {
		t.Errorf("PING with the new admin password error = %v", err)
	}
}
