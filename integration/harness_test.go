// Package integration runs larder end to end: it builds the larder binary, starts
// real brokers on temporary data directories and drives them through the CLI and
// the HTTP API, against real engine processes on loopback. Nothing is mocked.
package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"larder/api"
	"larder/engine"
	"larder/internal/pgtest"
	"larder/internal/testkit"
)

var (
	larderBin string // built once in TestMain
	engineErr error  // why engine tests skip
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if _, engineErr = engine.Discover(); engineErr != nil {
		fmt.Fprintf(os.Stderr, "integration: no engine (%v); tests will skip\n", engineErr)
		return pgtest.Main(m)
	}
	dir, err := os.MkdirTemp("", "larder-it-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if larderBin, err = testkit.BuildLarder(dir); err != nil {
		fmt.Fprintf(os.Stderr, "integration: %v\n", err)
		return 1
	}
	return pgtest.Main(m)
}

// nextRange hands every broker its own node port range, so tests (and other
// packages' tests running at the same time) never compete for ports.
var nextRange atomic.Int32

func portRange(width int) (int, int) {
	// Blocks stay in the package's own range (testkit.Integration), wrapping
	// around to blocks of brokers long stopped rather than running into the
	// provisioner's ports or the kernel's ephemeral ones. A block where
	// something outside this test process listens is skipped: an edge's
	// ports cannot move the way a node's can.
	blocks := (testkit.Integration.Hi - testkit.Integration.Lo + 1) / width
	for range blocks {
		lo, hi := testkit.Integration.Block(int(nextRange.Add(1)), width)
		if blockFree(lo, hi) {
			return lo, hi
		}
	}
	return testkit.Integration.Block(int(nextRange.Add(1)), width)
}

// blockFree reports whether every port of lo-hi can be bound on loopback.
func blockFree(lo, hi int) bool {
	for p := lo; p <= hi; p++ {
		if !portFree(p) {
			return false
		}
	}
	return true
}

// Broker is a larder broker process under test.
type Broker struct {
	t       testing.TB
	DataDir string
	Home    string
	URL     string
	Token   string
	Ports   [2]int
	// EdgePorts is the range of the broker's in-process edge: every
	// add-on's URLs name two of its ports.
	EdgePorts [2]int
	extra     []string // extra env for the broker
	cmd       *exec.Cmd
	logs      *syncBuffer
	done      chan struct{}
}

// syncBuffer is testkit.SyncBuffer under this package's short name.
type syncBuffer = testkit.SyncBuffer

// NewBroker starts a broker on a fresh data directory and registers cleanup
// that stops it and kills every node it left running.
func NewBroker(t testing.TB, env ...string) *Broker {
	t.Helper()
	if engineErr != nil {
		t.Skipf("no engine: %v", engineErr)
	}
	root := t.TempDir()
	lo, hi := portRange(100)
	elo, ehi := portRange(100)
	b := &Broker{t: t, DataDir: filepath.Join(root, "data"), Home: filepath.Join(root, "home"), Ports: [2]int{lo, hi}, EdgePorts: [2]int{elo, ehi}, extra: env}
	os.MkdirAll(b.Home, 0o700)
	t.Cleanup(b.cleanup)
	b.Start()
	return b
}

// Start runs the broker process and waits until its API answers.
func (b *Broker) Start() {
	b.t.Helper()
	os.Remove(filepath.Join(b.DataDir, api.DiscoveryFile))
	b.logs = &syncBuffer{}
	listen := "127.0.0.1:0"
	for _, e := range b.extra {
		if v, ok := strings.CutPrefix(e, "LARDER_LISTEN="); ok {
			listen = v // e.g. a bridge address that agents in namespaces reach
		}
	}
	b.cmd = exec.Command(larderBin, "broker", "--data-dir", b.DataDir, "--listen", listen,
		"--ports", fmt.Sprintf("%d-%d", b.Ports[0], b.Ports[1]), "--edge-ports", fmt.Sprintf("%d-%d", b.EdgePorts[0], b.EdgePorts[1]),
		"--log-level", "debug")
	// No spares unless a test asks (LARDER_SPARES in extra): most tests count
	// nodes, ports and processes; spares_test.go tests them.
	b.cmd.Env = append(append(baseEnv(b.Home), "LARDER_SPARES=0"), b.extra...)
	b.cmd.Stdout, b.cmd.Stderr = b.logs, b.logs
	if err := b.cmd.Start(); err != nil {
		b.t.Fatalf("start broker: %v", err)
	}
	b.done = make(chan struct{})
	go func() { b.cmd.Wait(); close(b.done) }()
	WaitFor(b.t, 20*time.Second, "broker to answer", func() error {
		select {
		case <-b.done:
			b.t.Fatalf("broker exited early:\n%s", b.logs.String())
		default:
		}
		d, err := api.ReadDiscovery(b.DataDir)
		if err != nil {
			return err
		}
		resp, err := http.Get(d.URL + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		b.URL, b.Token = d.URL, d.Token
		return nil
	})
}

// Stop stops the broker with SIGTERM and waits for it to exit.
func (b *Broker) Stop() {
	b.t.Helper()
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(20 * time.Second):
		b.cmd.Process.Kill()
		<-b.done
		b.t.Errorf("broker did not stop on SIGTERM within 20s")
	}
	b.cmd = nil
}

func (b *Broker) cleanup() {
	if b.cmd != nil {
		b.cmd.Process.Kill()
		<-b.done
		b.cmd = nil
	}
	killNodes(b.DataDir)
	if b.t.Failed() && b.logs != nil {
		b.t.Logf("broker log:\n%s", b.logs.String())
	}
}

// killNodes kills every node whose pidfile is under dataDir with its whole
// process group (an AOF rewrite runs in a forked child that writes into the
// node's directory), and waits until they are gone, so that the test's
// directories can be removed.
func killNodes(dataDir string) {
	// A node the broker was starting when it was killed may not have
	// written its pidfile yet: its command line names its config file.
	pids := append(nodePIDs(dataDir), pidsRunning(filepath.Join(dataDir, "nodes")+"/")...)
	for _, pid := range pids {
		syscall.Kill(-pid, syscall.SIGKILL) // nodes lead their own session and group
		syscall.Kill(pid, syscall.SIGKILL)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for groupAlive(pid) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond) // polling /proc until the group is gone
		}
	}
}

// groupAlive reports whether a live (not zombie) process is in process group pgid.
func groupAlive(pgid int) bool {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := string(b)
		// pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 2 && fields[0] != "Z" && fields[2] == strconv.Itoa(pgid) {
			return true
		}
	}
	return false
}

// pidsRunning lists the processes whose command line holds dir.
func pidsRunning(dir string) []int {
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []int
	for _, f := range cmdlines {
		b, err := os.ReadFile(f)
		if err != nil || !strings.Contains(string(b), dir) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(f))); err == nil && pid != os.Getpid() {
			pids = append(pids, pid)
		}
	}
	return pids
}

// nodePIDs reads the pidfiles of every node directory under dataDir.
func nodePIDs(dataDir string) []int {
	files, _ := filepath.Glob(filepath.Join(dataDir, "nodes", "*", "node.pid"))
	var pids []int
	for _, f := range files {
		if pid, ok := readPID(f); ok {
			pids = append(pids, pid)
		}
	}
	return pids
}

func readPID(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid, err == nil && pid > 0
}

func baseEnv(home string) []string {
	env := []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "XDG_DATA_HOME=" + filepath.Join(home, ".local", "share")}
	if e := os.Getenv("LARDER_ENGINE"); e != "" {
		env = append(env, "LARDER_ENGINE="+e)
	}
	return env
}

// Client returns an API client of the broker.
func (b *Broker) Client() *api.Client { return api.NewClient(b.URL, b.Token) }

// Result is what one CLI run printed.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Larder runs the CLI against the broker, with stdin from the optional input.
func (b *Broker) Larder(args ...string) Result {
	return b.LarderIn("", args...)
}

// LarderIn runs the CLI with the given stdin.
func (b *Broker) LarderIn(stdin string, args ...string) Result {
	b.t.Helper()
	return b.LarderEnv(stdin, nil, args...)
}

// LarderEnv runs the CLI with the given stdin and env on top of the
// broker's (a later LARDER_API_URL=… wins).
func (b *Broker) LarderEnv(stdin string, env []string, args ...string) Result {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, larderBin, args...)
	cmd.Env = append(append(baseEnv(b.Home), "LARDER_API_URL="+b.URL, "LARDER_API_TOKEN="+b.Token), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		b.t.Fatalf("run larder %v: %v", args, err)
	}
	return Result{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// MustLarder runs the CLI and fails the test on a non-zero exit.
func (b *Broker) MustLarder(args ...string) Result {
	b.t.Helper()
	r := b.Larder(args...)
	if r.Code != 0 {
		b.t.Fatalf("larder %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// WaitFor polls fn until it returns nil or the deadline passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, fn func() error) {
	t.Helper()
	testkit.Wait(t, timeout, testkit.Patient, func() error {
		if err := fn(); err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		return nil
	})
}

// processAlive reports whether pid is a live (not zombie) process.
func processAlive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// portFree reports whether a loopback port can be bound.
func portFree(port int) bool {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}
