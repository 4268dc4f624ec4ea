package pairs

import (
	"context"
	"time"

	"larder/api"
	"larder/broker/attach"
	"larder/broker/hostset"
	"larder/engine"
	"larder/ha/coord"
	"larder/provisioner"
	"larder/store"
)

// The HA coordinator (package ha/coord) takes the failover, fencing and
// rebuild decisions; coordGlue gives it the broker's hosts and its steps on
// nodes.

// newCoordinator builds b's coordinator over the store, hosts and clock.
func newCoordinator(b *Pairs) *coord.Coordinator {
	g := coordGlue{b}
	return coord.New(coord.Config{Clock: b.cfg.Clock, Tracker: b.tracker, Rules: b.rules(), Lease: b.cfg.Lease,
		LocalHost: b.cfg.LocalHost, StatusTimeout: b.cfg.ReconcileInterval, ProbeTimeout: hostset.LiveTimeout,
		Interval: b.cfg.ReconcileInterval, StandbyGrace: b.cfg.StandbyGrace,
		Store: b.store, Hosts: g, Actions: g, Log: b.log})
}

// pair and primaryNode read an add-on's roles from its nodes.
var (
	pair        = coord.Pair
	primaryNode = coord.PrimaryNode
)

type coordGlue struct{ b *Pairs }

var (
	_ coord.Hosts   = coordGlue{}
	_ coord.Actions = coordGlue{}
)

func (g coordGlue) Up(host string) bool { return g.b.hosts.IsUp(host) }

func (g coordGlue) LastContact(host string) (time.Time, bool) { return g.b.hosts.LastContact(host) }

func (g coordGlue) Status(ctx context.Context, host string) (provisioner.HostStatus, error) {
	h, ok := g.b.hosts.Get(host)
	if !ok {
		return provisioner.HostStatus{}, hostset.NotConnected(host)
	}
	return h.Status(ctx)
}

func (g coordGlue) Stop(ctx context.Context, n store.Node) error {
	return g.b.hosts.Of(n).Stop(ctx, n.ID)
}

func (g coordGlue) Replication(ctx context.Context, a store.Addon, n store.Node) (engine.ReplInfo, error) {
	return engine.Replication(ctx, attach.Target(a, n))
}

func (g coordGlue) Lock(id string) func() { return g.b.jobs.Lock(id) }

func (g coordGlue) ApplyRoles(ctx context.Context, a store.Addon, ids ...string) error {
	return g.b.applyRoles(ctx, a, ids...)
}

func (g coordGlue) AfterFailover(ctx context.Context, a store.Addon, old store.Node, progress func(string)) error {
	g.b.count.Failover() // recorded and applied: the standby is primary
	return g.b.finishFailover(ctx, a, old, progress)
}

func (g coordGlue) StartFailover(ctx context.Context, a store.Addon, detect string, job func(ctx context.Context, progress func(string)) error) error {
	b := g.b
	op := store.Operation{AddonID: a.ID, AddonName: a.Name, Kind: opFailover, State: api.OpPending}
	b.jobs.Lease(&op)
	err := b.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateOperation(ctx, &op); err != nil {
			return err
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "failover.detect", detect)
	})
	if err != nil {
		return err
	}
	if token, ok := store.LeaseOf(ctx); ok {
		// The failover runs as an operation of its own, beyond the round
		// that decided it, still under the coordinator's lease: a
		// coordinator that lost it records no promotion.
		decided := job
		job = func(ctx context.Context, progress func(string)) error {
			return decided(store.WithLease(ctx, token), progress)
		}
	}
	b.jobs.Run(b.store, op, job)
	return nil
}

func (g coordGlue) CrashPoint(name string) { g.b.jobs.CrashPoint(name) }
