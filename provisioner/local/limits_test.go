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
