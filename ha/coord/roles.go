package coord

import (
	"context"
	"errors"
	"fmt"

	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/fault"
	"larder/provisioner"
	"larder/store"
)

// Every change of roles is recorded first, under a new epoch, with a
// compare-and-set on the epoch its coordinator read (CommitPromotion), then
// applied to the nodes through their hosts under that epoch; hosts refuse an
// older epoch than the node's. A coordinator that lost a race says so
// (Superseded) and touches nothing more.

// PrimaryNode returns the primary among an add-on's nodes, if one is
// recorded with an address.
func PrimaryNode(nodes []store.Node) (store.Node, bool) {
	for _, n := range nodes {
		if n.Role == store.RolePrimary && n.Address != "" {
			return n, true
		}
	}
	return store.Node{}, false
}

// Pair returns an HA add-on's primary and standby; ok when it has both.
func Pair(nodes []store.Node) (primary, standby store.Node, ok bool) {
	var p, s bool
	for _, n := range nodes {
		switch n.Role {
		case store.RolePrimary:
			primary, p = n, true
		case store.RoleStandby:
			standby, s = n, true
		}
	}
	return primary, standby, p && s
}

// Superseded records that a role change of kind, decided under epoch read,
// lost to a newer decision, and returns the Conflict to end it with.
func (c *Coordinator) Superseded(ctx context.Context, a store.Addon, kind string, read int64) error {
	msg := fmt.Sprintf("%s of %s not done: its roles changed after it was decided under epoch %d (another coordinator acted first); it touched nothing", kind, a.Name, read)
	if err := c.cfg.Store.AddEvent(context.WithoutCancel(ctx), a.ID, a.Name, kind+".superseded", msg); err != nil {
		c.log.WithError(err).WithField("addon", a.Name).Error("record a superseded role change")
	}
	c.log.WithFields(logrus.Fields{"addon": a.Name, "epoch": read}).Warn(msg)
	return fault.E(fault.Conflict, "%s", msg)
}

// CommitPromotion records newPrimary as the add-on's primary under a new
// epoch: old becomes its standby, or leaves the store when it was lost (its
// host removes it as an orphan when it returns). Vars derive from roles, so
// every attached app points at the new primary from this commit on. It is a
// compare-and-set on a.Epoch, the epoch the caller read before the roles it
// decided on: when another coordinator changed them since, nothing is
// recorded, the loss is reported as a <kind>.superseded event, and the
// answer is a Conflict.
func (c *Coordinator) CommitPromotion(ctx context.Context, a store.Addon, newPrimary, old store.Node, oldLost bool, kind, msg string) error {
	err := c.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		epoch, err := tx.AdvanceEpoch(ctx, a.ID, a.Epoch)
		if err != nil {
			return err
		}
		if err := tx.SetNodeRole(ctx, newPrimary.ID, store.RolePrimary, epoch); err != nil {
			return err
		}
		if oldLost {
			err = tx.DeleteNode(ctx, old.ID)
		} else {
			err = tx.SetNodeRole(ctx, old.ID, store.RoleStandby, epoch)
		}
		if err != nil {
			return err
		}
		return tx.AddEvent(ctx, a.ID, a.Name, kind, fmt.Sprintf("%s (epoch %d)", msg, epoch))
	})
	if errors.Is(err, store.ErrLeaseLost) {
		// This broker no longer coordinates: the one that does decides.
		c.log.WithField("addon", a.Name).WithError(err).Warn(kind + " not recorded")
		return err
	}
	if fault.KindOf(err) == fault.Conflict {
		return c.Superseded(ctx, a, kind, a.Epoch)
	}
	if err == nil {
		level := logrus.InfoLevel
		if oldLost {
			level = logrus.WarnLevel
		}
		c.log.WithField("addon", a.Name).Log(level, msg)
	}
	return err
}

// Behind reports whether node n, as its host reports it (ns), must be
// brought to the role the store records: its host holds an older epoch than
// the one its role was recorded under, or a write pause (setting the role
// lifts it: the broker has decided).
func Behind(n store.Node, ns provisioner.NodeStatus) bool {
	return ns.Pause != nil || ns.Epoch < n.Epoch
}

// SettleOrder is the order in which the nodes of a pair, as the store lists
// them (primary first), are brought to their roles: standbys first, so a
// node is demoted before the other is promoted — never two primaries, only
// for a moment none.
func SettleOrder(n int) []int {
	out := make([]int, n)
	for k := range out {
		out[k] = (k + 1) % n
	}
	return out
}

// Settles reports whether the reconciler may bring add-on a's nodes to their
// recorded roles now: it is provisioned or failed, and no failover runs on
// it (its old primary stays fenced).
func (c *Coordinator) Settles(a store.Addon) bool {
	return (a.State == api.StateProvisioned || a.State == api.StateFailed) && !c.Failing(a.ID)
}
