package engine

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"larder/internal/atomicfile"
	"larder/internal/testkit"
)

// startBare starts a node of unitSpec's settings on a free port in a
// directory of its own, as a host would, and kills it at cleanup.
func startBare(t *testing.T) *Process {
	t.Helper()
	e, err := Discover()
	if err != nil {
		t.Skipf("no usable valkey-server or redis-server (install redis-server 7+ or set %s): %v", EnvVar, err)
	}
	dir, spec := t.TempDir(), unitSpec()
	spec.Port = testkit.FreePort(t, testkit.Engine)
	conf, err := RenderConfig(spec, "127.0.0.1", dir)
	if err != nil {
		t.Fatal(err)
	}
	acl, err := RenderACL(spec)
	if err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(dir, ConfFile)
	if err := atomicfile.Write(filepath.Join(dir, ACLFile), acl, FilePerm); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.Write(confPath, conf, FilePerm); err != nil {
		t.Fatal(err)
	}
	p, err := e.Start(dir, confPath, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill() })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(spec.Port))
	if err := WaitReady(context.Background(), p, addr, Normalize(spec).Admin, 10*time.Second, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCPUCounterMovesWhileIdle: an idle (or paused) engine still wakes ten
// times a second, and both ways of reading its CPU counter see it (that a
// stopped one stands still, TestStuckNodeRestarted shows).
func TestCPUCounterMovesWhileIdle(t *testing.T) {
	t.Parallel()
	p := startBare(t)
	dir := "/proc/" + strconv.Itoa(p.PID)
	for name, read := range map[string]func() (int64, bool){
		"cpuTime": p.CPUTime, "without schedstat": func() (int64, bool) { return ticksAndSwitches(dir) },
	} {
		first, ok := read()
		if !ok {
			t.Fatalf("%s: cannot read the counter", name)
		}
		testkit.WaitFor(t, 5*time.Second, func() error {
			if now, _ := read(); now == first {
				return fmt.Errorf("%s: counter still %d", name, first)
			}
			return nil
		})
	}
}
