package broker

import (
	"context"
	"fmt"

	"larder/fault"
	"larder/store"
)

// Changes of a running add-on reach its nodes here: its settings and users,
// as the store has them, rendered into every node's files and applied live.

// Reconfigure applies a's settings and users to every running node; when one
// fails, the nodes already changed — and the one that failed, whose files
// may have changed before its engine refused — are put back as old had them.
func (b *Nodes) Reconfigure(ctx context.Context, old, a store.Addon) error {
	nodes, err := b.store.NodesOfAddon(ctx, a.ID)
	if err != nil {
		return err
	}
	specs, err := b.NodeSpecs(ctx, b.store, a, nodes)
	if err != nil {
		return err
	}
	oldSpecs, err := b.NodeSpecs(ctx, b.store, old, nodes)
	if err != nil {
		return err
	}
	for i, n := range nodes {
		if err := b.hosts.Of(n).Reconfigure(ctx, specs[i]); err != nil {
			for j := range nodes[:i+1] {
				if rerr := b.hosts.Of(nodes[j]).Reconfigure(context.WithoutCancel(ctx), oldSpecs[j]); rerr != nil {
					b.log.WithError(rerr).WithField("node", nodes[j].Name).Error("restore node settings")
				}
			}
			return fault.Wrap(fault.Unavailable, err, fmt.Sprintf("the %s node of %s did not take the change", n.Role, a.Name))
		}
	}
	return nil
}

// ReconfigureReachable applies a's settings and users, as the store has
// them, to every node whose host answers. A node on a host that does not
// answer gets them when its host returns (reconciler.repush): the undo or
// the end of a change never waits on a host that may be gone for good.
func (b *Nodes) ReconfigureReachable(ctx context.Context, a store.Addon) error {
	nodes, specs, err := b.SpecsOf(ctx, b.store, a)
	if err != nil {
		return err
	}
	for i, n := range nodes {
		if !b.hosts.IsUp(n.Host) {
			b.log.WithFields(map[string]any{"addon": a.Name, "node": n.Name, "host": n.Host}).Warn("host unreachable; the node is reconfigured when it returns")
			continue
		}
		if err := b.hosts.Of(n).Reconfigure(ctx, specs[i]); err != nil {
			return fault.Wrap(fault.Unavailable, err, fmt.Sprintf("the %s node of %s did not take the change", n.Role, a.Name))
		}
	}
	return nil
}

// RewriteNodeFiles re-renders every node's files from the store (the
// standby's replicaof, the primary's fallback), so a restart in place comes
// back in the role the store records.
func (b *Nodes) RewriteNodeFiles(ctx context.Context, a store.Addon) {
	nodes, specs, err := b.SpecsOf(ctx, b.store, a)
	if err != nil {
		b.log.WithError(err).WithField("addon", a.Name).Warn("rewrite node files")
		return
	}
	for i, n := range nodes {
		if err := b.hosts.Of(n).Reconfigure(ctx, specs[i]); err != nil {
			b.log.WithError(err).WithField("node", n.Name).Warn("rewrite node files after role swap")
		}
	}
}
