package local

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"larder/engine"
	"larder/fault"
	"larder/provisioner"
	"larder/provisioner/nodetest"
)

func startNode(t *testing.T, h *Host, spec provisioner.NodeSpec) provisioner.Node {
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
	h := env.host(Options{})
	spec := env.spec("acl", false)
	n := startNode(t, h, spec)

	if n.PID <= 0 || n.Port != spec.Port || n.Addr != "127.0.0.1" || n.Dir != filepath.Join(env.Root, "acl") {
		t.Errorf("Start() = %+v, want pid > 0, port %d, addr 127.0.0.1, dir under root", n, spec.Port)
	}
	if sid, err := sessionOf(n.PID); err != nil || sid != n.PID {
		t.Errorf("Getsid(%d) = %d, %v; want the node to lead its own session", n.PID, sid, err)
	}
	for name, want := range map[string]os.FileMode{"": 0o700, engine.ConfFile: 0o600, engine.ACLFile: 0o600} {
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
		{[]any{"CLIENT", "PAUSE", "10"}, true},
		{[]any{"CLIENT", "UNPAUSE"}, true},
		{[]any{"CLIENT", "LIST"}, false},
		{[]any{"CLIENT", "SETNAME", "worker"}, false},
		{[]any{"SLOWLOG", "GET"}, false},
		{[]any{"LATENCY", "LATEST"}, false},
		{[]any{"LASTSAVE"}, false},
		{[]any{"INFO", "memory"}, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.args...), func(t *testing.T) {
			// DEBUG is also switched off engine-wide (enable-debug-command no),
			// so the ACL verdict is read with ACL DRYRUN as well.
			err := cust.Do(ctx, tt.args...).Err()
			denied := err != nil && (strings.HasPrefix(err.Error(), "NOPERM") || strings.Contains(err.Error(), "not allowed"))
			if denied != tt.denied || (!tt.denied && err != nil) {
				t.Errorf("customer %v error = %v; want denied %v", tt.args, err, tt.denied)
			}
			dry, err := admin.Do(ctx, append([]any{"ACL", "DRYRUN", engine.CustomerUser}, tt.args...)...).Text()
			if err != nil {
				t.Fatalf("ACL DRYRUN %v error = %v", tt.args, err)
			}
			if got := dry != "OK"; got != tt.denied {
				t.Errorf("ACL DRYRUN %v = %q; want denied %v", tt.args, dry, tt.denied)
			}
		})
	}
	// The default user must not work without its password.
	anon := client(t, spec, engine.User{})
	if err := anon.Ping(ctx).Err(); err == nil {
		t.Errorf("PING without a password succeeded, want NOAUTH")
	}
}

func TestLimitsApplied(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	h := env.host(Options{})
	spec := env.spec("limits", true)
	spec.MaxMemoryBytes, spec.MaxClients, spec.MaxMemoryPolicy = 30<<20, 17, "allkeys-lru"
	spec.Timeout, spec.NotifyKeyspaceEvents = 120, "Ex"
	startNode(t, h, spec)

	ctx := context.Background()
	admin := client(t, spec, spec.Admin)
	want := map[string]string{
		"maxmemory":              strconv.Itoa(30 << 20),
		"maxclients":             strconv.Itoa(17 + engine.ReservedClients(spec)),
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

	// One app connection; larder's own admin connections are not counted.
	app := client(t, spec, spec.Customer)
	if err := app.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	info, err := h.Info(ctx, spec)
	if err != nil {
		t.Fatalf("Info() error = %v", err)
	}
	if info.Role != "master" || info.Version != env.Engine.Version || info.MaxMemoryBytes != 30<<20 ||
		info.MaxClients != 17 || !info.AOFEnabled || info.UsedMemoryBytes <= 0 || info.ConnectedClients != 1 {
		t.Errorf("Info() = %+v; want master, version %s, 30 MiB, 17 clients, AOF on", info, env.Engine.Version)
	}
}

func TestStopLeavesNoProcess(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	h := env.host(Options{})
	spec := env.spec("stopped", true)
	n := startNode(t, h, spec)
	if err := h.Stop(context.Background(), spec.ID); err != nil {
		t.Fatalf("Stop() error = %v", err)
	}
	if pids := pidsUnder(n.Dir); len(pids) != 0 || running(n.PID) {
		t.Errorf("processes after Stop = %v, want none", pids)
	}
	if _, err := os.Stat(filepath.Join(n.Dir, engine.ConfFile)); err != nil {
		t.Errorf("node directory after Stop: %v, want it kept", err)
	}
	if err := h.Stop(context.Background(), spec.ID); !errors.Is(err, fault.NotFound) {
		t.Errorf("second Stop() error = %v, want NotFound", err)
	}
	if evs := env.Events.All(spec.ID); len(evs) != 0 {
		t.Errorf("events after a Stop = %+v, want none (a stop is no crash)", evs)
	}
}

func TestRemove(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	h := env.host(Options{})
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
	first := env.host(Options{})
	spec := env.spec("orphan", false)
	n := startNode(t, first, spec)
	if err := first.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Without its pidfile, the node is found by its config path in /proc.
	if err := os.Remove(filepath.Join(n.Dir, engine.PidFile)); err != nil {
		t.Fatal(err)
	}
	second := env.host(Options{})
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
	h := env.host(Options{})
	spec := env.spec("taken", false)
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(spec.Port)))
	if err != nil {
		t.Fatal(err)
	}
	if mustPortFree(t, h, spec.Port) {
		t.Errorf("PortFree(%d) = true while it is bound, want false", spec.Port)
	}
	_, err = h.Start(context.Background(), spec)
	if err == nil {
		t.Fatal("Start() on a taken port error = nil, want one")
	}
	t.Logf("Start() on a taken port: %v", err)
	if !strings.Contains(err.Error(), "in use") {
		t.Errorf("Start() error = %v, want the engine's reason (address in use)", err)
	}
	if strings.Contains(err.Error(), spec.Admin.Password) || strings.Contains(err.Error(), spec.Customer.Password) {
		t.Errorf("Start() error reveals a password: %v", err)
	}
	if pids := pidsUnder(filepath.Join(env.Root, spec.Name)); len(pids) != 0 {
		t.Errorf("processes after a failed start = %v, want none", pids)
	}
	if err := h.Stop(context.Background(), spec.ID); !errors.Is(err, fault.NotFound) {
		t.Errorf("Stop() after a failed start error = %v, want NotFound (not supervised)", err)
	}
	l.Close()
	// The kernel frees the port once the connections the failed start made
	// to the listener are torn down, a moment after the close on a busy
	// machine.
	waitFor(t, 10*time.Second, func() error {
		if !mustPortFree(t, h, spec.Port) {
			return fmt.Errorf("PortFree(%d) = false after close, want true", spec.Port)
		}
		return nil
	})
	startNode(t, h, spec) // the same spec starts once the port is free
}

func TestStartTwiceConflicts(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	h := env.host(Options{})
	spec := env.spec("twice", false)
	startNode(t, h, spec)
	if _, err := h.Start(context.Background(), spec); !errors.Is(err, fault.Conflict) {
		t.Errorf("second Start() error = %v, want Conflict", err)
	}
}

func TestLogs(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	h := env.host(Options{})
	spec := env.spec("logs", false)
	if _, err := h.Start(context.Background(), spec); err != nil {
		t.Fatalf("Start() error = %v", err)
	}
	nodetest.CheckLogs(t, env.Env, h, spec)
}
