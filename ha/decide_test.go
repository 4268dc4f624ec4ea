package ha

import (
	"testing"
	"time"
)

func report(loc string, up bool, stalled bool) Report {
	return Report{Location: loc, Observer: loc + "-1", Stalled: stalled, Nodes: []NodeObservation{{NodeID: "p", Up: up}}}
}

func TestVerdict(t *testing.T) {
	rules := Rules{Window: 2 * time.Second, Fresh: time.Second, MinQuorum: 2}
	t0 := time.Unix(1000, 0)
	type step struct {
		at      time.Duration
		loc     string
		up      bool
		stalled bool
	}
	tests := []struct {
		name  string
		steps []step
		at    time.Duration
		down  bool
	}{
		{"all see it up", []step{{0, "a", true, false}, {0, "b", true, false}, {0, "c", true, false}}, 0, false},
		{"quorum down for the window", []step{
			{0, "a", false, false}, {0, "b", false, false}, {0, "c", true, false},
			{2500 * time.Millisecond, "a", false, false}, {2500 * time.Millisecond, "b", false, false}, {2500 * time.Millisecond, "c", true, false},
		}, 2500 * time.Millisecond, true},
		{"quorum down, window not over", []step{
			{0, "a", false, false}, {0, "b", false, false}, {0, "c", true, false},
			{1500 * time.Millisecond, "a", false, false}, {1500 * time.Millisecond, "b", false, false}, {1500 * time.Millisecond, "c", true, false},
		}, 1500 * time.Millisecond, false},
		{"one location down only (partitioned observer)", []step{
			{0, "a", false, false}, {0, "b", true, false}, {0, "c", true, false},
			{3 * time.Second, "a", false, false}, {3 * time.Second, "b", true, false}, {3 * time.Second, "c", true, false},
		}, 3 * time.Second, false},
		{"a blip resets the run", []step{
			{0, "a", false, false}, {0, "b", false, false},
			{time.Second, "a", true, false}, {time.Second, "b", false, false},
			{2500 * time.Millisecond, "a", false, false}, {2500 * time.Millisecond, "b", false, false},
		}, 2500 * time.Millisecond, false},
		{"stalled observer's vote withheld", []step{
			{0, "a", false, true}, {0, "b", false, false},
			{2500 * time.Millisecond, "a", false, true}, {2500 * time.Millisecond, "b", false, false},
		}, 2500 * time.Millisecond, false},
		{"stale location does not vote, quorum of the rest", []step{
			{0, "a", false, false}, {0, "b", false, false}, {0, "c", true, false},
			{2500 * time.Millisecond, "a", false, false}, {2500 * time.Millisecond, "b", false, false},
		}, 2500 * time.Millisecond, true},
		{"a single location can never decide", []step{
			{0, "a", false, false}, {3 * time.Second, "a", false, false},
		}, 3 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker()
			for _, s := range tt.steps {
				tr.Record(report(s.loc, s.up, s.stalled), t0.Add(s.at))
			}
			v := tr.Verdict("p", t0.Add(tt.at), rules)
			if v.Down != tt.down {
				t.Fatalf("Down = %v, want %v (%+v)", v.Down, tt.down, v)
			}
			if v.Down && !v.DownSince.Equal(t0) {
				t.Errorf("DownSince = %v, want %v", v.DownSince, t0)
			}
		})
	}
}

func TestLocationsAndForget(t *testing.T) {
	tr := NewTracker()
	now := time.Unix(1000, 0)
	tr.Record(report("a", false, false), now)
	tr.Record(Report{Location: "a", Observer: "a-2", Nodes: []NodeObservation{{NodeID: "q", Up: true}}}, now)
	ls := tr.Locations()
	if len(ls) != 1 || len(ls[0].Observers) != 2 || ls[0].Up != 1 || len(ls[0].Down) != 1 {
		t.Fatalf("Locations = %+v", ls)
	}
	tr.Forget("p")
	if ls := tr.Locations(); len(ls[0].Down) != 0 {
		t.Errorf("after Forget: %+v", ls)
	}
}

func TestVerdictAgentReach(t *testing.T) {
	tr := NewTracker()
	t0 := time.Unix(1000, 0)
	up, down := true, false
	for _, at := range []time.Duration{0, 3 * time.Second} {
		tr.Record(Report{Location: "a", Observer: "a", Nodes: []NodeObservation{{NodeID: "p", AgentUp: &up}}}, t0.Add(at))
		tr.Record(Report{Location: "b", Observer: "b", Nodes: []NodeObservation{{NodeID: "p", AgentUp: &up}}}, t0.Add(at))
		tr.Record(Report{Location: "c", Observer: "c", Nodes: []NodeObservation{{NodeID: "p", AgentUp: &down}}}, t0.Add(at))
	}
	v := tr.Verdict("p", t0.Add(3*time.Second), Rules{Window: 2 * time.Second, Fresh: time.Second})
	if !v.Down || len(v.AgentUpAt) != 2 {
		t.Fatalf("verdict %+v: want down, with the agent reached from a and b", v)
	}
}
