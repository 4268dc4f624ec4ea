package broker

import (
	"context"
	"fmt"

	"github.com/sirupsen/logrus"

	"larder/provisioner"
	"larder/store"
)

// OnNodeEvent records what a host's supervisor reports. Hosts call it; a
// remote host's events come with the coordinator's lease in ctx, which
// fences these writes.
func (b *Hosts) OnNodeEvent(ctx context.Context, e provisioner.Event) {
	log := b.log.WithFields(logrus.Fields{"node": e.NodeID, "event": e.Kind})
	n, err := b.store.NodeByID(ctx, e.NodeID)
	if err != nil {
		log.WithError(err).Warn("event for an unknown node")
		return
	}
	a, err := b.store.AddonByID(ctx, n.AddonID)
	if err != nil {
		log.WithError(err).Warn("event for a node without add-on")
		return
	}
	log = log.WithField("addon", a.Name)
	err = b.store.InTx(ctx, func(tx store.Tx) error {
		switch e.Kind {
		case provisioner.EventRestarted:
			if err := tx.SetNodeState(ctx, n.ID, store.NodeRunning, e.PID); err != nil {
				return err
			}
			if a.State == "failed" {
				if err := tx.SetAddonState(ctx, a.ID, "provisioned", ""); err != nil {
					return err
				}
			}
		case provisioner.EventFailed:
			if err := tx.SetNodeState(ctx, n.ID, store.NodeFailed, 0); err != nil {
				return err
			}
			// A failed standby leaves the add-on writable; the reconciler builds a
			// new one. A failed primary is the add-on failing.
			if n.Role == store.RolePrimary {
				if err := tx.SetAddonState(ctx, a.ID, "failed", "node "+n.Name+" keeps crashing: "+e.Message); err != nil {
					return err
				}
			}
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "node."+string(e.Kind), fmt.Sprintf("%s (%s): %s", n.Name, n.Role, e.Message))
	})
	if err != nil {
		log.WithError(err).Error("record node event")
		return
	}
	log.Info(e.Message)
	if e.Kind == provisioner.EventRejoinedAsReplica {
		unlock := b.jobs.Lock(a.ID)
		defer unlock()
		if err := b.pairs.OnRejoined(ctx, a, n); err != nil {
			log.WithError(err).Error("record the standby taking over")
		}
	}
}
