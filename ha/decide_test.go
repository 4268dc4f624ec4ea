package ha

import (
	"strings"
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
			tr := NewTracker(0)
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
	tr := NewTracker(0)
	now := time.Unix(1000, 0)
	tr.Record(report("a", false, false), now)
	tr.Record(Report{Location: "a", Observer: "a-2", Nodes: []NodeObservation{{NodeID: "q", Up: true}}}, now)
	ls := tr.Locations(now, Rules{Fresh: time.Second})
	if len(ls) != 1 || len(ls[0].Observers) != 2 || ls[0].Up != 1 || len(ls[0].Down) != 1 {
		t.Fatalf("Locations = %+v", ls)
	}
	tr.Forget("p")
	if ls := tr.Locations(now, Rules{}); len(ls[0].Down) != 0 {
		t.Errorf("after Forget: %+v", ls)
	}
}

func TestVerdictAgentReach(t *testing.T) {
	tr := NewTracker(0)
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

// feed records a report of loc every step from `from` to `to` (both
// included), seeing node p up or down.
func feed(tr *Tracker, t0 time.Time, loc string, from, to, step time.Duration, up bool) {
	for at := from; at <= to; at += step {
		tr.Record(report(loc, up, false), t0.Add(at))
	}
}

func msec(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// TestSilenceIsNoEvidence: a location's down run is made of its own
// consecutive failed probes; a gap in its reports restarts the run (issue 18:
// a 2.6 s blip after a silence caused a failover "down since" 13.7 s before).
func TestSilenceIsNoEvidence(t *testing.T) {
	rules := Rules{Window: 2 * time.Second, Fresh: time.Second, MinQuorum: 2}
	t0 := time.Unix(1000, 0)
	const step = 200 * time.Millisecond
	tests := []struct {
		name       string
		feed       func(tr *Tracker)
		at         time.Duration
		down       bool
		since      time.Duration // DownSince (first failed probe), when down
		lastAnswer time.Duration // LastAnswer, when down
		upAtQuorum bool
	}{
		{"a run spans its failed probes", func(tr *Tracker) {
			for _, l := range []string{"a", "b"} {
				feed(tr, t0, l, 0, msec(10000), step, true)
				feed(tr, t0, l, msec(10200), msec(12200), step, false)
			}
		}, msec(12200), true, msec(10200), msec(10000), false},
		{"failed probes spanning less than the window", func(tr *Tracker) {
			for _, l := range []string{"a", "b"} {
				feed(tr, t0, l, 0, msec(10000), step, true)
				feed(tr, t0, l, msec(10200), msec(12000), step, false)
			}
		}, msec(12100), false, 0, 0, false},
		{"silent locations, then one failed probe: no failover", func(tr *Tracker) {
			for _, l := range []string{"a", "b"} {
				feed(tr, t0, l, 0, msec(10000), step, true)
				feed(tr, t0, l, msec(23700), msec(23700), step, false) // 13.7 s of silence
			}
		}, msec(23800), false, 0, 0, false},
		{"after a silence the run starts at its first failed probe", func(tr *Tracker) {
			for _, l := range []string{"a", "b"} {
				feed(tr, t0, l, 0, msec(10000), step, true)
				feed(tr, t0, l, msec(23700), msec(25700), step, false)
			}
		}, msec(25700), true, msec(23700), msec(10000), false},
		{"a silence inside a down run restarts it", func(tr *Tracker) {
			for _, l := range []string{"a", "b"} {
				feed(tr, t0, l, 0, msec(1000), step, true)
				feed(tr, t0, l, msec(1200), msec(2000), step, false)
				feed(tr, t0, l, msec(3500), msec(5000), step, false) // 1.5 s gap
			}
		}, msec(5000), false, 0, 0, false},
		{"the restarted run decides once it lasts the window", func(tr *Tracker) {
			for _, l := range []string{"a", "b"} {
				feed(tr, t0, l, 0, msec(1000), step, true)
				feed(tr, t0, l, msec(1200), msec(2000), step, false)
				feed(tr, t0, l, msec(3500), msec(5500), step, false)
			}
		}, msec(5500), true, msec(3500), msec(1000), false},
		{"a blip shorter than the window never decides", func(tr *Tracker) {
			for _, l := range []string{"a", "b", "c"} {
				feed(tr, t0, l, 0, msec(1000), step, true)
				feed(tr, t0, l, msec(1200), msec(2800), step, false) // 1.6 s down of a 2 s window
				feed(tr, t0, l, msec(3000), msec(6000), step, true)
			}
		}, msec(6000), false, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker(rules.Fresh)
			tt.feed(tr)
			v := tr.Verdict("p", t0.Add(tt.at), rules)
			if v.Down != tt.down {
				t.Fatalf("Down = %v, want %v (%+v)", v.Down, tt.down, v)
			}
			if v.Down && (!v.DownSince.Equal(t0.Add(tt.since)) || !v.LastAnswer.Equal(t0.Add(tt.lastAnswer))) {
				t.Errorf("DownSince, LastAnswer = +%v, +%v; want +%v, +%v", v.DownSince.Sub(t0), v.LastAnswer.Sub(t0), tt.since, tt.lastAnswer)
			}
			if got := len(v.UpAt) >= v.Quorum; got != tt.upAtQuorum {
				t.Errorf("a quorum reaches it = %v, want %v (%+v)", got, tt.upAtQuorum, v)
			}
		})
	}
}

// TestProbeInFlightKeepsTheRun: a report that leaves a node out (its probe
// still runs) changes nothing about it.
func TestProbeInFlightKeepsTheRun(t *testing.T) {
	rules := Rules{Window: 2 * time.Second, Fresh: time.Second}
	t0 := time.Unix(1000, 0)
	tr := NewTracker(rules.Fresh)
	for _, l := range []string{"a", "b"} {
		feed(tr, t0, l, 0, msec(1000), msec(200), true)
		for at := msec(1200); at <= msec(3600); at += msec(200) {
			r := report(l, false, false)
			if at%msec(600) != 0 {
				r.Nodes = nil // the slow probe is still out
			}
			tr.Record(r, t0.Add(at))
		}
	}
	if v := tr.Verdict("p", t0.Add(msec(3600)), rules); !v.Down || !v.DownSince.Equal(t0.Add(msec(1200))) {
		t.Fatalf("verdict %+v: want down since +1.2s", v)
	}
}

// TestRunSpansTheProbes: a run spans the requests its failed probes sent
// unanswered; the observer tells when, relative to its report.
func TestRunSpansTheProbes(t *testing.T) {
	rules := Rules{Window: 2 * time.Second, Fresh: time.Second}
	t0 := time.Unix(1000, 0)
	tr := NewTracker(rules.Fresh)
	fail := func(at time.Duration, askedAgo, endedAgo int64) {
		for _, l := range []string{"a", "b"} {
			tr.Record(Report{Location: l, Observer: l, Nodes: []NodeObservation{{NodeID: "p", StartedAgoMS: askedAgo, EndedAgoMS: endedAgo}}}, t0.Add(at))
		}
	}
	fail(msec(500), 500, 400)  // asked at +0, gave up at +0.1 s
	fail(msec(1000), 500, 400) // +0.5
	fail(msec(1500), 500, 400) // +1.0
	fail(msec(2400), 500, 400) // +1.9: not the window yet
	if v := tr.Verdict("p", t0.Add(msec(2400)), rules); v.Down {
		t.Fatalf("verdict %+v: 1.9 s of evidence, want not down", v)
	}
	fail(msec(2600), 800, 700) // an older probe (+1.8), reported late, proves nothing more
	if v := tr.Verdict("p", t0.Add(msec(2600)), rules); v.Down {
		t.Fatalf("verdict %+v: want not down", v)
	}
	fail(msec(2900), 900, 800) // +2.0: the window
	if v := tr.Verdict("p", t0.Add(msec(2900)), rules); !v.Down || !v.DownSince.Equal(t0) {
		t.Fatalf("verdict %+v: want down since +0", v)
	}
}

func TestDecision(t *testing.T) {
	rules := Rules{Fresh: time.Second, MinQuorum: 2}
	t0 := time.Unix(1000, 0)
	tr := NewTracker(rules.Fresh)
	if w := tr.Decision(t0, rules).Warning(); !strings.Contains(w, "no observer location has reported") {
		t.Errorf("no locations: warning %q", w)
	}
	for _, l := range []string{"a", "b", "c"} {
		tr.Record(report(l, true, false), t0)
	}
	if d := tr.Decision(t0, rules); !d.CanDecide() || d.Warning() != "" {
		t.Errorf("3 fresh locations: %+v, %q", d, d.Warning())
	}
	tr.Record(report("a", true, false), t0.Add(1500*time.Millisecond))
	d := tr.Decision(t0.Add(1500*time.Millisecond), rules)
	if want := "HA cannot decide: 1 of 3 locations voting (2 needed)"; d.CanDecide() || d.Warning() != want {
		t.Errorf("1 fresh location: warning %q, want %q", d.Warning(), want)
	}
	ls := tr.Locations(t0.Add(1500*time.Millisecond), rules)
	if !ls[0].Voting || ls[1].Voting || ls[1].AgeMS != 1500 {
		t.Errorf("locations %+v: want a voting, b stale for 1500 ms", ls)
	}
}

func TestRetainDropsRemovedNodes(t *testing.T) {
	tr := NewTracker(0)
	now := time.Unix(1000, 0)
	tr.Record(Report{Location: "a", Observer: "a", Nodes: []NodeObservation{{NodeID: "gone"}, {NodeID: "kept"}}}, now)
	tr.Retain(func(id string) bool { return id == "kept" })
	if ls := tr.Locations(now, Rules{}); len(ls[0].Down) != 1 || ls[0].Down[0] != "kept" {
		t.Errorf("down list %v, want only the kept node", ls[0].Down)
	}
}

// TestProbesFromASilenceProveNothing: results a location probed while it
// could not report, delivered with its first report after the silence, start
// no run before that report.
func TestProbesFromASilenceProveNothing(t *testing.T) {
	rules := Rules{Window: 2 * time.Second, Fresh: time.Second}
	t0 := time.Unix(1000, 0)
	tr := NewTracker(rules.Fresh)
	for _, l := range []string{"a", "b"} {
		feed(tr, t0, l, 0, msec(1000), msec(200), true)
		// Back after 4 s of silence with a probe that asked 2.5 s ago.
		tr.Record(Report{Location: l, Observer: l, Nodes: []NodeObservation{{NodeID: "p", StartedAgoMS: 2500}}}, t0.Add(msec(5000)))
	}
	if v := tr.Verdict("p", t0.Add(msec(5000)), rules); v.Down || !v.DownSince.IsZero() {
		t.Fatalf("verdict %+v: want no run before the report that ended the silence", v)
	}
	for _, l := range []string{"a", "b"} {
		feed(tr, t0, l, msec(5200), msec(7000), msec(200), false)
	}
	if v := tr.Verdict("p", t0.Add(msec(7000)), rules); !v.Down || !v.DownSince.Equal(t0.Add(msec(5000))) {
		t.Fatalf("verdict %+v: want down since the first report after the silence (+5 s)", v)
	}
}

// TestOutOfOrderReports: reports of one location that reached two brokers
// are folded in the store's order, which may put an older report after a
// newer one (by the receiving brokers' clocks). An older report never
// moves the location's last report back, never restarts a down run and
// never turns a node seen down since back up; an older failed probe may
// start the run earlier, since the node did not answer it either.
func TestOutOfOrderReports(t *testing.T) {
	rules := Rules{Window: 2 * time.Second, Fresh: time.Second}
	t0 := time.Unix(1000, 0)
	const step = 200 * time.Millisecond
	tests := []struct {
		name  string
		feed  func(tr *Tracker)
		at    time.Duration
		down  bool
		since time.Duration // DownSince when down
	}{
		{"an older answer folded late keeps the run", func(tr *Tracker) {
			for _, l := range []string{"a", "b"} {
				feed(tr, t0, l, 0, msec(1000), step, true)
				feed(tr, t0, l, msec(1400), msec(3400), step, false)
				tr.Record(report(l, true, false), t0.Add(msec(1200))) // received before the run, folded after
			}
		}, msec(3400), true, msec(1400)},
		{"an older failure folded late starts the run where it failed", func(tr *Tracker) {
			for _, l := range []string{"a", "b"} {
				feed(tr, t0, l, 0, msec(1000), step, true)
				feed(tr, t0, l, msec(1400), msec(3200), step, false)
				tr.Record(report(l, false, false), t0.Add(msec(1200)))
			}
		}, msec(3200), true, msec(1200)},
		{"an older failure folded late after an answer changes nothing", func(tr *Tracker) {
			for _, l := range []string{"a", "b"} {
				feed(tr, t0, l, 0, msec(3000), step, true)
				tr.Record(report(l, false, false), t0.Add(msec(900)))
			}
		}, msec(3000), false, 0},
		{"an older failure folded late before the answer after it changes nothing", func(tr *Tracker) {
			for _, l := range []string{"a", "b"} {
				feed(tr, t0, l, 0, msec(600), step, false)
				feed(tr, t0, l, msec(1000), msec(1000), step, true)
				feed(tr, t0, l, msec(1200), msec(3000), step, false)
				tr.Record(report(l, false, false), t0.Add(msec(800))) // before the answer at +1 s
			}
		}, msec(3000), false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker(rules.Fresh)
			tt.feed(tr)
			v := tr.Verdict("p", t0.Add(tt.at), rules)
			if v.Down != tt.down {
				t.Fatalf("Down = %v, want %v (%+v)", v.Down, tt.down, v)
			}
			if v.Down && !v.DownSince.Equal(t0.Add(tt.since)) {
				t.Errorf("DownSince = +%v, want +%v", v.DownSince.Sub(t0), tt.since)
			}
		})
	}
	t.Run("the last report never moves back", func(t *testing.T) {
		tr := NewTracker(rules.Fresh)
		tr.Record(report("a", true, false), t0.Add(msec(2000)))
		tr.Record(report("a", true, true), t0.Add(msec(1000))) // older, and stalled
		ls := tr.Locations(t0.Add(msec(2500)), rules)
		if len(ls) != 1 || !ls[0].LastReport.Equal(t0.Add(msec(2000))) || ls[0].Stalled || !ls[0].Voting {
			t.Fatalf("locations %+v: want the last report at +2 s, not stalled, voting", ls)
		}
	})
	t.Run("an older failure and answer folded after the run began", func(t *testing.T) {
		tr := NewTracker(rules.Fresh)
		for _, l := range []string{"a", "b"} {
			feed(tr, t0, l, 0, msec(1000), step, true)
			feed(tr, t0, l, msec(1200), msec(3200), step, false)
			tr.Record(report(l, false, false), t0.Add(msec(1100)))
			tr.Record(report(l, true, false), t0.Add(msec(1000)))
		}
		if v := tr.Verdict("p", t0.Add(msec(3200)), rules); !v.Down || !v.DownSince.Equal(t0.Add(msec(1100))) {
			t.Fatalf("verdict %+v: want down since +1.1 s", v)
		}
	})
}
