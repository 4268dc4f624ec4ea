package broker

import (
	"context"
	"fmt"

	"larder/api"
	"larder/fault"
	"larder/store"
)

// reconfigureReachable applies a's settings and users, as the store has
// them, to every node whose host answers. A node on a host that does not
// answer gets them when its host returns (reconciler.repush): the undo or
// the end of a change never waits on a host that may be gone for good.
func (b *Pairs) reconfigureReachable(ctx context.Context, a store.Addon) error {
	nodes, specs, err := b.nodes.specsOf(ctx, b.store, a)
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

// repush makes every node on host agree with the store again, once the host
// answers after an outage: what changed meanwhile (a credential rotation, a
// plan change, settings) was not applied there.
func (r *reconciler) repush(host string) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		ctx := r.ctx
		nodes, err := r.b.store.NodesOnHost(ctx, host)
		if err != nil {
			r.log.WithError(err).WithField("host", host).Warn("list the nodes of a returning host")
			return
		}
		seen := map[string]bool{}
		for _, n := range nodes {
			if seen[n.AddonID] || n.State == store.NodeStarting {
				continue
			}
			seen[n.AddonID] = true
			if err := r.b.pairs.repushAddon(ctx, n.AddonID, host); err != nil && ctx.Err() == nil {
				r.log.WithError(err).WithFields(map[string]any{"host": host, "addon": n.AddonID}).Warn("reconfigure nodes of a returning host")
			}
		}
	}()
}

// repushAddon applies add-on id's settings and users, as the store has them
// now, to its nodes on host.
func (b *Pairs) repushAddon(ctx context.Context, id, host string) error {
	unlock := b.locks.lock(id)
	defer unlock()
	a, err := b.store.AddonByID(ctx, id)
	if err != nil || a.State != api.StateProvisioned {
		return err
	}
	nodes, specs, err := b.nodes.specsOf(ctx, b.store, a)
	if err != nil {
		return err
	}
	for i, n := range nodes {
		if n.Host == host && n.State != store.NodeStarting {
			if err := b.hosts.Of(n).Reconfigure(ctx, specs[i]); err != nil {
				return err
			}
		}
	}
	return nil
}
