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
	downSince time.Time // start of the current unbroken run of "down": its last answer
	err       string
	agentUp   *bool // the node's host agent, as last seen from here
	role      string
}

type location struct {
	lastReport time.Time
	stalled    bool
	observers  map[string]time.Time
	nodes      map[string]*nodeView
}

// Tracker holds the latest view of every location. It is safe for
// concurrent use.
type Tracker struct {
	mu   sync.Mutex
	locs map[string]*location
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker { return &Tracker{locs: map[string]*location{}} }

// Record folds a report received at now into the location's view. Several
// observers may share a location: a node counts as down there only while
// none of them sees it up.
func (t *Tracker) Record(r Report, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := t.locs[r.Location]
	if !ok {
		l = &location{observers: map[string]time.Time{}, nodes: map[string]*nodeView{}}
		t.locs[r.Location] = l
	}
	l.lastReport, l.stalled = now, r.Stalled
	l.observers[r.Observer] = now
	for _, o := range r.Nodes {
		v, ok := l.nodes[o.NodeID]
		if !ok {
			v = &nodeView{up: true}
			l.nodes[o.NodeID] = v
		}
		v.agentUp, v.role = o.AgentUp, o.Role
		switch {
		case o.Up:
			v.up, v.lastUp, v.downSince, v.err = true, now, time.Time{}, ""
		case v.up || v.downSince.IsZero():
			// As Sentinel counts it: no answer for the whole window since the
			// last one (or since this location first saw the node, if never).
			v.up, v.err = false, o.Error
			v.downSince = now
			if !v.lastUp.IsZero() {
				v.downSince = v.lastUp
			}
		default:
			v.err = o.Error
		}
	}
}

// Rules are the decision's parameters.
type Rules struct {
	Window    time.Duration // a node must be seen down for this long
	Fresh     time.Duration // a location whose last report is older does not vote
	MinQuorum int           // at least this many locations (default 2)
}

// Verdict is the tracker's view of one node.
type Verdict struct {
	Down      bool      // a quorum of locations has seen it down for the window
	Voting    []string  // locations whose reports count (fresh, not stalled)
	DownAt    []string  // voting locations that have seen it down for the window
	Quorum    int       // how many are needed
	DownSince time.Time // when the quorum's down runs started (the earliest of them)
	AgentUpAt []string  // voting locations whose last probe reached the node's host agent
}

// Verdict decides whether node is down at now. The quorum is a majority of
// the voting locations, and never fewer than MinQuorum: with fewer voting
// locations than that, nothing is ever declared down.
func (t *Tracker) Verdict(node string, now time.Time, r Rules) Verdict {
	if r.MinQuorum < 1 {
		r.MinQuorum = 2
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var v Verdict
	var since []time.Time
	for name, l := range t.locs {
		if l.stalled || now.Sub(l.lastReport) > r.Fresh {
			continue
		}
		v.Voting = append(v.Voting, name)
		nv, ok := l.nodes[node]
		if ok && nv.agentUp != nil && *nv.agentUp {
			v.AgentUpAt = append(v.AgentUpAt, name)
		}
		if !ok || nv.up || now.Sub(nv.downSince) < r.Window {
			continue
		}
		v.DownAt = append(v.DownAt, name)
		since = append(since, nv.downSince)
	}
	sort.Strings(v.Voting)
	sort.Strings(v.DownAt)
	sort.Strings(v.AgentUpAt)
	v.Quorum = max(r.MinQuorum, len(v.Voting)/2+1)
	v.Down = len(v.DownAt) >= v.Quorum
	for _, s := range since {
		if v.DownSince.IsZero() || s.Before(v.DownSince) {
			v.DownSince = s
		}
	}
	return v
}

// LocationStatus is what `larder monitors` shows of one location.
type LocationStatus = api.MonitorLocation

// Locations summarises every location, by name.
func (t *Tracker) Locations() []LocationStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := []LocationStatus{}
	for name, l := range t.locs {
		s := LocationStatus{Location: name, LastReport: l.lastReport, Stalled: l.stalled, Observers: []string{}, Down: []string{},
			Roles: map[string]string{}, AgentsDown: []string{}}
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
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range t.locs {
		delete(l.nodes, node)
	}
}
