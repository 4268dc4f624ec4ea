package scratch

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"

	"larder/fault"
)

func requireEngine(t *testing.T) {
	t.Helper()
	if _, err := FindEngine(); err != nil {
		t.Skipf("no engine: %v", err)
	}
}

// A scratch node answers on its socket, and Stop leaves no process and no
// directory behind.
func TestStartStop(t *testing.T) {
	requireEngine(t)
	s, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := s.Client(0)
	if err := c.Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Errorf("SET = %v", err)
	}
	c.Close()
	pid := s.cmd.Process.Pid
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop() = %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop() = %v", err)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("process %d still runs after Stop", pid)
	}
	if _, err := os.Stat(s.run); !os.IsNotExist(err) {
		t.Errorf("the node's directory %s is still there: %v", s.run, err)
	}
}

// A node that cannot start says why, from its own log, and leaves nothing.
func TestStartFailureSaysWhy(t *testing.T) {
	requireEngine(t)
	dir := t.TempDir()
	os.WriteFile(dir+"/dump.rdb", []byte("REDIS0010 this is not an RDB"), 0o600)
	s, err := Start(context.Background(), Options{Dir: dir})
	if err == nil {
		s.Stop()
		t.Fatal("Start() on a bad RDB = nil, want an error")
	}
	if fault.KindOf(err) != fault.Unavailable || !strings.Contains(err.Error(), "exited while starting") {
		t.Errorf("Start() error = %v", err)
	}
	if _, err := Start(context.Background(), Options{Config: []string{"no-such-directive yes"}}); err == nil ||
		!strings.Contains(err.Error(), "no-such-directive") {
		t.Errorf("Start(bad config) error = %v, want the engine's complaint", err)
	}
	if _, err := os.Stat(dir + "/dump.rdb"); err != nil {
		t.Errorf("Start removed the given directory's data: %v", err)
	}
}
