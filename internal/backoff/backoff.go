// Package backoff is larder's one retry delay: a wait that starts at Min
// and doubles after each failure in a row up to Max, so a loop that keeps
// failing (a node that will not restart, an agent that does not answer, a
// standby rebuild that fails) neither spins nor waits for ever. Delays are
// pure functions of the failure count; callers keep their own clock.
package backoff

import (
	"context"
	"time"
)

// Policy is a delay doubling from Min to Max.
type Policy struct {
	Min, Max time.Duration
}

// Delay is the wait after n failures in a row: none for n <= 0, Min after
// the first, then doubling, never above Max.
func (p Policy) Delay(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	d := p.Min
	for i := 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// Backoff counts failures in a row under a Policy. The zero value of its
// count is "no failure yet"; it is not safe for concurrent use.
type Backoff struct {
	Policy
	n int
}

// New returns a Backoff from min doubling to max.
func New(min, max time.Duration) *Backoff { return &Backoff{Policy: Policy{Min: min, Max: max}} }

// Next counts one more failure and returns the wait before the next try.
func (b *Backoff) Next() time.Duration {
	b.n++
	return b.Delay(b.n)
}

// Reset forgets the failures: the next failure waits Min again.
func (b *Backoff) Reset() { b.n = 0 }

// Wait waits d, or less if ctx ends first (then it returns ctx's error).
func Wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
