package metrics

import (
	"sort"
	"sync"
)

// Counters count what the broker and its HA pairs did since it started:
// operations by kind and result (broker/jobs), failovers and switchovers
// (broker/pairs), and the observers' votes (broker/pairs, on each report).
// A nil *Counters counts nothing, so a service built without one works.
type Counters struct {
	mu          sync.Mutex
	failovers   uint64
	switchovers uint64
	ops         map[[2]string]uint64 // kind, result
	votes       map[[2]string]uint64 // location, up|down
}

// NewCounters returns zeroed counters.
func NewCounters() *Counters {
	return &Counters{ops: map[[2]string]uint64{}, votes: map[[2]string]uint64{}}
}

// Operation counts an operation of kind that ended with result (succeeded,
// failed).
func (c *Counters) Operation(kind, result string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.ops[[2]string{kind, result}]++
	c.mu.Unlock()
}

// Failover counts a failover whose promotion was recorded.
func (c *Counters) Failover() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.failovers++
	c.mu.Unlock()
}

// Switchover counts a planned switchover that handed the primary role over.
func (c *Counters) Switchover() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.switchovers++
	c.mu.Unlock()
}

// Vote counts one observer's verdict on one node: up or down.
func (c *Counters) Vote(location string, up bool) {
	if c == nil {
		return
	}
	v := "down"
	if up {
		v = "up"
	}
	c.mu.Lock()
	c.votes[[2]string{location, v}]++
	c.mu.Unlock()
}

// Count is one labelled counter's value.
type Count struct {
	Labels [2]string
	Value  uint64
}

// Snapshot is the counters at one moment, each list sorted by labels.
type Snapshot struct {
	Failovers, Switchovers uint64
	Operations             []Count // Labels: kind, result
	Votes                  []Count // Labels: location, vote
}

// Snapshot returns the counters now.
func (c *Counters) Snapshot() Snapshot {
	if c == nil {
		return Snapshot{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return Snapshot{Failovers: c.failovers, Switchovers: c.switchovers, Operations: sorted(c.ops), Votes: sorted(c.votes)}
}

func sorted(m map[[2]string]uint64) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Labels, out[j].Labels
		return a[0] < b[0] || a[0] == b[0] && a[1] < b[1]
	})
	return out
}
