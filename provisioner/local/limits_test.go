package local

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	h := &Host{opts: Options{BackoffMin: 100 * time.Millisecond, BackoffMax: time.Second}}
	tests := []struct {
		n    int
		want time.Duration
	}{
		{0, 0}, {1, 100 * time.Millisecond}, {2, 200 * time.Millisecond},
		{3, 400 * time.Millisecond}, {4, 800 * time.Millisecond}, {5, time.Second}, {60, time.Second},
	}
	for _, tt := range tests {
		if got := h.backoff(tt.n); got != tt.want {
			t.Errorf("backoff(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
}

func TestLogLimiter(t *testing.T) {
	l := newLogLimiter(time.Minute)
	t0 := time.Unix(1000, 0)
	steps := []struct {
		at          time.Duration
		wantOK      bool
		wantSkipped int
	}{
		{0, true, 0}, {time.Second, false, 0}, {2 * time.Second, false, 0},
		{time.Minute, true, 2}, {time.Minute + time.Second, false, 0},
	}
	for _, s := range steps {
		ok, skipped := l.allow("ping", t0.Add(s.at))
		if ok != s.wantOK || skipped != s.wantSkipped {
			t.Errorf("allow at +%v = %v, %d; want %v, %d", s.at, ok, skipped, s.wantOK, s.wantSkipped)
		}
	}
}
