package broker

import (
	"context"
	"time"

	"larder/api"
)

// The coordinator lease (package broker/lead) picks, of the brokers sharing
// the store, the one that runs the coordinating loops; this file is how the
// broker follows it.

// onLead runs when this broker begins coordinating: the loops that waited
// for a round run one at once, so a take-over is as quick as the lease.
func (c *core) onLead() {
	c.pairs.Nudge()
	c.spares.Refill()
	if !c.started.Load() {
		return // Start resumes the operations after adopting the nodes
	}
	c.adopting.Add(1)
	go func() {
		defer c.adopting.Done()
		c.takeOver(c.adoptCtx)
	}()
}

// takeOver resumes the operations whose broker stopped renewing their
// lease: the coordinator's task, like the other loops'.
func (c *core) takeOver(ctx context.Context) {
	ctx, done, ok := c.lead.During(ctx)
	if !ok {
		return
	}
	defer done()
	if err := c.jobs.Resume(ctx, false); err != nil && ctx.Err() == nil {
		c.log.WithError(err).Warn("take over operations")
	}
}

// Brokers lists the brokers sharing the store: which one coordinates and
// since when, and which were not seen for three leases.
func (b *Broker) Brokers(ctx context.Context) ([]api.Broker, error) {
	rows, err := b.store.Brokers(ctx)
	if err != nil {
		return nil, err
	}
	l, err := b.store.CoordinatorLease(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]api.Broker, 0, len(rows))
	for _, r := range rows {
		v := api.Broker{ID: r.ID, URL: r.URL, Version: r.Version, StartedAt: r.StartedAt, LastSeen: r.LastSeen,
			Stale: now.Sub(r.LastSeen) > 3*b.cfg.CoordinatorLease, Self: r.ID == b.cfg.ID}
		if l.Holder == r.ID && l.Live(now) {
			since := l.AcquiredAt
			v.Coordinator, v.CoordinatingSince, v.Token = true, &since, l.Token
		}
		out = append(out, v)
	}
	return out, nil
}

// SetURL is where this broker's API answers, as `larder brokers` shows it;
// call it before Start (the listener is opened after New).
func (b *Broker) SetURL(url string) { b.lead.SetURL(url) }

// Coordinating reports whether this broker holds the coordinator lease.
func (b *Broker) Coordinating() bool {
	_, ok := b.lead.Lease()
	return ok
}
