package broker

import (
	"context"

	"larder/api"
	"larder/fault"
	"larder/store"
)

// adoptNodes takes every settled add-on's nodes back under supervision after a
// broker start. Nodes that answer keep running untouched; missing ones are
// restarted in place.
func (b *Broker) adoptNodes(ctx context.Context) error {
	addons, err := b.store.Addons(ctx)
	if err != nil {
		return err
	}
	for _, a := range addons {
		if a.State != api.StateProvisioned && a.State != api.StateFailed {
			continue // provisioning and deprovisioning add-ons are resumed by their operation
		}
		nodes, specs, err := b.specsOf(ctx, b.store.Q, a)
		if err != nil {
			return err
		}
		for i, n := range nodes {
			log := b.log.WithFields(map[string]any{"addon": a.Name, "node": n.Name})
			pn, err := b.hostFor(n).Adopt(ctx, specs[i])
			if err != nil && n.Host != b.localName && fault.KindOf(err) == fault.Unavailable {
				// An agent that does not answer yet: its nodes may well be
				// serving. The reconciler adopts them once it answers.
				log.WithError(err).Warn("host unreachable; node adopted later")
				continue
			}
			if err != nil {
				log.WithError(err).Error("adopt node")
				reason := "node " + n.Name + " could not be restarted"
				err = b.store.InTx(ctx, func(tx *store.Tx) error {
					if err := tx.SetNodeState(ctx, n.ID, store.NodeFailed, 0); err != nil {
						return err
					}
					if err := tx.SetAddonState(ctx, a.ID, api.StateFailed, reason); err != nil {
						return err
					}
					return tx.AddEvent(ctx, a.ID, a.Name, "node.adopt_failed", reason)
				})
				if err != nil {
					return err
				}
				continue
			}
			if err := b.store.UpdateNodeRuntime(ctx, n.ID, pn.Addr, pn.Dir, pn.PID, store.NodeRunning); err != nil {
				return err
			}
			if pn.PID != n.PID {
				log.WithField("pid", pn.PID).Info("node was not running; restarted in place")
				if err := b.store.AddEvent(ctx, a.ID, a.Name, "node.restarted", n.Name+" was down while the broker was away; restarted in place"); err != nil {
					return err
				}
			} else {
				log.Debug("node adopted")
			}
		}
	}
	return nil
}

// resumeOperations re-runs the operations a previous broker left unfinished.
func (b *Broker) resumeOperations(ctx context.Context) error {
	ops, err := b.store.UnfinishedOperations(ctx)
	if err != nil {
		return err
	}
	for _, op := range ops {
		if _, err := b.store.AddonByID(ctx, op.AddonID); err != nil {
			if fault.KindOf(err) != fault.NotFound {
				return err
			}
			msg := "the add-on was removed while the broker was stopped"
			if op.Kind == "deprovision" {
				msg = ""
			}
			state := api.OpFailed
			if msg == "" {
				state = api.OpSucceeded
			}
			if err := b.store.UpdateOperation(ctx, op.ID, state, "done", msg); err != nil {
				return err
			}
			continue
		}
		b.log.WithFields(map[string]any{"op": op.Kind, "addon": op.AddonName}).Info("resuming operation")
		switch op.Kind {
		case "provision":
			b.jobs.Run(b.store, op, b.provisionStep(op.AddonID, true))
		case "deprovision":
			b.jobs.Run(b.store, op, b.deprovisionStep(op.AddonID))
		case "failover":
			id := op.AddonID
			// No second failover of it starts while this one is finished or
			// rolled back.
			done := b.recon.hold(id)
			b.jobs.Run(b.store, op, func(ctx context.Context, progress func(string)) error {
				defer done()
				return b.resumeFailover(ctx, id, progress)
			})
		default:
			if err := b.store.UpdateOperation(ctx, op.ID, api.OpFailed, "", "unknown operation kind "+op.Kind); err != nil {
				return err
			}
		}
	}
	return nil
}
