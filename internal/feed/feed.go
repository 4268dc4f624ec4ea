// Package feed wakes whoever waits on larder's state the moment it changes.
//
// The state itself lives in the store: every change an app can see (an
// operation's step, a config var, an add-on's state, an event) is a row with a
// sequence number, written in the same transaction as the change. A Hub only
// says "something was committed": whoever waits reads the store again from
// its cursor. So nothing is lost between a read and a wait (the channel is
// taken before the read), a waiter holds no lock or transaction while it
// waits, and a broker that did not make the change (another broker on a
// shared store) is covered by a slow fallback poll until the store can push
// (PostgreSQL LISTEN/NOTIFY).
//
// Waiters are bounded: Join caps them per key (an API token) and in all, and
// Close ends every wait at once, for a clean shutdown.
package feed

import (
	"context"
	"sync"
	"time"

	"larder/fault"
)

// Hub is a broadcast of "the store changed". The zero value is not usable;
// make one with New.
type Hub struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced by every Notify
	closed  chan struct{} // closed by Close
	keys    map[string]int
	waiters int
	perKey  int
	total   int
}

// New makes a hub that admits at most perKey waiters for one key and total
// waiters in all (zero or less: no cap).
func New(perKey, total int) *Hub {
	return &Hub{
		changed: make(chan struct{}),
		closed:  make(chan struct{}),
		keys:    map[string]int{},
		perKey:  perKey,
		total:   total,
	}
}

// Notify wakes every current waiter. Call it after a commit (never inside a
// transaction: a woken reader must be able to see the change).
func (h *Hub) Notify() {
	h.mu.Lock()
	close(h.changed)
	h.changed = make(chan struct{})
	h.mu.Unlock()
}

// Changed returns a channel closed by the next Notify. Take it before
// reading the store, so a change committed between the read and the wait
// still wakes the waiter.
func (h *Hub) Changed() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.changed
}

// Closed is closed once the hub is closed (the broker shuts down).
func (h *Hub) Closed() <-chan struct{} { return h.closed }

// Close ends every wait, now and later. It is safe to call more than once.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.closed:
	default:
		close(h.closed)
	}
}

// Join admits one waiter for key, or refuses with fault.TooMany when the key
// or the hub is at its cap, or fault.Unavailable once the hub is closed.
// The caller must call release exactly once when it stops waiting.
func (h *Hub) Join(key string) (release func(), err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.closed:
		return nil, fault.E(fault.Unavailable, "the broker is shutting down")
	default:
	}
	if h.perKey > 0 && h.keys[key] >= h.perKey {
		return nil, fault.E(fault.TooMany, "too many waiting requests for this token (at most %d at once)", h.perKey)
	}
	if h.total > 0 && h.waiters >= h.total {
		return nil, fault.E(fault.TooMany, "too many waiting requests (at most %d at once)", h.total)
	}
	h.keys[key]++
	h.waiters++
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.waiters--
			if h.keys[key]--; h.keys[key] <= 0 {
				delete(h.keys, key)
			}
		})
	}, nil
}

// Waiters reports how many waiters are admitted now.
func (h *Hub) Waiters() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.waiters
}

// Wait calls check until it reports done, re-checking after every Notify and,
// for changes this hub is not told of, every poll (zero: never). It returns
// (false, nil) when the wait ran out without check reporting done, the
// context's error when ctx ends, and fault.Unavailable when the hub closes.
// check's error ends the wait.
func (h *Hub) Wait(ctx context.Context, wait, poll time.Duration, check func() (bool, error)) (bool, error) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	var tick <-chan time.Time
	if poll > 0 {
		t := time.NewTicker(poll)
		defer t.Stop()
		tick = t.C
	}
	for {
		changed := h.Changed()
		done, err := check()
		if err != nil || done {
			return done, err
		}
		select {
		case <-changed:
		case <-tick:
		case <-deadline.C:
			return false, nil
		case <-ctx.Done():
			return false, ctx.Err()
		case <-h.closed:
			return false, fault.E(fault.Unavailable, "the broker is shutting down")
		}
	}
}
