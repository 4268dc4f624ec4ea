package broker

import (
	"context"
	"fmt"
	"slices"

	"larder/fault"
	"larder/store"
)

// ClaimStandby records a new standby for a on the best host other than the
// primary's and those in avoid (when there is one), in one short write with
// whatever the operation building it records to find it again (record may be
// nil). kind names the operation in its crash points.
func (b *Nodes) ClaimStandby(ctx context.Context, a store.Addon, kind string, record func(tx store.Tx, n store.Node) error, avoid ...string) (store.Node, error) {
	nodes, err := b.store.NodesOfAddon(ctx, a.ID)
	if err != nil {
		return store.Node{}, err
	}
	primary, ok := primaryNode(nodes)
	if !ok {
		return store.Node{}, fault.E(fault.Unavailable, "%s has no running primary", a.Name)
	}
	hosts, err := b.hostReg.placeHosts(ctx, b.store, 8)
	if err != nil {
		return store.Node{}, err
	}
	pick := hosts[0]
	for _, h := range hosts {
		if h != primary.Host && !slices.Contains(avoid, h) {
			pick = h
			break
		}
	}
	var nn store.Node
	err = b.store.InTx(ctx, func(tx store.Tx) error {
		if nn, err = b.claimNode(ctx, tx, a, store.RoleStandby, pick); err != nil {
			return err
		}
		if record != nil {
			return record(tx, nn)
		}
		return nil
	})
	if err != nil {
		return store.Node{}, err
	}
	b.jobs.CrashPoint(kind + ".standby_claimed")
	return nn, nil
}

// StartStandby starts standby nn of a — a node already started (by a
// previous broker) is adopted instead —, waits until it is in sync with the
// primary, and rewrites the pair's files so the primary knows its standby.
func (b *Nodes) StartStandby(ctx context.Context, a store.Addon, nn store.Node, kind string, progress func(string)) error {
	fresh := nn.State == store.NodeStarting
	if fresh {
		var err error
		if nn, err = b.checkPort(ctx, nn); err != nil {
			return err
		}
	}
	progress("starting the new standby on " + nn.Host)
	nodes, specs, err := b.SpecsOf(ctx, b.store, a)
	if err != nil {
		return err
	}
	for i, n := range nodes {
		if n.ID != nn.ID {
			continue
		}
		h := b.hosts.Of(n)
		start := h.Adopt
		if fresh {
			start = h.Start
		}
		pn, err := start(ctx, specs[i])
		if err != nil {
			return fault.Wrap(fault.Unavailable, err, "start the new standby of "+a.Name)
		}
		if err := b.store.UpdateNodeRuntime(ctx, n.ID, pn.Addr, pn.Dir, pn.PID, startedState(n)); err != nil {
			return err
		}
	}
	b.jobs.CrashPoint(kind + ".standby_started")
	if err := b.waitStandbys(ctx, a, nodes, progress); err != nil {
		return err
	}
	b.jobs.CrashPoint(kind + ".standby_synced")
	b.RewriteNodeFiles(ctx, a)
	return nil
}

// AddStandby gives a's primary a new standby after a failover (see
// ClaimStandby and StartStandby) and returns it. A standby that does not
// come up is removed again: the reconciler builds another later.
func (b *Nodes) AddStandby(ctx context.Context, a store.Addon, progress func(string), avoid ...string) (store.Node, error) {
	nn, err := b.ClaimStandby(ctx, a, "failover", nil, avoid...)
	if err != nil {
		return store.Node{}, err
	}
	if err := b.StartStandby(ctx, a, nn, "failover", progress); err != nil {
		if derr := b.DropNode(context.WithoutCancel(ctx), a, nn); derr != nil {
			b.log.WithError(derr).WithField("node", nn.Name).Warn("remove a standby that did not come up")
		}
		return store.Node{}, err
	}
	return nn, nil
}

// DropNode removes node n of a from its host and from the store. A node
// whose host is unreachable leaves the store all the same: the reconciler
// removes it as an orphan when its host returns.
func (b *Nodes) DropNode(ctx context.Context, a store.Addon, n store.Node) error {
	specs, err := b.NodeSpecs(ctx, b.store, a, []store.Node{n})
	if err != nil {
		return err
	}
	if err := b.hosts.Of(n).Remove(ctx, specs[0]); err != nil && b.hosts.IsUp(n.Host) {
		return fault.Wrap(fault.Unavailable, err, fmt.Sprintf("remove node %s of %s", n.Name, a.Name))
	}
	if err := b.store.DeleteNode(ctx, n.ID); err != nil && fault.KindOf(err) != fault.NotFound {
		return err
	}
	return nil
}
