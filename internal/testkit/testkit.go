// Package testkit holds the helpers tests of several packages share:
// waiting on a condition under a deadline, and free ports from a range a
// package owns. Packages that run at the same time use disjoint port
// ranges (see each package's helpers), all below the kernel's ephemeral
// ports (32768+), which outgoing connections take at any moment.
package testkit

import (
	"crypto/rand"
	"math/big"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// WaitFor polls try every 10 ms until it succeeds or timeout passes, then
// fails the test with try's last error. Tests wait on a real signal this
// way, never with a bare sleep.
func WaitFor(tb testing.TB, timeout time.Duration, try func() error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := try()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("still failing after %v: %v", timeout, err)
		}
		<-time.After(10 * time.Millisecond)
	}
}

var (
	portMu    sync.Mutex
	portsUsed = map[int]bool{}
)

// FreePort returns a port in [lo, hi] that nobody listens on (on
// 127.0.0.1) and that no other test of this process was given.
func FreePort(tb testing.TB, lo, hi int) int {
	tb.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	for range 1000 {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(hi-lo+1)))
		if err != nil {
			tb.Fatal(err)
		}
		port := lo + int(n.Int64())
		if portsUsed[port] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		l.Close()
		portsUsed[port] = true
		return port
	}
	tb.Fatalf("no free port in %d-%d", lo, hi)
	return 0
}
