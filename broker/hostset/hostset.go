// Package hostset is the broker's view of the hosts it places nodes on: its
// own in-process host and the agents that registered, whether each answers
// (and since when it does not), which are still having their nodes adopted,
// and the write pauses they last reported.
package hostset

import (
	"context"
	"sort"
	"sync"
	"time"

	"larder/engine"
	"larder/fault"
	"larder/provisioner"
	"larder/store"
)

// LiveTimeout bounds how long the broker waits for a node's figures.
const LiveTimeout = 2 * time.Second

// Set is the hosts the broker places nodes on: its own in-process host
// and the agents that registered, with what the broker last saw of each.
type Set struct {
	mu      sync.RWMutex
	hosts   map[string]provisioner.Host
	reach   map[string]reach
	pending map[string]bool                         // hosts whose nodes the starting broker is still adopting
	pauses  map[string]map[string]provisioner.Pause // host → node id → the write pause it last reported
}

// reach is a host's reachability as the broker's status calls see it.
type reach struct {
	up        bool
	contact   time.Time // last answer
	downSince time.Time // first failed call of the current outage; zero while up
}

// New returns a set holding local, the broker's own host (nil: none).
func New(local provisioner.Host) *Set {
	s := &Set{hosts: map[string]provisioner.Host{}, reach: map[string]reach{}, pending: map[string]bool{}}
	if local != nil {
		s.hosts[local.Name()] = local
		s.Observe(local.Name(), true, time.Now())
	}
	return s
}

// Get returns the host called name.
func (s *Set) Get(name string) (provisioner.Host, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	h, ok := s.hosts[name]
	return h, ok
}

// Put adds or replaces a host and returns the one it replaced.
func (s *Set) Put(h provisioner.Host) provisioner.Host {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.hosts[h.Name()]
	s.hosts[h.Name()] = h
	return old
}

// All lists the hosts by name.
func (s *Set) All() []provisioner.Host {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]provisioner.Host, 0, len(s.hosts))
	for _, h := range s.hosts {
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// Observe records whether host answered at now, and reports whether its
// reachability changed.
func (s *Set) Observe(name string, ok bool, now time.Time) (changed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, known := s.reach[name]
	changed = !known || r.up != ok
	switch {
	case ok:
		r = reach{up: true, contact: now}
	case r.up || r.downSince.IsZero():
		r.up, r.downSince = false, now
	}
	s.reach[name] = r
	return changed
}

// SetPending marks whether the nodes of host are still being adopted.
func (s *Set) SetPending(name string, pending bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pending {
		s.pending[name] = true
	} else {
		delete(s.pending, name)
	}
}

// PendingNotConnected lists the pending hosts not in the set yet, by name.
func (s *Set) PendingNotConnected() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for name := range s.pending {
		if _, ok := s.hosts[name]; !ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// IsPending reports whether the nodes of host name are still being adopted.
func (s *Set) IsPending(name string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.pending[name]
}

// IsUp reports whether host name answered the last status call.
func (s *Set) IsUp(name string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.reach[name].up
}

// Answers reports whether host is up and its client has not failed a call
// since: right after a broker start, before the first status round, a
// registered agent counts as up although its client could not reach it.
func (s *Set) Answers(name string) bool {
	h, ok := s.Get(name)
	if !ok || !s.IsUp(name) {
		return false
	}
	r, ok := h.(interface{ Reachable() error })
	return !ok || r.Reachable() == nil
}

// DownFor is how long host has been unreachable (0 while it answers).
func (s *Set) DownFor(name string, now time.Time) time.Duration {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.reach[name]
	if r.up || r.downSince.IsZero() {
		return 0
	}
	return now.Sub(r.downSince)
}

// LastContact is when host last answered; ok is false if it never has.
func (s *Set) LastContact(name string) (t time.Time, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.reach[name]
	return r.contact, !r.contact.IsZero()
}

// NoteStatus keeps what a host last reported about its nodes' pauses.
func (s *Set) NoteStatus(st provisioner.HostStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pauses == nil {
		s.pauses = map[string]map[string]provisioner.Pause{}
	}
	m := map[string]provisioner.Pause{}
	for _, ns := range st.Nodes {
		if ns.Pause != nil && ns.ID != "" {
			m[ns.ID] = *ns.Pause
		}
	}
	s.pauses[st.Name] = m
}

// PausedNodes lists the nodes hosts last reported a write pause on.
func (s *Set) PausedNodes() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var ids []string
	for _, m := range s.pauses {
		for id := range m {
			ids = append(ids, id)
		}
	}
	return ids
}

// PauseOf is the write pause last reported on node id; nil if none.
func (s *Set) PauseOf(id string) *provisioner.Pause {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, m := range s.pauses {
		if p, ok := m[id]; ok {
			return &p
		}
	}
	return nil
}

// Of returns the host node n lives on. A host the broker does not know
// (an agent that has not registered since the broker started) is stood in for
// by one that answers Unavailable, so callers need no special case.
func (s *Set) Of(n store.Node) provisioner.Host {
	if h, ok := s.Get(n.Host); ok {
		return h
	}
	return unknownHost(n.Host)
}

// Unknown is a stand-in for host name, which the broker cannot reach: every
// call is Unavailable.
func Unknown(name string) provisioner.Host { return unknownHost(name) }

// NotConnected is the error of a call to host name, which the broker cannot
// reach.
func NotConnected(name string) error { return unknownHost(name).err() }

type unknownHost string

var _ provisioner.Host = unknownHost("")

func (u unknownHost) err() error {
	return fault.E(fault.Unavailable, "host %s is not connected to this broker", string(u))
}
func (u unknownHost) Name() string          { return string(u) }
func (u unknownHost) Addr() string          { return "" }
func (u unknownHost) Engine() engine.Engine { return engine.Engine{} }
func (u unknownHost) PortFree(context.Context, int) (bool, error) {
	return false, u.err()
}
func (u unknownHost) Close(context.Context) error        { return nil }
func (u unknownHost) Stop(context.Context, string) error { return u.err() }
func (u unknownHost) Start(context.Context, provisioner.NodeSpec) (provisioner.Node, error) {
	return provisioner.Node{}, u.err()
}
func (u unknownHost) Adopt(context.Context, provisioner.NodeSpec) (provisioner.Node, error) {
	return provisioner.Node{}, u.err()
}
func (u unknownHost) Remove(context.Context, provisioner.NodeSpec) error     { return u.err() }
func (u unknownHost) Quarantine(context.Context, provisioner.NodeSpec) error { return u.err() }
func (u unknownHost) Info(context.Context, provisioner.NodeSpec) (provisioner.NodeInfo, error) {
	return provisioner.NodeInfo{}, u.err()
}
func (u unknownHost) Reconfigure(context.Context, provisioner.NodeSpec) error { return u.err() }
func (u unknownHost) SetRole(context.Context, provisioner.NodeSpec) error     { return u.err() }
func (u unknownHost) DisconnectUser(context.Context, provisioner.NodeSpec, string) error {
	return u.err()
}
func (u unknownHost) Logs(context.Context, provisioner.NodeSpec, provisioner.LogRequest) (provisioner.LogChunk, error) {
	return provisioner.LogChunk{}, u.err()
}
func (u unknownHost) Status(context.Context) (provisioner.HostStatus, error) {
	return provisioner.HostStatus{}, u.err()
}
