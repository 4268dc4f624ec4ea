package provisioner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"larder/fault"
)

func startNode(t *testing.T, h *LocalHost, spec NodeSpec) Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	n, err := h.Start(ctx, spec)
	if err != nil {
		t.Fatalf("Start(%s) error = %v", spec.Name, err)
	}
	return n
}

func TestStartAndACL(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	h := env.host(LocalOptions{})
	spec := env.spec("acl", false)
	n := startNode(t, h, spec)

	if n.PID <= 0 || n.Port != spec.Port || n.Addr != "127.0.0.1" || n.Dir != filepath.Join(env.root, "acl") {
		t.Errorf("Start() = %+v, want pid > 0, port %d, addr 127.0.0.1, dir under root", n, spec.Port)
	}
	if sid, err := syscall.Getsid(n.PID); err != nil || sid != n.PID {
		t.Errorf("Getsid(%d) = %d, %v; want the node to lead its own session", n.PID, sid, err)
	}
	for name, want := range map[string]os.FileMode{"": 0o700, confFile: 0o600, aclFile: 0o600} {
		fi, err := os.Stat(filepath.Join(n.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("mode of %q = %v, want %v", name, got, want)
		}
	}

	ctx := context.Background()
	admin := client(t, spec, spec.Admin)
	if got, err := admin.Ping(ctx).Result(); err != nil || got != "PONG" {
		t.Fatalf("admin PING = %q, %v; want PONG", got, err)
	}
	cust := client(t, spec, spec.Customer)
	if err := cust.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("customer SET error = %v", err)
	}
	if got, err := cust.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Errorf("customer GET = %q, %v; want v", got, err)
	}
	tests := []struct {
		args   []any
		denied bool
	}{
		{[]any{"CONFIG", "GET", "maxmemory"}, true},
		{[]any{"SHUTDOWN", "NOSAVE"}, true},
		{[]any{"ACL", "LIST"}, true},
		{[]any{"ACL", "SETUSER", "x", "on"}, true},
		{[]any{"DEBUG", "SLEEP", "0"}, true},
		{[]any{"SAVE"}, true},
		{[]any{"BGREWRITEAOF"}, true},
		{[]any{"REPLICAOF", "NO", "ONE"}, true},
		{[]any{"CLIENT", "LIST"}, false},
		{[]any{"SLOWLOG", "GET"}, false},
		{[]any{"LATENCY", "LATEST"}, false},
		{[]any{"LASTSAVE"}, false},
		{[]any{"INFO", "memory"}, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.args...), func(t *testing.T) {
			err := cust.Do(ctx, tt.args...).Err()
			denied := err != nil && strings.HasPrefix(err.Error(), "NOPERM")
			if denied != tt.denied {
				t.Errorf("customer %v error = %v; want denied %v", tt.args, err, tt.denied)
			}
			if !tt.denied && err != nil {
				t.Errorf("customer %v error = %v, want nil", tt.args, err)
			}
		})
	}
	// The default user must not work without its password.
	anon := client(t, spec, User{})
	if err := anon.Ping(ctx).Err(); err == nil {
		t.Errorf("PING without a password succeeded, want NOAUTH")
	}
}

func TestLimitsApplied(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	h := env.host(LocalOptions{})
	spec := env.spec("limits", true)
	spec.MaxMemoryBytes, spec.MaxClients, spec.MaxMemoryPolicy = 30<<20, 17, "allkeys-lru"
	spec.Timeout, spec.NotifyKeyspaceEvents = 120, "Ex"
	startNode(t, h, spec)

	ctx := context.Background()
	admin := client(t, spec, spec.Admin)
	want := map[string]string{
		"maxmemory":              strconv.Itoa(30 << 20),
		"maxclients":             strconv.Itoa(17 + ReservedClients),
		"maxmemory-policy":       "allkeys-lru",
		"timeout":                "120",
		"notify-keyspace-events": "xE",
		"appendonly":             "yes",
		"appendfsync":            "everysec",
		"save":                   "",
		"protected-mode":         "yes",
	}
	for key, w := range want {
		got, err := admin.ConfigGet(ctx, key).Result()
		if err != nil {
			t.Fatalf("CONFIG GET %s error = %v", key, err)
		}
		if got[key] != w {
			t.Errorf("CONFIG GET %s = %q, want %q", key, got[key], w)
		}
	}

	info, err := h.Info(ctx, spec)
	if err != nil {
		t.Fatalf("Info() error = %v", err)
	}
	if info.Role != "master" || info.Version != env.engine.Version || info.MaxMemoryBytes != 30<<20 ||
		info.MaxClients != 17 || !info.AOFEnabled || info.UsedMemoryBytes <= 0 || info.ConnectedClients < 1 {
		t.Errorf("Info() = %+v; want master, version %s, 30 MiB, 17 clients, AOF on", info, env.engine.Version)
	}
}

func TestRestartAfterKill(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	h := env.host(LocalOptions{})
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
	exited := env.events.wait(t, spec.ID, EventExited, 0, 10*time.Second)
	restarted := env.events.wait(t, spec.ID, EventRestarted, 0, 10*time.Second)
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

func TestHungNodeRestarted(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	h := env.host(LocalOptions{HangTimeout: time.Second, PingTimeout: 200 * time.Millisecond})
	spec := env.spec("hung", false)
	n := startNode(t, h, spec)

	if err := syscall.Kill(n.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	hung := env.events.wait(t, spec.ID, EventHung, 0, 10*time.Second)
	restarted := env.events.wait(t, spec.ID, EventRestarted, 0, 10*time.Second)
	if hung.PID != n.PID || restarted.PID == n.PID {
		t.Errorf("hung pid %d, restarted pid %d; want hung %d and a new pid", hung.PID, restarted.PID, n.PID)
	}
	if running(n.PID) {
		t.Errorf("stopped process %d still exists after the restart", n.PID)
	}
	if err := client(t, spec, spec.Admin).Ping(context.Background()).Err(); err != nil {
		t.Errorf("PING after restart error = %v", err)
	}
	if evs := env.events.all(spec.ID); len(evs) != 2 {
		t.Errorf("events = %+v, want hung then restarted", evs)
	}
}

func TestCrashLoopGivesUp(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	h := env.host(LocalOptions{CrashLoopRestarts: 3, BackoffMin: 10 * time.Millisecond, BackoffMax: 40 * time.Millisecond})
	spec := env.spec("looping", false)
	n := startNode(t, h, spec)

	// Kill the node each time it comes back; the 4th death is one too many.
	pid := n.PID
	for i := range 3 {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		pid = env.events.wait(t, spec.ID, EventRestarted, 2*i, 10*time.Second).PID
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	failed := env.events.wait(t, spec.ID, EventFailed, 6, 10*time.Second)
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
	h := env.host(LocalOptions{CrashLoopRestarts: 2, BackoffMin: 10 * time.Millisecond, BackoffMax: 40 * time.Millisecond})
	spec := env.spec("broken", false)
	n := startNode(t, h, spec)

	// A directory where the ACL file goes makes every restart fail to write it.
	acl := filepath.Join(n.Dir, aclFile)
	if err := os.Remove(acl); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(acl, "block"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(n.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	env.events.wait(t, spec.ID, EventFailed, 0, 10*time.Second)
	for _, ev := range env.events.all(spec.ID) {
		if ev.Kind == EventRestarted {
			t.Errorf("event %+v, want no successful restart", ev)
		}
	}
}

func TestAdoptAfterBrokerRestart(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	first := env.host(LocalOptions{})
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

	second := env.host(LocalOptions{})
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
	if evs := env.events.all(alive.ID); len(evs) != 0 {
		t.Errorf("events of the adopted running node = %+v, want none", evs)
	}
	env.events.wait(t, dead.ID, EventRestarted, 0, time.Second)

	// The adopted process is not our child: its death is seen through /proc.
	if err := syscall.Kill(aliveNode.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	env.events.wait(t, alive.ID, EventExited, 0, 10*time.Second)
	restarted := env.events.wait(t, alive.ID, EventRestarted, 0, 10*time.Second)
	if restarted.PID == aliveNode.PID {
		t.Errorf("restarted pid = %d, want a new one", restarted.PID)
	}
}

func TestAdoptMissingDir(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	h := env.host(LocalOptions{})
	_, err := h.Adopt(context.Background(), env.spec("never-started", false))
	if !errors.Is(err, fault.NotFound) {
		t.Errorf("Adopt() of a node without a directory error = %v, want NotFound", err)
	}
}

func TestStopLeavesNoProcess(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	h := env.host(LocalOptions{})
	spec := env.spec("stopped", true)
	n := startNode(t, h, spec)
	if err := h.Stop(context.Background(), spec.ID); err != nil {
		t.Fatalf("Stop() error = %v", err)
	}
	if pids := pidsUnder(n.Dir); len(pids) != 0 || running(n.PID) {
		t.Errorf("processes after Stop = %v, want none", pids)
	}
	if _, err := os.Stat(filepath.Join(n.Dir, confFile)); err != nil {
		t.Errorf("node directory after Stop: %v, want it kept", err)
	}
	if err := h.Stop(context.Background(), spec.ID); !errors.Is(err, fault.NotFound) {
		t.Errorf("second Stop() error = %v, want NotFound", err)
	}
	if evs := env.events.all(spec.ID); len(evs) != 0 {
		t.Errorf("events after a Stop = %+v, want none (a stop is no crash)", evs)
	}
}

func TestRemove(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	h := env.host(LocalOptions{})
	spec := env.spec("removed", false)
	n := startNode(t, h, spec)
	if err := h.Remove(context.Background(), spec); err != nil {
		t.Fatalf("Remove() error = %v", err)
	}
	if _, err := os.Stat(n.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Stat(dir) after Remove error = %v, want not exist", err)
	}
	if running(n.PID) {
		t.Errorf("process %d still running after Remove", n.PID)
	}
}

func TestRemoveUnsupervised(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	first := env.host(LocalOptions{})
	spec := env.spec("orphan", false)
	n := startNode(t, first, spec)
	if err := first.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	second := env.host(LocalOptions{})
	if err := second.Remove(context.Background(), spec); err != nil {
		t.Fatalf("Remove() error = %v", err)
	}
	if running(n.PID) || len(pidsUnder(n.Dir)) != 0 {
		t.Errorf("process %d still running after Remove by a new host", n.PID)
	}
	if _, err := os.Stat(n.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Stat(dir) after Remove error = %v, want not exist", err)
	}
}

func TestStartFailureLeavesNothing(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	h := env.host(LocalOptions{})
	spec := env.spec("taken", false)
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(spec.Port)))
	if err != nil {
		t.Fatal(err)
	}
	if h.PortFree(spec.Port) {
		t.Errorf("PortFree(%d) = true while it is bound, want false", spec.Port)
	}
	_, err = h.Start(context.Background(), spec)
	if err == nil {
		t.Fatal("Start() on a taken port error = nil, want one")
	}
	if !strings.Contains(err.Error(), "in use") {
		t.Errorf("Start() error = %v, want the engine's reason (address in use)", err)
	}
	if strings.Contains(err.Error(), spec.Admin.Password) || strings.Contains(err.Error(), spec.Customer.Password) {
		t.Errorf("Start() error reveals a password: %v", err)
	}
	if pids := pidsUnder(filepath.Join(env.root, spec.Name)); len(pids) != 0 {
		t.Errorf("processes after a failed start = %v, want none", pids)
	}
	if err := h.Stop(context.Background(), spec.ID); !errors.Is(err, fault.NotFound) {
		t.Errorf("Stop() after a failed start error = %v, want NotFound (not supervised)", err)
	}
	l.Close()
	if !h.PortFree(spec.Port) {
		t.Errorf("PortFree(%d) = false after close, want true", spec.Port)
	}
	startNode(t, h, spec) // the same spec starts once the port is free
}

func TestStartTwiceConflicts(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	h := env.host(LocalOptions{})
	spec := env.spec("twice", false)
	startNode(t, h, spec)
	if _, err := h.Start(context.Background(), spec); !errors.Is(err, fault.Conflict) {
		t.Errorf("second Start() error = %v, want Conflict", err)
	}
}

func TestOnEventMayCallHost(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	var h *LocalHost
	stopped := make(chan error, 1)
	opts := LocalOptions{}
	h = env.host(opts)
	spec := env.spec("callback", false)
	n := startNode(t, h, spec)
	// A handler that stops the node from inside OnEvent must not deadlock.
	h.events.fn = func(ev Event) {
		env.events.add(ev)
		if ev.Kind == EventRestarted {
			stopped <- h.Stop(context.Background(), ev.NodeID)
		}
	}
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
