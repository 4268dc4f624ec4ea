package broker

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gorilla/mux"

	"larder/api"
	"larder/catalog"
	"larder/fault"
	"larder/store"
)

// downgradeHeadroom is the share of a smaller plan's memory the data may use
// for a downgrade to be allowed: the rest absorbs writes during and after it.
const downgradeHeadroom = 0.8

// startPlanChange validates moving add-on a to plan (a short name of its
// service) and starts the change as a "plan_change" operation. Memory,
// connection and persistence changes apply live with CONFIG SET: no restart,
// no lost key. A downgrade is refused, with the figures, when the data would
// not fit the smaller plan with headroom.
func (b *Broker) startPlanChange(ctx context.Context, a store.Addon, plan string) (store.Operation, error) {
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
	op := store.Operation{AddonID: a.ID, AddonName: a.Name, Kind: "plan_change", State: api.OpPending}
	err = b.store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.CreateOperation(ctx, &op); err != nil {
			return err
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "plan_change.request", fmt.Sprintf("%s → %s", from.Name, to.Name))
	})
	if err != nil {
		return store.Operation{}, err
	}
	b.jobs.Run(b.store, op, b.planChangeStep(a.ID, to.Name))
	return op, nil
}

// checkFits refuses a downgrade whose data would not fit plan with headroom.
func (b *Broker) checkFits(ctx context.Context, a store.Addon, to *catalog.Plan) error {
	nodes, specs, err := b.specsOf(ctx, b.store.Q, a)
	if err != nil {
		return err
	}
	for i, n := range nodes {
		if n.Role != store.RolePrimary {
			continue
		}
		info, err := b.hostFor(n).Info(ctx, specs[i])
		if err != nil {
			return fault.Wrap(fault.Unavailable, err, "cannot read the data size of "+a.Name)
		}
		limit := int64(float64(to.MaxMemoryBytes) * downgradeHeadroom)
		if info.UsedMemoryBytes > limit {
			return fault.E(fault.Invalid, "%s uses %s; %s:%s allows %s, and a downgrade needs the data below %s (%.0f%%); delete data or pick a larger plan",
				a.Name, humanBytes(info.UsedMemoryBytes), a.Service, to.Name, humanBytes(to.MaxMemoryBytes), humanBytes(limit), downgradeHeadroom*100)
		}
	}
	return nil
}

// planChangeStep applies the new plan to every node live, then records it.
func (b *Broker) planChangeStep(addonID, plan string) step {
	return func(ctx context.Context, progress func(string)) error {
		unlock := b.locks.lock(addonID)
		defer unlock()
		a, err := b.store.AddonByID(ctx, addonID)
		if err != nil {
			return err
		}
		next := a
		next.Plan = plan
		to, err := b.planOf(next)
		if err != nil {
			return err
		}
		progress("applying " + plan + " to the running nodes")
		if err := b.reconfigure(ctx, a, next); err != nil {
			return err
		}
		if err := b.store.SetAddonPlan(ctx, a.ID, plan); err != nil {
			return err
		}
		nodes, err := b.store.NodesOfAddon(ctx, a.ID)
		if err != nil {
			return err
		}
		_, standby, paired := pair(nodes)
		switch {
		case to.HA && !paired:
			progress("adding a standby")
			if _, err := b.addStandby(ctx, next, progress); err != nil {
				return err
			}
		case !to.HA && paired:
			progress("removing the standby")
			if err := b.removeStandby(ctx, next, standby); err != nil {
				return err
			}
		}
		return b.store.AddEvent(ctx, a.ID, a.Name, "plan_change.done", fmt.Sprintf("now on %s:%s, applied live", a.Service, plan))
	}
}

// addStandby gives a single-node add-on a standby on another host than the
// primary's and those in avoid (when there is one), waits until it is in sync,
// and rewrites the primary's files so it knows its standby. It returns the new
// standby.
func (b *Broker) addStandby(ctx context.Context, a store.Addon, progress func(string), avoid ...string) (store.Node, error) {
	nodes, err := b.store.NodesOfAddon(ctx, a.ID)
	if err != nil {
		return store.Node{}, err
	}
	primary, ok := primaryNode(nodes)
	if !ok {
		return store.Node{}, fault.E(fault.Unavailable, "%s has no running primary", a.Name)
	}
	hosts, err := b.placeHosts(ctx, b.store.Q, 8)
	if err != nil {
		return store.Node{}, err
	}
	pick := hosts[0]
	for _, h := range hosts {
		if h != primary.Host && !slices.Contains(avoid, h) {
			pick = h
			break
		}
	}
	var nn store.Node
	err = b.store.InTx(ctx, func(tx *store.Tx) error {
		nn, err = b.claimNode(ctx, tx, a, store.RoleStandby, pick)
		return err
	})
	if err != nil {
		return store.Node{}, err
	}
	if nn, err = b.checkPort(ctx, nn); err != nil {
		b.store.DeleteNode(context.WithoutCancel(ctx), nn.ID)
		return store.Node{}, err
	}
	progress("starting the new standby on " + pick)
	nodes, specs, err := b.specsOf(ctx, b.store.Q, a)
	if err != nil {
		return store.Node{}, err
	}
	for i, n := range nodes {
		if n.ID != nn.ID {
			continue
		}
		pn, err := b.hostFor(n).Start(ctx, specs[i])
		if err != nil {
			b.store.DeleteNode(context.WithoutCancel(ctx), nn.ID)
			return store.Node{}, fault.Wrap(fault.Unavailable, err, "start the new standby of "+a.Name)
		}
		if err := b.store.UpdateNodeRuntime(ctx, n.ID, pn.Addr, pn.Dir, pn.PID, startedState(n)); err != nil {
			return store.Node{}, err
		}
	}
	if err := b.waitStandbys(ctx, a, nodes, progress); err != nil {
		return store.Node{}, err
	}
	b.rewriteNodeFiles(ctx, a)
	return nn, nil
}

// removeStandby stops and deletes a pair's standby; the primary carries on.
func (b *Broker) removeStandby(ctx context.Context, a store.Addon, standby store.Node) error {
	specs, err := b.nodeSpecs(ctx, b.store.Q, a, []store.Node{standby})
	if err != nil {
		return err
	}
	if err := b.hostFor(standby).Remove(ctx, specs[0]); err != nil && b.hosts.isUp(standby.Host) {
		return fault.Wrap(fault.Unavailable, err, "remove the standby of "+a.Name)
	}
	if err := b.store.DeleteNode(ctx, standby.ID); err != nil {
		return err
	}
	b.rewriteNodeFiles(ctx, a)
	return nil
}

// humanBytes renders a size for messages: 25.0 MB.
func humanBytes(n int64) string {
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
func (b *Broker) upgradeAddon(r *http.Request) (int, any, error) {
	ctx := r.Context()
	var req api.AddonUpdate
	if err := decodeBody(r, &req, false); err != nil {
		return 0, nil, err
	}
	a, err := b.resolveAddon(ctx, b.store.Q, mux.Vars(r)["app"], mux.Vars(r)["addon"])
	if err != nil {
		return 0, nil, err
	}
	plan := req.Plan
	if svc, p, ok := strings.Cut(req.Plan, ":"); ok {
		if svc != a.Service {
			return 0, nil, fault.E(fault.Invalid, "%s is a %s add-on; it cannot move to %s", a.Name, a.Service, req.Plan)
		}
		plan = p
	}
	if plan == "" {
		return 0, nil, fault.E(fault.Invalid, "no plan given; use %s:PLAN", a.Service)
	}
	op, err := b.startPlanChange(ctx, a, plan)
	if err != nil {
		return 0, nil, err
	}
	j, err := addonJSON(ctx, b.store.Q, a)
	if err != nil {
		return 0, nil, err
	}
	apiOp := operationJSON(op)
	return http.StatusAccepted, api.AddonResult{Addon: j, Operation: &apiOp}, nil
}
