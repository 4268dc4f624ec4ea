package coord

import (
	"testing"
	"time"
)

// TestFakeClock: a fake timer fires only once the clock is advanced to its
// deadline, a stopped one never, and Waiting counts the timers that wait.
func TestFakeClock(t *testing.T) {
	f := NewFake(t0)
	fired := func(tm Timer) bool {
		select {
		case <-tm.C():
			return true
		default:
			return false
		}
	}
	short, long, stopped := f.NewTimer(time.Second), f.NewTimer(3*time.Second), f.NewTimer(2*time.Second)
	if n, _ := f.Waiting(); n != 3 {
		t.Fatalf("Waiting = %d, want 3", n)
	}
	_, changed := f.Waiting()
	if !stopped.Stop() || stopped.Stop() {
		t.Errorf("Stop of a waiting timer, then again: want true, then false")
	}
	select {
	case <-changed:
	default:
		t.Errorf("Waiting's channel not closed by a Stop")
	}
	for _, tt := range []struct {
		advance     time.Duration
		short, long bool
		waiting     int
	}{
		{999 * time.Millisecond, false, false, 2},
		{time.Millisecond, true, false, 1},
		{5 * time.Second, false, true, 0},
	} {
		f.Advance(tt.advance)
		s, l, st := fired(short), fired(long), fired(stopped)
		if s != tt.short || l != tt.long || st {
			t.Errorf("at +%v: fired short %v long %v stopped %v; want %v %v false", f.Now().Sub(t0), s, l, st, tt.short, tt.long)
		}
		if n, _ := f.Waiting(); n != tt.waiting {
			t.Errorf("at +%v: Waiting = %d, want %d", f.Now().Sub(t0), n, tt.waiting)
		}
	}
	if now := f.NewTimer(0); !fired(now) {
		t.Errorf("a timer of 0 did not fire at once")
	}
}
