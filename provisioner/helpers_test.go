package provisioner

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"larder/internal/testkit"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"
)

var (
	engineOnce sync.Once
	engine     Engine
	engineErr  error
)

// requireEngine returns the real engine, or skips the test when none is
// installed.
func requireEngine(tb testing.TB) Engine {
	tb.Helper()
	engineOnce.Do(func() { engine, engineErr = DiscoverEngine() })
	if engineErr != nil {
		tb.Skipf("no usable valkey-server or redis-server (install redis-server 7+ or set %s): %v", EngineEnv, engineErr)
	}
	return engine
}

// freePort returns a port of the provisioner's own range (testkit.Provisioner).
func freePort(tb testing.TB) int {
	tb.Helper()
	return testkit.FreePort(tb, testkit.Provisioner)
}

var waitFor = testkit.WaitFor

// testEnv is a node root with a logger, an event recorder, and a cleanup that
// kills every process the test left under the root.
type testEnv struct {
	tb      testing.TB
	engine  Engine
	root    string
	log     *logrus.Logger
	events  *recorder
	logs    *lockedBuffer
	secrets []string
}

func newEnv(tb testing.TB) *testEnv {
	tb.Helper()
	e := &testEnv{tb: tb, engine: requireEngine(tb), root: tb.TempDir(), events: &recorder{}, logs: &lockedBuffer{}}
	e.log = logrus.New()
	e.log.SetLevel(logrus.DebugLevel)
	e.log.SetOutput(e.logs)
	tb.Cleanup(func() {
		for _, pid := range pidsUnder(e.root) {
			syscall.Kill(pid, syscall.SIGCONT)
			syscall.Kill(pid, syscall.SIGKILL)
		}
		out := e.logs.String()
		for _, s := range e.secrets {
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

// host starts a LocalHost on the env's root with fast test intervals; opts
// fields left zero take those, and the host is closed at cleanup.
func (e *testEnv) host(opts LocalOptions) *LocalHost {
	e.tb.Helper()
	opts.Root, opts.Engine, opts.Log = e.root, e.engine, e.log
	if also := opts.OnEvent; also != nil {
		opts.OnEvent = func(ev Event) { e.events.add(ev); also(ev) }
	} else {
		opts.OnEvent = e.events.add
	}
	if opts.CheckInterval == 0 {
		opts.CheckInterval = 50 * time.Millisecond
	}
	if opts.HangTimeout == 0 {
		opts.HangTimeout = 2 * time.Second
	}
	if opts.BackoffMin == 0 {
		opts.BackoffMin = 20 * time.Millisecond
	}
	if opts.BackoffMax == 0 {
		opts.BackoffMax = 200 * time.Millisecond
	}
	h, err := NewLocalHost(opts)
	if err != nil {
		e.tb.Fatalf("NewLocalHost() error = %v", err)
	}
	e.tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			e.tb.Errorf("Close() error = %v", err)
		}
	})
	return h
}

// spec is a mini (or persistent) node with a free port and fresh passwords.
func (e *testEnv) spec(name string, persistent bool) NodeSpec {
	e.tb.Helper()
	s := NodeSpec{
		ID: "id-" + name, Name: name, Port: freePort(e.tb),
		MaxMemoryBytes: 25 << 20, MaxClients: 20, Persistence: persistent,
		MaxMemoryPolicy: "noeviction",
		Admin:           User{Name: AdminUser, Password: randomHex(e.tb)},
		Customer:        User{Name: CustomerUser, Password: randomHex(e.tb)},
	}
	e.secrets = append(e.secrets, s.Admin.Password, s.Customer.Password)
	return s
}

func randomHex(tb testing.TB) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// client connects to a node as u; it is closed at cleanup.
func client(tb testing.TB, spec NodeSpec, u User) *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(spec.Port)), Username: u.Name, Password: u.Password,
		DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, MaxRetries: -1, DisableIdentity: true,
	})
	tb.Cleanup(func() { c.Close() })
	return c
}

// pidsUnder lists live (non-zombie) processes whose command line names a path
// under root: every node a test started there.
func pidsUnder(root string) []int {
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
		if err != nil || procState(stat) == 'Z' {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// running reports whether pid is a live, non-zombie process.
func running(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && procState(stat) != 'Z'
}

// recorder keeps the events a host reported.
type recorder struct {
	mu  sync.Mutex
	evs []Event
}

func (r *recorder) add(ev Event) {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
}

// all returns the events of node id so far.
func (r *recorder) all(id string) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	for _, ev := range r.evs {
		if ev.NodeID == id {
			out = append(out, ev)
		}
	}
	return out
}

// wait returns the first event of node id and kind after the first skip
// events of that node, polling under timeout.
func (r *recorder) wait(tb testing.TB, id string, kind EventKind, skip int, timeout time.Duration) Event {
	tb.Helper()
	var found Event
	waitFor(tb, timeout, func() error {
		evs := r.all(id)
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

// lockedBuffer is a goroutine-safe log sink.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// sessionOf reads a process's session id from /proc/<pid>/stat:
// "pid (comm) state ppid pgrp session …".
func sessionOf(pid int) (int, error) {
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
