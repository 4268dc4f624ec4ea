package testkit

import (
	"errors"
	"testing"
	"time"
)

// This test's own range: no other package uses 18000-18999.
func TestFreePortGivesEachPortOnce(t *testing.T) {
	seen := map[int]bool{}
	for range 20 {
		p := FreePort(t, 18000, 18999)
		if p < 18000 || p > 18999 || seen[p] {
			t.Fatalf("FreePort = %d: out of range or given twice (%v)", p, seen)
		}
		seen[p] = true
	}
}

func TestWaitForPollsUntilTrue(t *testing.T) {
	calls := 0
	WaitFor(t, 5*time.Second, func() error {
		if calls++; calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if calls != 3 {
		t.Errorf("try ran %d times, want 3", calls)
	}
}
