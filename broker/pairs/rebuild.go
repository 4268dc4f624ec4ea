package pairs

import (
	"context"
	"fmt"

	"larder/broker/jobs"
	"larder/fault"
	"larder/provisioner"
	"larder/store"
)

// rebuildParams is what a standby_rebuild operation records: why, the
// standby it replaces (its row leaves the store first, so its host can be
// told to remove it later) and the new standby once claimed.
type rebuildParams struct {
	Reason  string   `json:"reason"`
	Old     *oldNode `json:"old,omitempty"`
	Standby string   `json:"standby,omitempty"` // node id
}

// oldNode is enough of a node to remove it from its host.
type oldNode struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Host string `json:"host"`
	Port int    `json:"port"`
}

// planHasStandby reports whether a's plan runs a standby.
func (b *Pairs) planHasStandby(a store.Addon) bool {
	p, err := b.nodes.PlanOf(a)
	return err == nil && p.HA
}

// startRebuild gives a a new standby, replacing old (zero when it has none),
// as an operation.
func (r *reconciler) startRebuild(ctx context.Context, a store.Addon, old store.Node, reason string) {
	r.b.coord.RebuildStarted(a.ID)
	p := rebuildParams{Reason: reason}
	if old.ID != "" {
		p.Old = &oldNode{ID: old.ID, Name: old.Name, Host: old.Host, Port: old.Port}
	}
	var op store.Operation
	err := r.b.store.InTx(ctx, func(tx store.Tx) (err error) {
		if op, err = r.b.jobs.NewOperation(ctx, tx, a, opRebuild, p); err != nil {
			return err
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "standby.rebuild", "building a new standby: "+reason)
	})
	if err != nil {
		r.log.WithError(err).Error("record standby rebuild")
		r.b.coord.RebuildFinished(a.ID, nil)
		return
	}
	r.log.WithField("addon", a.Name).Warn("building a new standby: " + reason)
	r.b.jobs.Run(r.b.store, op, r.rebuildJob(op, false))
}

// rebuildJob runs (or, after a broker restart, resumes) a standby rebuild.
func (r *reconciler) rebuildJob(op store.Operation, resumed bool) jobs.Step {
	return func(ctx context.Context, progress func(string)) error {
		if resumed {
			r.b.coord.RebuildStarted(op.AddonID)
		}
		err := r.b.rebuildStandby(ctx, op, progress)
		failed := err
		if ctx.Err() != nil {
			failed = nil // stopped, not failed: the next broker resumes it
		}
		r.b.coord.RebuildFinished(op.AddonID, failed)
		return err
	}
}

// rebuildStandby builds a new standby on the best host other than the
// primary's and the old standby's (if any other can take it), waits until it
// is in sync, then removes the old one from its host if the host answers.
// Resumed, it goes on from what op recorded: a new standby already started
// is adopted and waited for; one claimed but perhaps never started is
// removed and built again. A rebuild that fails leaves no half-built
// standby: the reconciler tries again later.
func (b *Pairs) rebuildStandby(ctx context.Context, op store.Operation, progress func(string)) error {
	var p rebuildParams
	lk, a, err := b.jobs.Open(ctx, op, &p)
	if err != nil {
		return err
	}
	defer lk.Release()
	var avoid []string
	if p.Old != nil {
		// The old standby leaves the store first: a pair has one standby at
		// a time, and its node is an orphan for the reconciler once its host
		// returns.
		avoid = append(avoid, p.Old.Host)
		err := b.store.InTx(ctx, func(tx store.Tx) error {
			if err := tx.DeleteNode(ctx, p.Old.ID); err != nil && fault.KindOf(err) != fault.NotFound {
				return err
			}
			return b.jobs.SaveStep(ctx, tx, &op, "old_dropped", p)
		})
		if err != nil {
			return err
		}
		b.jobs.CrashPoint("standby_rebuild.old_dropped")
	}
	nn, err := b.resumedStandby(ctx, a, p.Standby)
	if err != nil {
		return err
	}
	if nodes, err := b.store.NodesOfAddon(ctx, a.ID); err != nil {
		return err
	} else if _, s, ok := pair(nodes); ok && s.ID != nn.ID {
		b.log.WithField("addon", a.Name).Info("the add-on has a standby again; nothing to rebuild")
		return nil // a pair has one standby at a time
	}
	if nn.ID == "" {
		nn, err = b.nodes.ClaimStandby(ctx, a, opRebuild, func(tx store.Tx, n store.Node) error {
			p.Standby = n.ID
			return b.jobs.SaveStep(ctx, tx, &op, "standby_claimed", p)
		}, avoid...)
		if err != nil {
			return b.failRebuild(ctx, a, store.Node{}, err)
		}
	}
	if err := b.nodes.StartStandby(ctx, a, nn, opRebuild, progress); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return b.failRebuild(ctx, a, nn, err)
	}
	if p.Old != nil && b.hosts.IsUp(p.Old.Host) {
		// Quarantined, not deleted: larder's own decision, like an orphan's.
		h, _ := b.hosts.Get(p.Old.Host)
		if err := h.Quarantine(ctx, provisioner.NodeSpec{ID: p.Old.ID, Name: p.Old.Name, Port: p.Old.Port}); err != nil {
			b.log.WithError(err).WithField("node", p.Old.Name).Warn("quarantine old standby")
		}
	}
	return b.store.AddEvent(ctx, a.ID, a.Name, "standby.rebuilt",
		fmt.Sprintf("new standby %s on %s in sync with the primary", nn.Name, nn.Host))
}

// resumedStandby returns the standby a resumed rebuild had claimed (id) if
// it was started; one that may never have been started is removed, to be
// built again from a clean slate. Zero means: claim a new one.
func (b *Pairs) resumedStandby(ctx context.Context, a store.Addon, id string) (store.Node, error) {
	if id == "" {
		return store.Node{}, nil
	}
	n, err := b.store.NodeByID(ctx, id)
	switch {
	case fault.KindOf(err) == fault.NotFound:
		return store.Node{}, nil
	case err != nil:
		return store.Node{}, err
	case n.State != store.NodeStarting:
		return n, nil
	}
	return store.Node{}, b.nodes.DropNode(ctx, a, n)
}

// failRebuild ends a failed rebuild: the half-built standby (if any) goes,
// and an event says the add-on runs without a standby until the next try.
func (b *Pairs) failRebuild(ctx context.Context, a store.Addon, nn store.Node, cause error) error {
	ctx = context.WithoutCancel(ctx)
	if nn.ID != "" {
		if err := b.nodes.DropNode(ctx, a, nn); err != nil {
			b.log.WithError(err).WithField("node", nn.Name).Warn("remove a standby that did not come up")
		}
	}
	b.store.AddEvent(ctx, a.ID, a.Name, "standby.rebuild_failed",
		"no standby for now: "+fault.Message(cause)+"; another is built later")
	return cause
}
