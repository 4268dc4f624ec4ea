// Package nodetest helps the tests of host drivers that run real engine
// nodes: an environment (node root, logger, event Recorder, cleanup that
// kills what a test left), node specs with fresh ports and passwords, and
// clients. It is imported by tests only.
package nodetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"

	"larder/engine"
	"larder/internal/testkit"
	"larder/provisioner"
)

var (
	engineOnce sync.Once
	eng        engine.Engine
	engineErr  error
)

// RequireEngine returns the real engine, or skips the test when none is
// installed.
func RequireEngine(tb testing.TB) engine.Engine {
	tb.Helper()
	engineOnce.Do(func() { eng, engineErr = engine.Discover() })
	if engineErr != nil {
		tb.Skipf("no usable valkey-server or redis-server (install redis-server 7+ or set %s): %v", engine.EnvVar, engineErr)
	}
	return eng
}

// Ports is the range FreePort draws from: each test package using nodetest
// sets its own (testkit.Local, testkit.Agent), so packages tested at the same
// time never draw the same port.
var Ports testkit.Range

// FreePort returns a port of Ports that nobody listens on and that no other
// test of this process was given.
func FreePort(tb testing.TB) int {
	tb.Helper()
	if Ports.Hi == 0 {
		tb.Fatal("nodetest.Ports is not set: the test package must name its port range")
	}
	return testkit.FreePort(tb, Ports)
}

// WaitFor is testkit.WaitFor.
var WaitFor = testkit.WaitFor

// Env is a node root with a logger, an event Recorder, and a cleanup that
// kills every process the test left under the root.
type Env struct {
	TB      testing.TB
	Engine  engine.Engine
	Root    string
	Log     *logrus.Logger
	Events  *Recorder
	Logs    *LockedBuffer
	Secrets []string
}

func NewEnv(tb testing.TB) *Env {
	tb.Helper()
	e := &Env{TB: tb, Engine: RequireEngine(tb), Root: tb.TempDir(), Events: &Recorder{}, Logs: &LockedBuffer{}}
	e.Log = logrus.New()
	e.Log.SetLevel(logrus.DebugLevel)
	e.Log.SetOutput(e.Logs)
	tb.Cleanup(func() {
		for _, pid := range PidsUnder(e.Root) {
			syscall.Kill(pid, syscall.SIGCONT)
			syscall.Kill(pid, syscall.SIGKILL)
		}
		out := e.Logs.String()
		for _, s := range e.Secrets {
			if strings.Contains(out, s) {
				tb.Errorf("a password appears in the host's logs")
			}
		}
		if tb.Failed() {
			tb.Logf("host logs:\n%s", out)
		}
	})
	return e
}

// spec is a mini (or persistent) node with a free port and fresh passwords.
func (e *Env) Spec(name string, persistent bool) provisioner.NodeSpec {
	e.TB.Helper()
	s := provisioner.NodeSpec{
		ID: "id-" + name, Name: name, Port: FreePort(e.TB),
		MaxMemoryBytes: 25 << 20, MaxClients: 20, Persistence: persistent,
		MaxMemoryPolicy: "noeviction",
		Admin:           engine.User{Name: engine.AdminUser, Password: RandomHex(e.TB)},
		Customer:        engine.User{Name: engine.CustomerUser, Password: RandomHex(e.TB)},
	}
	e.Secrets = append(e.Secrets, s.Admin.Password, s.Customer.Password)
	return s
}

func RandomHex(tb testing.TB) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// client connects to a node as u; it is closed at cleanup.
func Client(tb testing.TB, spec provisioner.NodeSpec, u engine.User) *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(spec.Port)), Username: u.Name, Password: u.Password,
		DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, MaxRetries: -1, DisableIdentity: true,
	})
	tb.Cleanup(func() { c.Close() })
	return c
}

// PidsUnder lists live (non-zombie) processes whose command line names a path
// under root: every node a test started there.
func PidsUnder(root string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !bytes.Contains(cmdline, []byte(root)) {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil || engine.ProcState(stat) == 'Z' {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// running reports whether pid is a live, non-zombie process.
func Running(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && engine.ProcState(stat) != 'Z'
}

// Recorder keeps the events a host reported.
type Recorder struct {
	mu  sync.Mutex
	evs []provisioner.Event
}

func (r *Recorder) Add(ev provisioner.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
}

// all returns the events of node id so far.
func (r *Recorder) All(id string) []provisioner.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []provisioner.Event
	for _, ev := range r.evs {
		if ev.NodeID == id {
			out = append(out, ev)
		}
	}
	return out
}

// wait returns the first event of node id and kind after the first skip
// events of that node, polling under timeout.
func (r *Recorder) Wait(tb testing.TB, id string, kind provisioner.EventKind, skip int, timeout time.Duration) provisioner.Event {
	tb.Helper()
	var found provisioner.Event
	WaitFor(tb, timeout, func() error {
		evs := r.All(id)
		for i := skip; i < len(evs); i++ {
			if evs[i].Kind == kind {
				found = evs[i]
				return nil
			}
		}
		return fmt.Errorf("no %s event for %s; events: %+v", kind, id, evs)
	})
	return found
}

// LockedBuffer is a goroutine-safe log sink.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// SessionOf reads a process's session id from /proc/<pid>/stat:
// "pid (comm) state ppid pgrp session …".
func SessionOf(pid int) (int, error) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("bad stat %q", stat)
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 4 {
		return 0, fmt.Errorf("short stat %q", stat)
	}
	return strconv.Atoi(fields[3])
}

func Target(s provisioner.NodeSpec) engine.Target {
	return engine.Target{Endpoint: engine.Endpoint{Addr: "127.0.0.1", Port: s.Port}, Admin: s.Admin, Name: s.Name}
}

// Fill writes n keys as the app.
func Fill(t *testing.T, spec provisioner.NodeSpec, n int) {
	t.Helper()
	c := Client(t, spec, spec.Customer)
	defer c.Close() // the app's connections count: give this one back
	for i := range n {
		if err := c.Set(context.Background(), "key"+strconv.Itoa(i), i, 0).Err(); err != nil {
			t.Fatalf("SET error = %v", err)
		}
	}
	aofWritten(t, spec)
}

// aofWritten waits until a node with an append-only file has written every
// acknowledged write into it (aof_buffer_length 0). With appendfsync
// everysec the engine may hold writes in memory for up to 2 s while an
// earlier fsync is slow (a busy disk), and a process killed then loses
// them: tests that kill a node after Fill must not depend on the disk's
// mood.
func aofWritten(t *testing.T, spec provisioner.NodeSpec) {
	t.Helper()
	a := Client(t, spec, spec.Admin)
	defer a.Close()
	WaitFor(t, 10*time.Second, func() error {
		info, err := a.Info(context.Background(), "persistence").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "aof_enabled:1") || strings.Contains(info, "aof_buffer_length:0\r\n") {
			return nil
		}
		return fmt.Errorf("the append-only file is behind the acknowledged writes")
	})
}

// Quarantined lists the quarantine folder of env's hosts.
func Quarantined(t *testing.T, env *Env) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(filepath.Dir(env.Root), "quarantine"))
	if err != nil {
		t.Fatalf("read quarantine: %v", err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// CheckQuarantined checks that the node of spec no longer runs, that its
// directory left the root, and that it sits in quarantine with its data.
func CheckQuarantined(t *testing.T, env *Env, spec provisioner.NodeSpec, n provisioner.Node) {
	t.Helper()
	if Running(n.PID) || len(PidsUnder(n.Dir)) != 0 {
		t.Errorf("process %d still runs after Quarantine", n.PID)
	}
	if _, err := os.Stat(n.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("node dir after Quarantine: %v, want it moved away", err)
	}
	got := Quarantined(t, env)
	if len(got) != 1 {
		t.Fatalf("quarantine = %v, want one entry for %s", got, spec.Name)
	}
	if !engine.HasAOF(filepath.Join(filepath.Dir(env.Root), "quarantine", got[0])) {
		t.Errorf("quarantined %s holds no AOF: its data was not kept", got[0])
	}
	fi, err := os.Stat(filepath.Join(filepath.Dir(env.Root), "quarantine"))
	if err != nil || fi.Mode().Perm() != engine.DirPerm {
		t.Errorf("quarantine dir = %v, %v; want mode %v", fi.Mode().Perm(), err, engine.DirPerm)
	}
}
