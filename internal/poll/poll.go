// Package poll waits in tests for a condition on a real signal, under a
// deadline, instead of sleeping for a guessed time.
package poll

import (
	"testing"
	"time"
)

// Until calls try every few milliseconds until it succeeds or timeout
// passes, then fails the test with try's last error.
func Until(tb testing.TB, timeout time.Duration, try func() error) {
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
		timer := time.NewTimer(10 * time.Millisecond)
		<-timer.C
	}
}
