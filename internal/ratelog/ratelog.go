// Package ratelog is larder's one rate-limited logger: a loop that fails on
// every tick (a node that will not restart, an unreachable broker, a held
// failover) says so once per interval and key, and the next line it lets
// through says how many it held back. The clock is injectable so tests
// run in virtual time.
package ratelog

import (
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// Limiter lets one line per key through every interval. It is safe for
// concurrent use.
type Limiter struct {
	every time.Duration
	now   func() time.Time

	mu      sync.Mutex
	last    map[string]time.Time
	skipped map[string]int
}

// New returns a Limiter letting one line per key through every interval,
// reading the time from now (time.Now when nil).
func New(every time.Duration, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{every: every, now: now, last: map[string]time.Time{}, skipped: map[string]int{}}
}

// Allow reports whether a line for key may be logged now, and how many
// lines of that key were held back since the last one let through.
func (l *Limiter) Allow(key string) (ok bool, skipped int) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if last, seen := l.last[key]; seen && now.Sub(last) < l.every {
		l.skipped[key]++
		return false, 0
	}
	n := l.skipped[key]
	l.last[key], l.skipped[key] = now, 0
	return true, n
}

// Log logs msg at level on log when key's interval allows it, with a
// "suppressed" field counting the lines held back since the last one.
func (l *Limiter) Log(log logrus.FieldLogger, key string, level logrus.Level, msg string) {
	ok, skipped := l.Allow(key)
	if !ok {
		return
	}
	e := log.WithFields(logrus.Fields{})
	if skipped > 0 {
		e = e.WithField("suppressed", skipped)
	}
	e.Log(level, msg)
}
