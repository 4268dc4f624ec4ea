package pairs

import (
	"context"
	"fmt"

	"github.com/sirupsen/logrus"

	"larder/broker/hostset"
	"larder/ha/coord"
	"larder/provisioner"
	"larder/store"
)

// Fencing (ARCHITECTURE, HA rules 3 and 4). Every change of roles is
// recorded first, under a new epoch, with a compare-and-set on the epoch its
// coordinator read (coord.CommitPromotion), then applied to the nodes through their
// hosts under that epoch (applyRoles); hosts refuse an older epoch than the
// node's. A coordinator that lost a race says so (coord.Superseded) and touches
// nothing more. The reconciler brings nodes whose host reports them behind
// the store, or paused by their lease, to the role the store records
// (settleRoles): that is how a promotion recorded by a broker that then
// crashed is finished, and how a write pause left by a lease that ran out
// while the broker was away is lifted (or the node demoted) once it is back.

// applyRoles makes the nodes of a named by ids, in that order, what the store
// records for them, under the add-on's epoch, through their hosts.
func (b *Pairs) applyRoles(ctx context.Context, a store.Addon, ids ...string) error {
	nodes, specs, err := b.nodes.SpecsOf(ctx, b.store, a)
	if err != nil {
		return err
	}
	for _, id := range ids {
		for i, n := range nodes {
			if n.ID != id {
				continue
			}
			if err := b.hosts.Of(n).SetRole(ctx, specs[i]); err != nil {
				return fmt.Errorf("make %s the %s under epoch %d: %w", n.Name, n.Role, specs[i].Epoch, err)
			}
		}
	}
	return nil
}

// settleRoles brings nodes to the roles the store records when their host
// reports them behind the epoch their role was recorded under, or holding a
// write pause (SetRole lifts it: the broker has decided). Add-ons in the
// middle of a failover are left alone: their old primary stays fenced.
func (r *reconciler) settleRoles(ctx context.Context, statuses map[string]provisioner.HostStatus, nodes []store.Node) {
	byID := make(map[string]store.Node, len(nodes))
	for _, n := range nodes {
		byID[n.ID] = n
	}
	reported := map[string]provisioner.NodeStatus{}
	due := map[string]bool{} // add-on ids
	for _, st := range statuses {
		for _, ns := range st.Nodes {
			n, ok := byID[ns.ID]
			if !ok || ns.ID == "" {
				continue
			}
			reported[ns.ID] = ns
			if coord.Behind(n, ns) {
				due[n.AddonID] = true
			}
		}
	}
	for id := range due {
		a, err := r.b.store.AddonByID(ctx, id)
		if err != nil || !r.b.coord.Settles(a) {
			continue
		}
		nodes, specs, err := r.b.nodes.SpecsOf(ctx, r.b.store, a)
		if err != nil {
			r.log.WithError(err).WithField("addon", a.Name).Warn("read the roles to settle")
			continue
		}
		for _, i := range coord.SettleOrder(len(nodes)) {
			n := nodes[i]
			ns, ok := reported[n.ID]
			if !ok || n.State == store.NodeStarting || !coord.Behind(n, ns) {
				continue
			}
			log := r.log.WithFields(logrus.Fields{"addon": a.Name, "node": n.Name, "epoch": specs[i].Epoch, "held": ns.Epoch})
			sctx, cancel := context.WithTimeout(ctx, r.b.cfg.ReconcileInterval+hostset.LiveTimeout)
			err := r.b.hosts.Of(n).SetRole(sctx, specs[i])
			cancel()
			if err != nil {
				r.b.coord.LogOnce(a.ID, fmt.Sprintf("could not bring %s to its recorded role under epoch %d: %v", n.Name, specs[i].Epoch, err))
				continue
			}
			if ns.Epoch < n.Epoch {
				msg := fmt.Sprintf("%s made %s under epoch %d: its host still held epoch %d", n.Name, n.Role, specs[i].Epoch, ns.Epoch)
				r.b.store.AddEvent(ctx, a.ID, a.Name, "node.role", msg)
				log.Info(msg)
			} else {
				log.Info("the broker is back: the node's role is confirmed and its write pause lifted")
			}
		}
	}
}

// WritesPausedOf is WritesPaused of each of addons that has a node a host
// reports writes paused on, by add-on id: a listing asks the store once per
// paused node, not once per add-on.
func (b *Pairs) WritesPausedOf(ctx context.Context, addons []store.Addon) map[string]string {
	ids := b.hosts.PausedNodes()
	if len(ids) == 0 {
		return nil
	}
	of := map[string]bool{}
	for _, id := range ids {
		if n, err := b.store.NodeByID(ctx, id); err == nil {
			of[n.AddonID] = true
		}
	}
	out := map[string]string{}
	for _, a := range addons {
		if of[a.ID] {
			out[a.ID] = b.WritesPaused(ctx, a)
		}
	}
	return out
}

// AnyWritesPaused says whether a host reports writes paused on any node:
// only then does a listing show more than the store holds.
func (b *Pairs) AnyWritesPaused() bool { return len(b.hosts.PausedNodes()) > 0 }

// WritesPaused is what people are told about a write pause a host reported
// on one of a's nodes (as last reported); "" when none.
func (b *Pairs) WritesPaused(ctx context.Context, a store.Addon) string {
	nodes, err := b.store.NodesOfAddon(ctx, a.ID)
	if err != nil {
		return ""
	}
	for _, n := range nodes {
		if p := b.hosts.PauseOf(n.ID); p != nil {
			return p.String()
		}
	}
	return ""
}
