package coord

import (
	"slices"
	"strings"
	"testing"
	"time"

	"larder/ha"
	"larder/provisioner"
	"larder/store"
)

// TestDecisionChange: the observers' ability to decide is noted when it
// changes, not on every look, and not before the locations had time to
// report after the start.
func TestDecisionChange(t *testing.T) {
	e := newEnv(t)
	e.c.Start()
	report := func(locs ...string) {
		for _, loc := range locs {
			e.tracker.Record(ha.Report{Location: loc, Observer: loc + "-1"}, e.clock.Now())
		}
	}
	type look struct {
		advance time.Duration
		report  []string
		kind    string // "" = no change noted
	}
	for i, l := range []look{
		{0, []string{"east"}, ""},                           // too early: fresh (3 s) + interval (1 s)
		{3 * time.Second, []string{"east"}, ""},             // still too early
		{time.Second, []string{"east"}, "ha.cannot_decide"}, // one location of the two needed
		{time.Second, []string{"east"}, ""},                 // unchanged: not noted again
		{time.Second, []string{"east", "west"}, "ha.can_decide"},
		{time.Second, []string{"east", "west"}, ""},
	} {
		e.clock.Advance(l.advance)
		report(l.report...)
		kind, msg, ok := e.c.DecisionChange()
		if ok != (l.kind != "") || kind != l.kind {
			t.Errorf("look %d at +%v: change %q (%v), want %q", i, e.clock.Now().Sub(t0), kind, ok, l.kind)
		}
		if ok && msg == "" || kind == "ha.cannot_decide" && !strings.Contains(msg, "no failover can happen") {
			t.Errorf("look %d: message %q", i, msg)
		}
	}
}

func TestBehind(t *testing.T) {
	n := store.Node{Epoch: 3}
	for _, tt := range []struct {
		name string
		ns   provisioner.NodeStatus
		want bool
	}{
		{"at the node's epoch", provisioner.NodeStatus{Epoch: 3}, false},
		{"ahead of it", provisioner.NodeStatus{Epoch: 4}, false},
		{"an older epoch", provisioner.NodeStatus{Epoch: 2}, true},
		{"a write pause", provisioner.NodeStatus{Epoch: 3, Pause: &provisioner.Pause{Reason: "lease expired"}}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Behind(n, tt.ns); got != tt.want {
				t.Errorf("Behind(epoch 3, %+v) = %v, want %v", tt.ns, got, tt.want)
			}
		})
	}
}

func TestSettleOrderStandbysFirst(t *testing.T) {
	for n, want := range map[int][]int{0: {}, 1: {0}, 2: {1, 0}, 3: {1, 2, 0}} {
		if got := SettleOrder(n); !slices.Equal(got, want) {
			t.Errorf("SettleOrder(%d) = %v, want %v", n, got, want)
		}
	}
}
