package feed

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"larder/fault"
)

// TestWaitWakesOnNotify: a waiter whose check is not yet true returns as soon
// as a Notify follows the change, long before its deadline.
func TestWaitWakesOnNotify(t *testing.T) {
	h := New(0, 0)
	var state atomic.Bool
	checked := make(chan struct{}, 16)
	res := make(chan error, 1)
	go func() {
		done, err := h.Wait(context.Background(), time.Hour, 0, func() (bool, error) {
			checked <- struct{}{}
			return state.Load(), nil
		})
		if err == nil && !done {
			err = errors.New("wait ran out")
		}
		res <- err
	}()
	<-checked // the first check saw nothing
	state.Store(true)
	h.Notify()
	if err := <-res; err != nil {
		t.Fatal(err)
	}
}

// TestNoLostWakeup: a change committed (and notified) between the waiter's
// read and its wait still wakes it: the channel is taken before the read.
func TestNoLostWakeup(t *testing.T) {
	h := New(0, 0)
	var state atomic.Bool
	first := true
	done, err := h.Wait(context.Background(), time.Hour, 0, func() (bool, error) {
		if first {
			first = false
			// The change lands right after this read saw nothing.
			state.Store(true)
			h.Notify()
			return false, nil
		}
		return state.Load(), nil
	})
	if err != nil || !done {
		t.Fatalf("done %v, err %v", done, err)
	}
}

// TestWaitDeadline: without a change the wait ends at its deadline and says
// it ran out; the check ran once.
func TestWaitDeadline(t *testing.T) {
	h := New(0, 0)
	n := 0
	done, err := h.Wait(context.Background(), 20*time.Millisecond, 0, func() (bool, error) { n++; return false, nil })
	if err != nil || done || n != 1 {
		t.Fatalf("done %v, err %v, checks %d", done, err, n)
	}
}

// TestWaitPollsForUnnotifiedChanges: a change the hub is not told of (made
// by another broker) is seen at the next poll.
func TestWaitPollsForUnnotifiedChanges(t *testing.T) {
	h := New(0, 0)
	var n atomic.Int32
	done, err := h.Wait(context.Background(), time.Hour, time.Millisecond, func() (bool, error) { return n.Add(1) >= 3, nil })
	if err != nil || !done {
		t.Fatalf("done %v, err %v", done, err)
	}
}

// TestWaitEnds: a check's error, the context and the hub's close each end a
// wait with their own error.
func TestWaitEnds(t *testing.T) {
	boom := errors.New("boom")
	h := New(0, 0)
	if _, err := h.Wait(context.Background(), time.Hour, 0, func() (bool, error) { return false, boom }); !errors.Is(err, boom) {
		t.Errorf("check error: got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Wait(ctx, time.Hour, 0, func() (bool, error) { return false, nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v", err)
	}
	h.Close()
	h.Close() // twice is fine
	if _, err := h.Wait(context.Background(), time.Hour, 0, func() (bool, error) { return false, nil }); !errors.Is(err, fault.Unavailable) {
		t.Errorf("closed: got %v", err)
	}
	if _, err := h.Join("t"); !errors.Is(err, fault.Unavailable) {
		t.Errorf("join after close: got %v", err)
	}
}

// TestJoinCaps: a key gets at most perKey waiters and the hub total; a
// release (once, however often it is called) frees the place.
func TestJoinCaps(t *testing.T) {
	h := New(2, 3)
	r1, err := h.Join("a")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := h.Join("a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Join("a"); !errors.Is(err, fault.TooMany) {
		t.Fatalf("third for a: got %v", err)
	}
	r3, err := h.Join("b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Join("c"); !errors.Is(err, fault.TooMany) {
		t.Fatalf("fourth in all: got %v", err)
	}
	r1()
	r1()
	if h.Waiters() != 2 {
		t.Fatalf("waiters after a double release: %d", h.Waiters())
	}
	r4, err := h.Join("a")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []func(){r2, r3, r4} {
		r()
	}
	if h.Waiters() != 0 || len(h.keys) != 0 {
		t.Fatalf("left: %d waiters, keys %v", h.Waiters(), h.keys)
	}
}

// TestManyWaitersDroppedAtOnce: 1 000 waiters end together when their
// contexts go, and no goroutine of theirs is left.
func TestManyWaitersDroppedAtOnce(t *testing.T) {
	h := New(0, 0)
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var started sync.WaitGroup
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		started.Add(1)
		go func() {
			defer wg.Done()
			rel, err := h.Join("k")
			if err != nil {
				t.Error(err)
				started.Done()
				return
			}
			defer rel()
			once := sync.OnceFunc(started.Done)
			h.Wait(ctx, time.Hour, 0, func() (bool, error) { once(); return false, nil })
		}()
	}
	started.Wait()
	if h.Waiters() != 1000 {
		t.Fatalf("waiters: %d", h.Waiters())
	}
	cancel()
	wg.Wait()
	if h.Waiters() != 0 {
		t.Fatalf("waiters left: %d", h.Waiters())
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines left behind (%d before)", n-before, before)
	}
}
