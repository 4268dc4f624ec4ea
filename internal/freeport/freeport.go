// Package freeport hands tests TCP ports on loopback from a range of their
// own: each package that starts engines in its tests owns a range (so that
// packages tested at the same time never collide), and within a test binary
// no port is handed out twice. The ranges stay below the kernel's ephemeral
// ports (32768+), which outgoing connections take at any moment.
package freeport

import (
	"crypto/rand"
	"math/big"
	"net"
	"strconv"
	"sync"
	"testing"
)

var (
	mu   sync.Mutex
	used = map[int]bool{}
)

// Get returns a port in [lo, hi] that nobody listens on and that this
// process has not handed out before, or fails the test.
func Get(tb testing.TB, lo, hi int) int {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	for range 1000 {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(hi-lo+1)))
		if err != nil {
			tb.Fatal(err)
		}
		port := lo + int(n.Int64())
		if used[port] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		l.Close()
		used[port] = true
		return port
	}
	tb.Fatalf("no free port in %d-%d", lo, hi)
	return 0
}
