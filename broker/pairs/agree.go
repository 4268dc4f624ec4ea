package pairs

import (
	"context"

	"larder/api"
	"larder/store"
)

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
			if err := r.b.repushAddon(ctx, n.AddonID, host); err != nil && ctx.Err() == nil {
				r.log.WithError(err).WithFields(map[string]any{"host": host, "addon": n.AddonID}).Warn("reconfigure nodes of a returning host")
			}
		}
	}()
}

// repushAddon applies add-on id's settings and users, as the store has them
// now, to its nodes on host.
func (b *Pairs) repushAddon(ctx context.Context, id, host string) error {
	unlock := b.jobs.Lock(id)
	defer unlock()
	a, err := b.store.AddonByID(ctx, id)
	if err != nil || a.State != api.StateProvisioned {
		return err
	}
	nodes, specs, err := b.nodes.SpecsOf(ctx, b.store, a)
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
