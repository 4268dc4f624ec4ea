package edge

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// The pinned layout (EDGE_BENCH_PIN=1) gives the proxy a processor of its
// own: redis-benchmark and the node share CPU 0, the proxy under test
// (this process's edge, or HAProxy) runs on CPU 1, and "direct" runs the
// same pair on CPU 0 with CPU 1 idle. On a two-processor machine the
// unpinned figures measure how much of the pair's processor time a proxy
// takes, since client and node each keep a processor busy at these loads;
// the pinned ones measure what the proxy adds to a request when it competes
// with neither, as it does on a host with processors to spare.
const (
	pairCPU  = 0
	proxyCPU = 1
)

// benchPinned says whether the benchmark runs the pinned layout; it needs
// two processors.
func benchPinned(tb testing.TB) bool {
	if os.Getenv("EDGE_BENCH_PIN") == "" {
		return false
	}
	if runtime.NumCPU() < 2 {
		tb.Skip("EDGE_BENCH_PIN needs two processors")
	}
	return true
}

// pin sets the affinity of every thread of pid (0: this process) to cpu;
// threads started later inherit it.
func pin(tb testing.TB, pid, cpu int) {
	tb.Helper()
	proc := "self"
	if pid > 0 {
		proc = strconv.Itoa(pid)
	}
	tasks, err := os.ReadDir(filepath.Join("/proc", proc, "task"))
	if err != nil {
		tb.Fatalf("pin: %v", err)
	}
	var set unix.CPUSet
	set.Set(cpu)
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH {
			tb.Fatalf("pin thread %d to CPU %d: %v", tid, cpu, err)
		}
	}
}
