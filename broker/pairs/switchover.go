package pairs

import (
	"context"
	"fmt"
	"time"

	"larder/api"
	"larder/broker/apps"
	"larder/broker/attach"
	"larder/broker/jobs"
	"larder/engine"
	"larder/fault"
	"larder/store"
)

// switchoverTimeout bounds the engine's wait for the standby to catch up.
const switchoverTimeout = 5 * time.Second

// StartSwitchover validates a planned switchover of a and starts it as an
// operation.
func (b *Pairs) StartSwitchover(ctx context.Context, a store.Addon) (store.Operation, error) {
	if a.State != api.StateProvisioned {
		return store.Operation{}, fault.E(fault.Conflict, "%s is %s; a switchover needs it available", a.Name, a.State)
	}
	nodes, err := b.store.NodesOfAddon(ctx, a.ID)
	if err != nil {
		return store.Operation{}, err
	}
	primary, standby, ok := pair(nodes)
	if !ok {
		return store.Operation{}, fault.E(fault.Invalid, "%s has no standby (plan %s:%s); only HA plans can switch over", a.Name, a.Service, a.Plan)
	}
	if _, err := b.store.FollowOf(ctx, a.ID); err == nil {
		return store.Operation{}, fault.E(fault.Conflict, "%s follows an external leader; run `larder redis:unfollow` before a switchover", a.Name)
	}
	ri, err := engine.Replication(ctx, attach.Target(a, standby))
	if err != nil || !ri.InSync(engine.Endpoint{Addr: primary.Address, Port: primary.Port}) {
		return store.Operation{}, fault.E(fault.Conflict, "the standby of %s is not in sync; wait until `larder redis:info` shows it in sync", a.Name)
	}
	var op store.Operation
	err = b.store.InTx(ctx, func(tx store.Tx) error {
		op, err = b.jobs.NewOperation(ctx, tx, a, opSwitchover, switchoverParams{Primary: primary.ID, Standby: standby.ID, Epoch: a.Epoch})
		return err
	})
	if err != nil {
		return store.Operation{}, err
	}
	b.jobs.Run(b.store, op, b.switchoverStep(op, false))
	return op, nil
}

// switchoverParams is what a switchover operation records: the pair's nodes
// as they were when it started, and the epoch it was decided under.
type switchoverParams struct {
	Primary string `json:"primary"` // node ids
	Standby string `json:"standby"`
	Epoch   int64  `json:"epoch"`
}

// switchoverStep swaps roles with a coordinated switchover (zero
// acknowledged writes lost; see engine.Switchover). While writes are
// paused and the standby has every byte, the new roles are recorded under a
// new epoch (every attached app's vars follow in that write; a coordinator
// that changed the roles since the epoch the operation was decided under
// wins, and this one stops) and applied through the hosts: the old primary
// follows first, then the standby is promoted, so there is never a moment
// with two primaries. The old primary's clients are closed so apps reconnect
// to the new URL. Resumed after a broker restart, it reads the store and the
// nodes: a recorded swap is completed, anything else rolled back.
func (b *Pairs) switchoverStep(op store.Operation, resumed bool) jobs.Step {
	return func(ctx context.Context, progress func(string)) error {
		var p switchoverParams
		lk, a, err := b.jobs.Open(ctx, op, &p)
		if err != nil {
			return err
		}
		defer lk.Release()
		nodes, err := b.store.NodesOfAddon(ctx, a.ID)
		if err != nil {
			return err
		}
		primary, standby, ok := pair(nodes)
		switch {
		case resumed && ok && primary.ID == p.Standby && standby.ID == p.Primary && (p.Epoch == 0 || a.Epoch == p.Epoch+1):
			// Recorded before the restart (its commit is the one epoch step
			// since): the hosts follow the store.
			if err := b.applyRoles(ctx, a, standby.ID, primary.ID); err != nil {
				return err
			}
			b.finishSwitchover(ctx, a, standby)
			return nil
		case p.Epoch != 0 && a.Epoch != p.Epoch:
			return b.coord.Superseded(ctx, a, "switchover", p.Epoch)
		case !ok || primary.ID != p.Primary || standby.ID != p.Standby:
			cause := fault.E(fault.Conflict, "the pair of %s changed before the switchover", a.Name)
			b.store.AddEvent(ctx, a.ID, a.Name, "switchover.rolled_back", "nothing changed: "+fault.Message(cause))
			return jobs.RolledBack("switchover", cause)
		case resumed:
			return b.resumeSwitchover(ctx, lk, a, primary, standby, progress)
		}
		b.jobs.CrashPoint("switchover.started")
		progress(fmt.Sprintf("handing over from %s to %s", primary.Host, standby.Host))
		committed := false
		took, err := engine.Switchover(ctx, attach.Target(a, primary), attach.Target(a, standby), switchoverTimeout, func(ctx context.Context) (bool, error) {
			b.jobs.HoldPoint(ctx, "switchover.swap")
			b.jobs.CrashPoint("switchover.swap")
			msg := fmt.Sprintf("planned switchover: %s on %s is primary, %s on %s standby", standby.Name, standby.Host, primary.Name, primary.Host)
			if err := b.commitRoleSwap(ctx, a, standby, primary, "switchover", msg); err != nil {
				return false, err
			}
			committed = true
			b.count.Switchover() // recorded: the apps have the new primary
			b.jobs.CrashPoint("switchover.committed")
			return true, b.applyRoles(ctx, a, primary.ID, standby.ID)
		})
		switch {
		case err != nil && committed:
			// Recorded: apps already have the new URL; the reconciler brings
			// the nodes to the recorded roles.
			return err
		case err != nil && fault.KindOf(err) == fault.Conflict:
			return err // superseded: reported by commitRoleSwap
		case err != nil:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			b.store.AddEvent(ctx, a.ID, a.Name, "switchover.rolled_back", "nothing changed: "+fault.Message(err))
			return jobs.RolledBack("switchover", err)
		}
		b.store.AddEvent(ctx, a.ID, a.Name, "switchover.done", fmt.Sprintf("%s is primary; writes paused at most %d ms", standby.Name, took.Milliseconds()))
		b.finishSwitchover(ctx, a, primary)
		return nil
	}
}

// finishSwitchover closes the clients of the old primary, so apps reconnect
// and read the new URL.
func (b *Pairs) finishSwitchover(ctx context.Context, a store.Addon, old store.Node) {
	if err := engine.DisconnectClients(ctx, attach.Target(a, old)); err != nil {
		b.log.WithError(err).WithField("addon", a.Name).Warn("close clients of the old primary")
	}
}

// resumeSwitchover ends a switchover a previous broker left before its
// commit. The store still names the old primary, and the apps' URL with
// it: whatever the nodes show, they are brought back to the recorded roles
// under the add-on's epoch (a standby found promoted goes back under the
// primary), and any pause left on the old primary is lifted. Never two
// primaries.
func (b *Pairs) resumeSwitchover(ctx context.Context, lk *jobs.Held, a store.Addon, primary, standby store.Node, progress func(string)) error {
	err := b.jobs.UntilDone(ctx, lk, "bring the pair back to its recorded roles", progress, func() error {
		if err := b.applyRoles(ctx, a, standby.ID, primary.ID); err != nil {
			return err
		}
		return engine.Unpause(ctx, attach.Target(a, primary))
	})
	if err != nil {
		return err
	}
	why := jobs.WhyResumed(ctx)
	b.store.AddEvent(ctx, a.ID, a.Name, "switchover.rolled_back", fault.Message(why)+", before the handover was recorded; "+primary.Name+" stays primary")
	return jobs.RolledBack("switchover", why)
}

// recordRoleSwap records a role swap that has happened on the nodes and
// brings both nodes' hosts to it (their epoch, and the roles they restart in).
func (b *Pairs) recordRoleSwap(ctx context.Context, a store.Addon, newPrimary, newStandby store.Node, kind, msg string) error {
	if err := b.commitRoleSwap(ctx, a, newPrimary, newStandby, kind, msg); err != nil {
		return err
	}
	return b.applyRoles(ctx, a, newStandby.ID, newPrimary.ID)
}

// commitRoleSwap records that newPrimary and newStandby swapped roles.
func (b *Pairs) commitRoleSwap(ctx context.Context, a store.Addon, newPrimary, newStandby store.Node, kind, msg string) error {
	return b.coord.CommitPromotion(ctx, a, newPrimary, newStandby, false, kind, msg)
}

// failover answers `larder redis:failover`: a planned switchover.
func (b *Pairs) Failover(ctx context.Context, appName, addonName string) (api.AddonResult, error) {
	a, err := apps.Settled(ctx, b.store, appName, addonName)
	if err != nil {
		return api.AddonResult{}, err
	}
	op, err := b.StartSwitchover(ctx, a)
	if err != nil {
		return api.AddonResult{}, err
	}
	return apps.OperationResult(ctx, b.store, a, op, "")
}

// OnRejoined handles a host's report that a primary whose data was gone came
// back as a replica of its standby, which the host promoted first: the store
// records the swap so apps follow the standby, which holds the data.
func (b *Pairs) OnRejoined(ctx context.Context, a store.Addon, n store.Node) error {
	nodes, err := b.store.NodesOfAddon(ctx, a.ID)
	if err != nil {
		return err
	}
	primary, standby, ok := pair(nodes)
	if !ok || primary.ID != n.ID {
		return nil
	}
	// Events can be delivered again (an agent replays its ring to a restarted
	// broker): act only if the nodes really are the other way round now.
	nr, err1 := engine.Replication(ctx, attach.Target(a, primary))
	sr, err2 := engine.Replication(ctx, attach.Target(a, standby))
	if err1 != nil || err2 != nil || nr.Role != "slave" || sr.Role != "master" {
		b.log.WithField("addon", a.Name).Info("ignoring a stale rejoin report: the recorded roles match the nodes")
		return nil
	}
	return b.recordRoleSwap(ctx, a, standby, primary, "failover.rejoin",
		fmt.Sprintf("%s came back without its data, so %s (standby, with the data) took over and %s rejoined as its replica", primary.Name, standby.Name, primary.Name))
}
