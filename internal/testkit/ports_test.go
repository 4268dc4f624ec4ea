package testkit

import "testing"

// TestRangesDisjoint: two packages' tests run at the same time (one
// package per lock), so no two ranges may share a port, and all stay below
// the kernel's ephemeral ports.
func TestRangesDisjoint(t *testing.T) {
	for i, a := range Ranges {
		if a.Lo > a.Hi || a.Lo < 1024 || a.Hi >= 32768 {
			t.Errorf("range %s %d-%d: empty, privileged or in the ephemeral ports", a.Name, a.Lo, a.Hi)
		}
		for _, b := range Ranges[i+1:] {
			if a.Lo <= b.Hi && b.Lo <= a.Hi {
				t.Errorf("ranges %s %d-%d and %s %d-%d overlap", a.Name, a.Lo, a.Hi, b.Name, b.Lo, b.Hi)
			}
		}
	}
}
