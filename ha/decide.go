// Package ha decides when a primary is lost. Observers in several network
// locations probe every node and report what they see; the broker keeps their
// reports in a Tracker and asks it for a Verdict. A primary is down only when
// a quorum of distinct locations has seen it unreachable for the whole
// confirmation window: one partitioned observer, or a short blip, never causes
// a failover. Observers whose own loop stalled withhold their votes.
//
// This package never changes roles; the broker fences and promotes.
package ha

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"larder/api"
)

// NodeObservation is what one observer saw of one node in one probe round.
type NodeObservation = api.NodeObservation

// Report is one probe round of one observer.
type Report = api.MonitorReport

type nodeView struct {
	up        bool
	lastUp    time.Time // when this location last saw it answer
	firstFail time.Time // when the first failed probe of the current run of "down" asked
	lastFail  time.Time // when the latest failed probe of the run asked
	err       string
	agentUp   *bool // the node's host agent, as last seen from here
	role      string
	seen      time.Time // the newest report that had it (agentUp and role are that report's)
}

type location struct {
	lastReport time.Time
	since      time.Time // its first report after its last silence, if any
	stalled    bool
	observers  map[string]time.Time
	nodes      map[string]*nodeView
}

// DefaultMaxGap is the longest silence between two reports of a location
// that still leaves its down runs whole.
const DefaultMaxGap = 3 * time.Second

// Tracker holds the latest view of every location. It is safe for
// concurrent use.
type Tracker struct {
	mu     sync.Mutex
	maxGap time.Duration
	locs   map[string]*location
}

// NewTracker returns an empty tracker. A location silent for longer than
// maxGap (default DefaultMaxGap) proved nothing meanwhile: its down runs
// start again with its next failed probe.
func NewTracker(maxGap time.Duration) *Tracker {
	if maxGap <= 0 {
		maxGap = DefaultMaxGap
	}
	return &Tracker{maxGap: maxGap, locs: map[string]*location{}}
}

// Record folds a report received at now into the location's view. Several
// observers may share a location: a node counts as down there only while
// none of them sees it up. A node a report leaves out (its probe still runs)
// keeps its state.
//
// A location's down run is made of its own consecutive failed probes, and
// spans from the request the first one sent without an answer to the one the
// latest sent (observers say when, relative to their report): the node did
// not answer all that time, so a run lasts the window only when the node was
// unreachable for the window (to a round trip): an outage shorter than the
// window never makes a run long enough. A silence of
// the location longer than maxGap (the observer stalled, or could not reach
// the broker) is not evidence of anything: its runs start again with its
// next failed probe.
func (t *Tracker) Record(r Report, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := t.locs[r.Location]
	if !ok {
		l = &location{observers: map[string]time.Time{}, nodes: map[string]*nodeView{}}
		t.locs[r.Location] = l
	}
	if !l.lastReport.IsZero() && now.Sub(l.lastReport) > t.maxGap {
		l.since = now
		for _, v := range l.nodes {
			if !v.up {
				v.firstFail, v.lastFail = time.Time{}, time.Time{}
			}
		}
	}
	// Reports of one location that reached different brokers are folded
	// in the store's order, which may put an older one (by its receiving
	// broker's clock) after a newer one: the older one never moves what
	// the newer one said back.
	newest := !now.Before(l.lastReport)
	if newest {
		l.lastReport, l.stalled = now, r.Stalled
	}
	l.observers[r.Observer] = later(l.observers[r.Observer], now)
	for _, o := range r.Nodes {
		v, ok := l.nodes[o.NodeID]
		if !ok {
			v = &nodeView{up: true}
			l.nodes[o.NodeID] = v
		}
		if !now.Before(v.seen) {
			v.seen, v.agentUp, v.role = now, o.AgentUp, o.Role
		}
		// Probes that ran while the location was silent prove nothing.
		start, end := later(now.Add(-ms(o.StartedAgoMS)), l.since), later(now.Add(-ms(o.EndedAgoMS)), l.since)
		v.fold(o, start, end)
	}
}

// fold adds one probe of the node to its view: an answer that ended at end,
// or a failed probe whose request went out at start. Probes are ordered by
// those times, not by when their reports came: an answer older than the
// run's latest failed probe cannot end the run (the node went down after
// it), and a failed probe older than the latest answer cannot start one.
func (v *nodeView) fold(o NodeObservation, start, end time.Time) {
	switch {
	case o.Up && (v.up || v.firstFail.IsZero() || !end.Before(v.lastFail)):
		v.up, v.lastUp, v.firstFail, v.lastFail, v.err = true, later(v.lastUp, end), time.Time{}, time.Time{}, ""
	case o.Up:
		// An answer from inside the run: the node was reached after the
		// run's first failed probe, so the run starts again at its latest.
		if end.After(v.firstFail) {
			v.firstFail = v.lastFail
		}
		v.lastUp = later(v.lastUp, end)
	case !start.After(v.lastUp) && !v.lastUp.IsZero():
		// A failed probe sent before the latest answer: stale.
	case v.up || v.firstFail.IsZero():
		v.up, v.err = false, o.Error
		v.firstFail, v.lastFail = start, start
	default:
		v.err = o.Error
		if start.After(v.lastFail) {
			v.lastFail = start
		}
		if start.Before(v.firstFail) {
			v.firstFail = start
		}
	}
}

// scheduleSlack forgives a run this much of the window: probes ask on an
// observer's ticks, a few ms late or early as goroutines are scheduled, and a
// run of whole rounds must not miss the window by that and wait one more.
const scheduleSlack = 10 * time.Millisecond

func ms(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Rules are the decision's parameters.
type Rules struct {
	Window    time.Duration // a node must be seen down for this long
	Fresh     time.Duration // a location whose last report is older does not vote
	MinQuorum int           // at least this many locations (default 2)
}

// Verdict is the tracker's view of one node.
type Verdict struct {
	Down       bool      // a quorum of locations has seen it down for the window
	Voting     []string  // locations whose reports count (fresh, not stalled)
	DownAt     []string  // voting locations that have seen it down for the window
	UpAt       []string  // voting locations whose last probe of it got an answer
	Quorum     int       // how many are needed
	DownSince  time.Time // when the earliest first failed probe of the quorum's runs started
	LastAnswer time.Time // the latest answer any of those locations had before its run
	AgentUpAt  []string  // voting locations whose last probe reached the node's host agent
}

// quorum is a majority of the voting locations, and never fewer than min.
func quorum(voting, min int) int {
	if min < 1 {
		min = 2
	}
	return max(min, voting/2+1)
}

// votes reports whether location l's vote counts at now.
func (l *location) votes(now time.Time, r Rules) bool {
	return !l.stalled && now.Sub(l.lastReport) <= r.Fresh
}

// Verdict decides whether node is down at now. The quorum is a majority of
// the voting locations, and never fewer than MinQuorum: with fewer voting
// locations than that, nothing is ever declared down.
func (t *Tracker) Verdict(node string, now time.Time, r Rules) Verdict {
	t.mu.Lock()
	defer t.mu.Unlock()
	var v Verdict
	var since []time.Time
	for name, l := range t.locs {
		if !l.votes(now, r) {
			continue
		}
		v.Voting = append(v.Voting, name)
		nv, ok := l.nodes[node]
		if ok && nv.agentUp != nil && *nv.agentUp {
			v.AgentUpAt = append(v.AgentUpAt, name)
		}
		if ok && nv.up {
			v.UpAt = append(v.UpAt, name)
		}
		if !ok || nv.up || nv.firstFail.IsZero() || nv.lastFail.Sub(nv.firstFail) < r.Window-scheduleSlack {
			continue
		}
		v.DownAt = append(v.DownAt, name)
		since = append(since, nv.firstFail)
		if nv.lastUp.After(v.LastAnswer) {
			v.LastAnswer = nv.lastUp
		}
	}
	sort.Strings(v.Voting)
	sort.Strings(v.DownAt)
	sort.Strings(v.UpAt)
	sort.Strings(v.AgentUpAt)
	v.Quorum = quorum(len(v.Voting), r.MinQuorum)
	v.Down = len(v.DownAt) >= v.Quorum
	v.DownSince = earliest(since)
	return v
}

func earliest(ts []time.Time) time.Time {
	var e time.Time
	for _, s := range ts {
		if e.IsZero() || s.Before(e) {
			e = s
		}
	}
	return e
}

// Decision is whether the locations can decide at all.
type Decision struct {
	Voting []string // locations whose reports count
	Known  int      // locations that ever reported
	Quorum int      // voting locations a decision needs
}

// CanDecide reports whether enough locations vote for a quorum to exist.
func (d Decision) CanDecide() bool { return len(d.Voting) >= d.Quorum }

// Warning says why no failover can be decided, or "" when one can.
func (d Decision) Warning() string {
	if d.CanDecide() {
		return ""
	}
	if d.Known == 0 {
		return fmt.Sprintf("HA cannot decide: no observer location has reported (%d needed); run `larder monitor` in each location", d.Quorum)
	}
	return fmt.Sprintf("HA cannot decide: %d of %d locations voting (%d needed)", len(d.Voting), d.Known, d.Quorum)
}

// Decision tells whether a failover could be decided at now.
func (t *Tracker) Decision(now time.Time, r Rules) Decision {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := Decision{Voting: []string{}, Known: len(t.locs)}
	for name, l := range t.locs {
		if l.votes(now, r) {
			d.Voting = append(d.Voting, name)
		}
	}
	sort.Strings(d.Voting)
	d.Quorum = quorum(len(d.Voting), r.MinQuorum)
	return d
}

// LocationStatus is what `larder monitors` shows of one location.
type LocationStatus = api.MonitorLocation

// Locations summarises every location, by name, as the rules see it at now.
func (t *Tracker) Locations(now time.Time, r Rules) []LocationStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	voting := 0
	for _, l := range t.locs {
		if l.votes(now, r) {
			voting++
		}
	}
	out := []LocationStatus{}
	for name, l := range t.locs {
		s := LocationStatus{Quorum: quorum(voting, r.MinQuorum), Location: name, LastReport: l.lastReport, Stalled: l.stalled, Observers: []string{}, Down: []string{},
			Roles: map[string]string{}, AgentsDown: []string{}, Voting: l.votes(now, r), AgeMS: now.Sub(l.lastReport).Milliseconds()}
		for o := range l.observers {
			s.Observers = append(s.Observers, o)
		}
		sort.Strings(s.Observers)
		for id, n := range l.nodes {
			if n.role != "" {
				s.Roles[id] = n.role
			}
			if n.agentUp != nil && !*n.agentUp {
				s.AgentsDown = append(s.AgentsDown, id)
			}
			if n.up {
				s.Up++
			} else {
				s.Down = append(s.Down, id)
			}
		}
		sort.Strings(s.Down)
		sort.Strings(s.AgentsDown)
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Location < out[j].Location })
	return out
}

// Forget drops a node from every location (it was removed).
func (t *Tracker) Forget(node string) {
	t.Retain(func(id string) bool { return id != node })
}

// Retain keeps, in every location, only the nodes keep accepts: the others
// were removed, and must not linger in any location's down list.
func (t *Tracker) Retain(keep func(node string) bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range t.locs {
		for id := range l.nodes {
			if !keep(id) {
				delete(l.nodes, id)
			}
		}
	}
}
