package broker

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNoHostError(t *testing.T) {
	tests := []struct {
		drained, down []string
		want          []string
	}{
		{[]string{"local"}, nil, []string{"local is draining", "`larder hosts:undrain local`"}},
		{[]string{"h1", "h2"}, []string{"h3"}, []string{"h1, h2 are draining", "`larder hosts:undrain h1`, `larder hosts:undrain h2`", "h3 is unreachable"}},
		{nil, []string{"h1"}, []string{"h1 is unreachable"}},
		{nil, nil, []string{"there is no host"}},
	}
	for _, tt := range tests {
		got := noHostError(tt.drained, tt.down).Error()
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("noHostError(%v, %v) = %q, want it to say %q", tt.drained, tt.down, got, w)
			}
		}
	}
}

func TestRebuildBackoff(t *testing.T) {
	r := &reconciler{b: &Broker{cfg: Config{StandbyGrace: time.Second}}, rebuilding: map[string]bool{},
		rebuildFails: map[string]int{}, rebuildAt: map[string]time.Time{}}
	if !r.rebuildDue("a") {
		t.Fatal("first rebuild not due")
	}
	fail := errors.New("no host")
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		before := time.Now()
		r.finished("a", fail)
		after := time.Now()
		if at := r.rebuildAt["a"]; at.Before(before.Add(want)) || at.After(after.Add(want)) {
			t.Errorf("next rebuild after failure %d at %v from now, want %v", i+1, at.Sub(before), want)
		}
		if r.rebuildDue("a") {
			t.Errorf("rebuild due right after failure %d", i+1)
		}
	}
	for range 20 {
		r.finished("a", fail)
	}
	if got := time.Until(r.rebuildAt["a"]); got > maxRebuildBackoff {
		t.Errorf("wait after many failures = %v, want at most %v", got, maxRebuildBackoff)
	}
	r.finished("a", nil)
	if !r.rebuildDue("a") || r.rebuildFails["a"] != 0 {
		t.Errorf("a success does not reset the backoff")
	}
}
