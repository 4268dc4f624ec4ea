// Package testkit holds the helpers tests of several packages share:
// waiting on a condition under a deadline (never a bare sleep), and free
// ports from the range a package owns (ports.go).
package testkit

import (
	"context"
	"testing"
	"time"

	"larder/internal/backoff"
)

// Steady polls every 10 ms: for conditions that are cheap to check.
var Steady = backoff.Policy{Min: 10 * time.Millisecond, Max: 10 * time.Millisecond}

// Patient polls from 5 ms doubling to 320 ms: for conditions that cost a
// process or a round trip to check (a CLI run, a broker request).
var Patient = backoff.Policy{Min: 5 * time.Millisecond, Max: 320 * time.Millisecond}

// WaitFor polls try with Steady until it succeeds or timeout passes, then
// fails the test with try's last error.
func WaitFor(tb testing.TB, timeout time.Duration, try func() error) {
	tb.Helper()
	Wait(tb, timeout, Steady, try)
}

// Wait polls try, waiting p's delays in between, until it succeeds or
// timeout passes, then fails the test with try's last error.
func Wait(tb testing.TB, timeout time.Duration, p backoff.Policy, try func() error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	b := backoff.Backoff{Policy: p}
	for {
		err := try()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("still failing after %v: %v", timeout, err)
		}
		backoff.Wait(context.Background(), b.Next())
	}
}
