package broker

import (
	"context"
	"fmt"
	"strings"

	"larder/api"
	"larder/broker/apps"
	"larder/broker/jobs"
	"larder/catalog"
	"larder/fault"
	"larder/store"
)

// downgradeHeadroom is the share of a smaller plan's memory the data may use
// for a downgrade to be allowed: the rest absorbs writes during and after it.
const downgradeHeadroom = 0.8

// StartPlanChange validates moving add-on a to plan (a short name of its
// service) and starts the change as a "plan_change" operation. Memory,
// connection and persistence changes apply live with CONFIG SET: no restart,
// no lost key. A downgrade is refused, with the figures, when the data would
// not fit the smaller plan with headroom.
func (b *Addons) StartPlanChange(ctx context.Context, a store.Addon, plan string) (store.Operation, error) {
	svc, err := b.cfg.Catalog.Service(a.Service)
	if err != nil {
		return store.Operation{}, err
	}
	to, err := svc.Plan(plan)
	if err != nil {
		return store.Operation{}, err
	}
	from, err := svc.Plan(a.Plan)
	if err != nil {
		return store.Operation{}, err
	}
	if a.State != api.StateProvisioned {
		return store.Operation{}, fault.E(fault.Conflict, "%s is %s; a plan change needs it available", a.Name, a.State)
	}
	if to.Name == from.Name {
		return store.Operation{}, fault.E(fault.Invalid, "%s is already on %s:%s", a.Name, a.Service, to.Name)
	}
	if to.MaxMemoryBytes < from.MaxMemoryBytes {
		if err := b.checkFits(ctx, a, to); err != nil {
			return store.Operation{}, err
		}
	}
	var op store.Operation
	err = b.store.InTx(ctx, func(tx store.Tx) error {
		if op, err = b.jobs.NewOperation(ctx, tx, a, opPlanChange, planChangeParams{From: from.Name, To: to.Name}); err != nil {
			return err
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "plan_change.request", fmt.Sprintf("%s → %s", from.Name, to.Name))
	})
	if err != nil {
		return store.Operation{}, err
	}
	b.jobs.Run(b.store, op, b.planChangeStep(op, false))
	return op, nil
}

// checkFits refuses a downgrade whose data would not fit plan with headroom.
func (b *Addons) checkFits(ctx context.Context, a store.Addon, to *catalog.Plan) error {
	nodes, specs, err := b.nodes.SpecsOf(ctx, b.store, a)
	if err != nil {
		return err
	}
	for i, n := range nodes {
		if n.Role != store.RolePrimary {
			continue
		}
		info, err := b.hosts.Of(n).Info(ctx, specs[i])
		if err != nil {
			return fault.Wrap(fault.Unavailable, err, "cannot read the data size of "+a.Name)
		}
		limit := int64(float64(to.MaxMemoryBytes) * downgradeHeadroom)
		if info.UsedMemoryBytes > limit {
			return fault.E(fault.Invalid, "%s uses %s; %s:%s allows %s, and a downgrade needs the data below %s (%.0f%%); delete data or pick a larger plan",
				a.Name, HumanBytes(info.UsedMemoryBytes), a.Service, to.Name, HumanBytes(to.MaxMemoryBytes), HumanBytes(limit), downgradeHeadroom*100)
		}
	}
	return nil
}

// planChangeParams is what a plan_change operation records: the plans, and
// the standby it added, once claimed, so that a rollback removes it.
type planChangeParams struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Standby string `json:"standby,omitempty"` // node id
}

// planChangeStep moves an add-on from one plan to another, live: a standby
// is added first when the new plan has one, then every node takes the new
// limits and persistence, then the store records the plan (the commit), then
// a standby the new plan has no room for is removed. A step that fails —
// or a broker that stopped before the commit (resumed) — rolls the change
// back; after the commit it only goes forward. Either way the add-on ends on
// one plan, store and nodes agreeing, and an event says which.
func (b *Addons) planChangeStep(op store.Operation, resumed bool) jobs.Step {
	return func(ctx context.Context, progress func(string)) error {
		var p planChangeParams
		lk, a, err := b.jobs.Open(ctx, op, &p)
		if err != nil {
			return err
		}
		defer lk.Release()
		if a.Plan == p.To {
			return b.finishPlanChange(ctx, lk, a, p, progress)
		}
		cause := jobs.WhyResumed(ctx)
		if !resumed {
			cause = b.applyPlanChange(ctx, &op, a, &p, progress)
			if ctx.Err() != nil {
				return ctx.Err() // the broker is stopping: the next one resumes
			}
			if a, err = b.store.AddonByID(ctx, op.AddonID); err != nil {
				return err
			}
			if a.Plan == p.To { // committed, even if a later step said otherwise
				return b.finishPlanChange(ctx, lk, a, p, progress)
			}
		}
		return b.rollbackPlanChange(ctx, lk, op.AddonID, p, cause, progress)
	}
}

// applyPlanChange runs a plan change up to its commit.
func (b *Addons) applyPlanChange(ctx context.Context, op *store.Operation, a store.Addon, p *planChangeParams, progress func(string)) error {
	next := a
	next.Plan = p.To
	to, err := b.nodes.PlanOf(next)
	if err != nil {
		return err
	}
	from, err := b.nodes.PlanOf(a)
	if err != nil {
		return err
	}
	nodes, err := b.store.NodesOfAddon(ctx, a.ID)
	if err != nil {
		return err
	}
	if _, _, paired := pair(nodes); to.HA && !paired {
		progress("adding a standby")
		nn, err := b.nodes.ClaimStandby(ctx, next, opPlanChange, func(tx store.Tx, n store.Node) error {
			p.Standby = n.ID
			return b.jobs.SaveStep(ctx, tx, op, "standby_claimed", p)
		})
		if err != nil {
			return err
		}
		if err := b.nodes.StartStandby(ctx, next, nn, opPlanChange, progress); err != nil {
			return err
		}
	}
	progress("applying " + p.To + " to the running nodes")
	if err := b.nodes.Reconfigure(ctx, a, next); err != nil {
		return err
	}
	b.jobs.CrashPoint("plan_change.applied")
	err = b.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.SetAddonPlan(ctx, a.ID, p.To); err != nil {
			return err
		}
		if err := b.backups.PlanChanged(ctx, tx, a, from, to); err != nil {
			return err
		}
		return b.jobs.SaveStep(ctx, tx, op, jobs.StepCommitted, p)
	})
	if err != nil {
		return err
	}
	b.jobs.CrashPoint("plan_change.committed")
	return nil
}

// finishPlanChange completes a committed plan change: a standby the plan
// has no room for goes, and every node is made to match the store.
func (b *Addons) finishPlanChange(ctx context.Context, lk *jobs.Held, a store.Addon, p planChangeParams, progress func(string)) error {
	to, err := b.nodes.PlanOf(a)
	if err != nil {
		return err
	}
	err = b.jobs.UntilDone(ctx, lk, "finish the change to "+p.To, progress, func() error {
		a, err := b.store.AddonByID(ctx, a.ID)
		if err != nil {
			return err
		}
		nodes, err := b.store.NodesOfAddon(ctx, a.ID)
		if err != nil {
			return err
		}
		if _, standby, paired := pair(nodes); !to.HA && paired {
			progress("removing the standby")
			if err := b.nodes.DropNode(ctx, a, standby); err != nil {
				return err
			}
			b.jobs.CrashPoint("plan_change.standby_removed")
		}
		return b.nodes.ReconfigureReachable(ctx, a)
	})
	if err != nil {
		return err
	}
	return b.store.AddEvent(ctx, a.ID, a.Name, "plan_change.done", fmt.Sprintf("now on %s:%s, applied live", a.Service, p.To))
}

// rollbackPlanChange undoes an uncommitted plan change: the standby it added
// goes, and every node is put back on the plan the store still records.
func (b *Addons) rollbackPlanChange(ctx context.Context, lk *jobs.Held, addonID string, p planChangeParams, cause error, progress func(string)) error {
	progress("rolling back to " + p.From)
	var a store.Addon
	err := b.jobs.UntilDone(ctx, lk, "roll back the change to "+p.To, progress, func() (err error) {
		if a, err = b.store.AddonByID(ctx, addonID); err != nil {
			return err
		}
		if p.Standby != "" {
			n, err := b.store.NodeByID(ctx, p.Standby)
			switch {
			case err == nil:
				if err := b.nodes.DropNode(ctx, a, n); err != nil {
					return err
				}
			case fault.KindOf(err) != fault.NotFound:
				return err
			}
		}
		return b.nodes.ReconfigureReachable(ctx, a)
	})
	if err != nil {
		return err
	}
	b.store.AddEvent(ctx, a.ID, a.Name, "plan_change.rolled_back",
		fmt.Sprintf("still on %s:%s: the change to %s was rolled back: %s", a.Service, a.Plan, p.To, fault.Message(cause)))
	return jobs.RolledBack("plan change to "+p.To, cause)
}

// HumanBytes renders a size for messages: 25.0 MB.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "KMGTPE"[exp])
}

// upgradeAddon answers addons:upgrade: 202 and a plan_change operation.
func (b *Addons) UpgradeAddon(ctx context.Context, appName string, addonName string, req api.AddonUpdate) (api.AddonResult, error) {
	a, err := apps.Resolve(ctx, b.store, appName, addonName)
	if err != nil {
		return api.AddonResult{}, err
	}
	plan := req.Plan
	if svc, p, ok := strings.Cut(req.Plan, ":"); ok {
		if svc != a.Service {
			return api.AddonResult{}, fault.E(fault.Invalid, "%s is a %s add-on; it cannot move to %s", a.Name, a.Service, req.Plan)
		}
		plan = p
	}
	if plan == "" {
		return api.AddonResult{}, fault.E(fault.Invalid, "no plan given; use %s:PLAN", a.Service)
	}
	op, err := b.StartPlanChange(ctx, a, plan)
	if err != nil {
		return api.AddonResult{}, err
	}
	return apps.OperationResult(ctx, b.store, a, op, "")
}
