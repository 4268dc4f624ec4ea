package agent

import (
	"crypto/rand"
	"encoding/hex"
	"sync"

	"larder/provisioner"
)

// DefaultEventRingSize is how many events an agent keeps for a broker that is
// away: enough for minutes of crash loops on a busy host.
const DefaultEventRingSize = 1000

// EventRing keeps the last events a local.Host reported, numbered from 1 in
// the order they happened, so that an agent goes on supervising and recording
// while its broker is away and the broker catches up when it comes back.
//
// A local.Host's OnEvent is fixed when it is made, so the ring comes first:
//
//	ring := NewEventRing(DefaultEventRingSize)
//	h, err := local.New(local.Options{…, OnEvent: ring.Add})
//	handler := NewHandler(h, ring, token, log)
type EventRing struct {
	boot string // a fresh id per ring: sequence numbers mean nothing across agent restarts

	mu    sync.Mutex
	buf   []seqEvent // circular; len(buf) == size once full
	start int        // index of the oldest event in buf
	last  uint64     // sequence number of the newest event; 0 when none yet
}

// seqEvent is an event with its place in the ring's sequence.
type seqEvent struct {
	Seq   uint64            `json:"seq"`
	Event provisioner.Event `json:"event"`
}

// NewEventRing keeps the last size events (DefaultEventRingSize if size ≤ 0).
func NewEventRing(size int) *EventRing {
	if size <= 0 {
		size = DefaultEventRingSize
	}
	b := make([]byte, 8)
	rand.Read(b) // never fails (crypto/rand panics instead)
	return &EventRing{boot: hex.EncodeToString(b), buf: make([]seqEvent, 0, size)}
}

// Add records ev, dropping the oldest event when the ring is full. It fits
// local.Options.OnEvent.
func (r *EventRing) Add(ev provisioner.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last++
	se := seqEvent{Seq: r.last, Event: ev}
	if len(r.buf) < cap(r.buf) {
		r.buf = append(r.buf, se)
		return
	}
	r.buf[r.start] = se
	r.start = (r.start + 1) % len(r.buf)
}

// since returns the events numbered after `after`, oldest first, the newest
// sequence number, and how many events after `after` the ring no longer holds.
func (r *EventRing) since(after uint64) (evs []seqEvent, last, dropped uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	evs = []seqEvent{}
	for i := range r.buf {
		se := r.buf[(r.start+i)%len(r.buf)]
		if se.Seq > after {
			evs = append(evs, se)
		}
	}
	if len(r.buf) > 0 {
		if oldest := r.buf[r.start].Seq; oldest > after+1 {
			dropped = oldest - after - 1
		}
	}
	return evs, r.last, dropped
}
