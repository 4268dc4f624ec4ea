package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestPolicyDelay(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		p    Policy
		n    int
		want time.Duration
	}{
		{"no failure", Policy{100 * ms, time.Second}, 0, 0},
		{"negative count", Policy{100 * ms, time.Second}, -3, 0},
		{"first failure", Policy{100 * ms, time.Second}, 1, 100 * ms},
		{"second", Policy{100 * ms, time.Second}, 2, 200 * ms},
		{"fourth", Policy{100 * ms, time.Second}, 4, 800 * ms},
		{"capped", Policy{100 * ms, time.Second}, 5, time.Second},
		{"far past the cap", Policy{100 * ms, time.Second}, 1 << 30, time.Second},
		{"cap not a power of two", Policy{2 * ms, 100 * ms}, 7, 100 * ms},
		{"min above max", Policy{time.Second, 10 * ms}, 1, 10 * ms},
		{"zero min", Policy{0, time.Second}, 9, 0},
		{"huge count, no overflow", Policy{time.Hour, 24 * time.Hour}, 200, 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Delay(tc.n); got != tc.want {
				t.Errorf("%+v.Delay(%d) = %v, want %v", tc.p, tc.n, got, tc.want)
			}
		})
	}
}

func TestBackoffNextAndReset(t *testing.T) {
	b := New(5*time.Millisecond, 20*time.Millisecond)
	var got []time.Duration
	for range 4 {
		got = append(got, b.Next())
	}
	b.Reset()
	got = append(got, b.Next())
	want := []time.Duration{5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond, 5 * time.Millisecond}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Next sequence = %v, want %v", got, want)
		}
	}
}

func TestWait(t *testing.T) {
	if err := Wait(context.Background(), time.Millisecond); err != nil {
		t.Errorf("Wait(1ms) = %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// An hour's wait on an ended context returns at once with its error.
	if err := Wait(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait on a cancelled context = %v, want %v", err, context.Canceled)
	}
}
