package broker

import (
	"context"
	"sync"

	"larder/broker/lead"
	"larder/provisioner"
	"larder/provisioner/agent"
	"larder/store"
)

// Every broker sharing the store watches every agent, but an agent's events
// (a node crashed, was restarted, rejoined as a standby) are recorded once,
// by the coordinator, under its lease: a broker that does not coordinate
// leaves them unread, and one that begins coordinating carries on from the
// cursor its predecessor recorded in the store, so an event is neither
// recorded twice nor skipped at a take-over.

// hostEvents is the brokers' agent.EventReader.
type hostEvents struct {
	b    *Hosts
	gate lead.Gate

	mu  sync.Mutex
	cur map[string]tenureCursor // by host
}

// tenureCursor is how far a host's events were read in one tenure of the
// coordinator lease (token 0: unfenced, a broker alone).
type tenureCursor struct {
	token int64
	at    agent.EventCursor
}

var _ agent.EventReader = (*hostEvents)(nil)

func newHostEvents(b *Hosts, gate lead.Gate) *hostEvents {
	return &hostEvents{b: b, gate: gate, cur: map[string]tenureCursor{}}
}

// BeginRead lets the coordinator read, from the cursor the store holds when
// its tenure is new and from its own since.
func (h *hostEvents) BeginRead(parent context.Context, host string) (context.Context, agent.EventCursor, func(), bool) {
	ctx, done, ok := lead.Or(h.gate).During(parent)
	if !ok {
		return nil, agent.EventCursor{}, nil, false
	}
	token, _ := store.LeaseOf(ctx)
	h.mu.Lock()
	c, known := h.cur[host]
	h.mu.Unlock()
	if known && c.token == token {
		return ctx, c.at, done, true
	}
	rec, err := h.b.store.HostByName(ctx, host)
	if err != nil {
		if ctx.Err() == nil {
			h.b.log.WithError(err).WithField("host", host).Warn("read where the host's events were left")
		}
		done()
		return nil, agent.EventCursor{}, nil, false
	}
	c = tenureCursor{token, agent.EventCursor{Boot: rec.EventBoot, Seq: uint64(rec.EventSeq)}}
	h.mu.Lock()
	h.cur[host] = c
	h.mu.Unlock()
	return ctx, c.at, done, true
}

func (h *hostEvents) Handle(ctx context.Context, e provisioner.Event) { h.b.OnNodeEvent(ctx, e) }

// Advance records the cursor in the store, fenced by the lease ctx carries.
func (h *hostEvents) Advance(ctx context.Context, host string, c agent.EventCursor) error {
	if err := h.b.store.SetHostCursor(ctx, host, c.Boot, int64(c.Seq)); err != nil {
		return err
	}
	token, _ := store.LeaseOf(ctx)
	h.mu.Lock()
	h.cur[host] = tenureCursor{token, c}
	h.mu.Unlock()
	return nil
}
