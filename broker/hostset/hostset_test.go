package hostset

import (
	"context"
	"testing"
	"time"

	"larder/fault"
	"larder/provisioner"
	"larder/store"
)

// TestReachability: a host's outage starts at its first failed call and
// lasts across further failures; an answer ends it and is its last contact.
func TestReachability(t *testing.T) {
	s := New(nil)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tt := range []struct {
		name        string
		ok          bool
		at          time.Duration // after t0
		wantChanged bool
		wantUp      bool
		wantDownFor time.Duration // at the call's own time + 1s
	}{
		{"first answer", true, 0, true, true, 0},
		{"down", false, 10 * time.Second, true, false, time.Second},
		{"still down", false, 20 * time.Second, false, false, 11 * time.Second},
		{"back", true, 30 * time.Second, true, true, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			now := t0.Add(tt.at)
			if got := s.Observe("h1", tt.ok, now); got != tt.wantChanged {
				t.Errorf("changed = %v, want %v", got, tt.wantChanged)
			}
			if got := s.IsUp("h1"); got != tt.wantUp {
				t.Errorf("up = %v, want %v", got, tt.wantUp)
			}
			if got := s.DownFor("h1", now.Add(time.Second)); got != tt.wantDownFor {
				t.Errorf("down for %s, want %s", got, tt.wantDownFor)
			}
		})
	}
	if c, ok := s.LastContact("h1"); !ok || !c.Equal(t0.Add(30*time.Second)) {
		t.Errorf("last contact %s, %v; want %s", c, ok, t0.Add(30*time.Second))
	}
	if _, ok := s.LastContact("h2"); ok {
		t.Error("a host never seen has a last contact")
	}
}

// TestPauses: the pauses a host reports replace what it reported before.
func TestPauses(t *testing.T) {
	s := New(nil)
	p := provisioner.Pause{Owner: provisioner.PauseOwnerLease, Reason: "lease expired"}
	s.NoteStatus(provisioner.HostStatus{Name: "h1", Nodes: []provisioner.NodeStatus{{ID: "n1", Pause: &p}, {ID: "n2"}}})
	if got := s.PauseOf("n1"); got == nil || got.Reason != p.Reason {
		t.Fatalf("pause of n1 = %+v, want %+v", got, p)
	}
	if got := s.PauseOf("n2"); got != nil {
		t.Errorf("pause of n2 = %+v, want none", got)
	}
	s.NoteStatus(provisioner.HostStatus{Name: "h1", Nodes: []provisioner.NodeStatus{{ID: "n1"}}})
	if got := s.PauseOf("n1"); got != nil {
		t.Errorf("pause of n1 after it lifted = %+v, want none", got)
	}
}

// TestUnknownHost: a node on a host the broker does not know gets a
// stand-in whose every call is Unavailable, naming the host.
func TestUnknownHost(t *testing.T) {
	h := New(nil).Of(store.Node{Host: "gone"})
	if h.Name() != "gone" {
		t.Errorf("name %q, want gone", h.Name())
	}
	if err := h.Stop(context.Background(), "n1"); fault.KindOf(err) != fault.Unavailable {
		t.Errorf("stop = %v, want Unavailable", err)
	}
	if err := NotConnected("gone"); fault.KindOf(err) != fault.Unavailable {
		t.Errorf("NotConnected = %v, want Unavailable", err)
	}
}
