package testkit

import (
	"errors"
	"testing"
	"time"
)

func TestFreePortGivesEachPortOnce(t *testing.T) {
	seen := map[int]bool{}
	for range 20 {
		p := FreePort(t, Self)
		if p < Self.Lo || p > Self.Hi || seen[p] {
			t.Fatalf("FreePort = %d: out of range or given twice (%v)", p, seen)
		}
		seen[p] = true
	}
}

func TestWaitPollsUntilTrue(t *testing.T) {
	for _, tc := range []struct {
		name string
		wait func(t *testing.T, try func() error)
	}{
		{"WaitFor", func(t *testing.T, try func() error) { WaitFor(t, 5*time.Second, try) }},
		{"Wait Patient", func(t *testing.T, try func() error) { Wait(t, 5*time.Second, Patient, try) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			tc.wait(t, func() error {
				if calls++; calls < 4 {
					return errors.New("not yet")
				}
				return nil
			})
			if calls != 4 {
				t.Errorf("try ran %d times, want 4", calls)
			}
		})
	}
}

func TestBlockWrapsInsideRange(t *testing.T) {
	r := Range{"test", 22000, 22999}
	for _, tc := range []struct{ n, lo, hi int }{
		{0, 22000, 22099}, {1, 22100, 22199}, {9, 22900, 22999}, {10, 22000, 22099}, {23, 22300, 22399},
	} {
		if lo, hi := r.Block(tc.n, 100); lo != tc.lo || hi != tc.hi {
			t.Errorf("Block(%d, 100) = %d-%d, want %d-%d", tc.n, lo, hi, tc.lo, tc.hi)
		}
	}
}
