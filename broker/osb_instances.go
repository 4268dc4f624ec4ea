package broker

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"
	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/catalog"
	"larder/fault"
	"larder/store"
)

// OSB operation kinds, as recorded on an instance.
const (
	osbOpProvision   = "provision"
	osbOpUpdate      = "update"
	osbOpDeprovision = "deprovision"
)

// osbPhase is where an instance stands, as the spec's rules need it. It is
// derived from the instance row, its last operation and its add-on, so it is
// right even after a broker restart resumed (or finished) the work.
type osbPhase int

const (
	phaseCreating     osbPhase = iota // provision running
	phaseCreateFailed                 // provision failed; the add-on was rolled back
	phaseReady                        // provisioned and idle
	phaseUpdating                     // plan change running
	phaseDeleting                     // deprovision running (or a larder destroy)
	phaseDeleteFailed                 // deprovision failed; the add-on is still there
	phaseDeleted                      // gone; remembered until the retention passes
	phaseForgotten                    // gone; only the id is left
)

func opDone(op store.Operation) bool { return op.State == api.OpSucceeded || op.State == api.OpFailed }

// osbPhaseOf works out an instance's phase. op is its last OSB operation and
// addon its add-on; either is nil when it no longer exists.
func osbPhaseOf(row store.OSBInstance, op *store.Operation, addon *store.Addon) osbPhase {
	switch row.State {
	case store.OSBForgotten:
		return phaseForgotten
	case store.OSBDeleted:
		return phaseDeleted
	}
	running := op != nil && !opDone(*op)
	failed := op != nil && op.State == api.OpFailed
	switch row.OperationKind {
	case osbOpDeprovision:
		switch {
		case running:
			return phaseDeleting
		case failed && addon != nil:
			return phaseDeleteFailed
		}
		return phaseDeleted
	case osbOpProvision:
		switch {
		case running:
			return phaseCreating
		case failed:
			return phaseCreateFailed
		}
	}
	switch {
	case addon == nil:
		return phaseDeleted // destroyed outside OSB (larder addons:destroy)
	case addon.State == api.StateDeprovisioning:
		return phaseDeleting
	case row.OperationKind == osbOpUpdate && running:
		return phaseUpdating
	}
	return phaseReady
}

// osbInstance is an instance with what its phase was derived from.
type osbInstance struct {
	row   store.OSBInstance
	op    *store.Operation
	addon *store.Addon
	phase osbPhase
}

// forgetOSB reduces deletions older than the retention to their ids.
func (b *Broker) forgetOSB(ctx context.Context) error {
	return b.store.ForgetOSB(ctx, b.osbNow().Add(-b.osbConfig().Retention))
}

// loadOSBInstance reads an instance; found is false for an id never seen. A
// deletion that finished since the last look (e.g. resumed after a restart) is
// recorded here.
func (b *Broker) loadOSBInstance(ctx context.Context, id string) (in osbInstance, found bool, err error) {
	if err := b.forgetOSB(ctx); err != nil {
		return in, false, err
	}
	if in.row, err = b.store.OSBInstanceByID(ctx, id); err != nil {
		if fault.KindOf(err) == fault.NotFound {
			return in, false, nil
		}
		return in, false, err
	}
	if in.row.OperationID != "" {
		op, err := b.store.OperationByID(ctx, in.row.OperationID)
		if err != nil && fault.KindOf(err) != fault.NotFound {
			return in, true, err
		}
		if err == nil {
			in.op = &op
		}
	}
	if in.row.State == store.OSBActive {
		a, err := b.store.AddonByID(ctx, in.row.AddonID)
		if err != nil && fault.KindOf(err) != fault.NotFound {
			return in, true, err
		}
		if err == nil {
			in.addon = &a
		}
	}
	in.phase = osbPhaseOf(in.row, in.op, in.addon)
	if in.phase == phaseDeleted && in.row.State == store.OSBActive {
		at := b.osbNow()
		if in.op != nil && in.row.OperationKind == osbOpDeprovision && in.op.State == api.OpSucceeded {
			at = in.op.UpdatedAt
		}
		if err := b.store.MarkOSBInstanceDeleted(ctx, id, at); err != nil {
			return in, true, err
		}
		in.row.State, in.row.DeletedAt = store.OSBDeleted, &at
		if at.Before(b.osbNow().Add(-b.osbConfig().Retention)) {
			in.phase = phaseForgotten
		}
	}
	return in, true, nil
}

// osbLockKey serialises OSB requests on one instance (and its bindings).
func osbLockKey(instanceID string) string { return "osb-instance:" + instanceID }

type osbAsyncBody struct {
	Operation string `json:"operation,omitempty"`
}

// sameProvision reports whether a PUT asks for exactly what the instance is.
func (in osbInstance) sameProvision(s provisionSpec) bool {
	r := in.row
	return r.ServiceID == s.ServiceID && r.PlanID == s.PlanID && r.Parameters == s.Params.canonical() &&
		r.OrganizationGUID == s.OrganizationGUID && r.SpaceGUID == s.SpaceGUID
}

// osbProvision answers PUT /v2/service_instances/:id: the add-on (and its
// owner app, if new) is recorded in one transaction and started in the
// background; the platform polls last_operation.
func (b *Broker) osbProvision(r *http.Request) (int, any, error) {
	ctx := r.Context()
	id := mux.Vars(r)["instance_id"]
	async, err := acceptsIncomplete(r)
	if err == nil {
		err = checkResourceID("instance", id)
	}
	var s provisionSpec
	if err == nil {
		s, err = parseProvision(r, b.cfg.Catalog)
	}
	if err != nil {
		return 0, nil, err
	}
	who, _ := originOf(r)
	unlock := b.locks.lock(osbLockKey(id))
	defer unlock()
	in, found, err := b.loadOSBInstance(ctx, id)
	if err != nil {
		return 0, nil, err
	}
	if found {
		switch in.phase {
		case phaseCreating, phaseReady, phaseUpdating:
			if !in.sameProvision(s) {
				return 0, nil, fault.E(fault.Conflict, "service instance %s already exists with other attributes", id)
			}
			if in.phase != phaseCreating {
				return http.StatusOK, struct{}{}, nil
			}
			if !async {
				return 0, nil, asyncRequired()
			}
			return http.StatusAccepted, osbAsyncBody{Operation: in.row.OperationID}, nil
		case phaseDeleting:
			return 0, nil, concurrencyError("service instance %s is being deleted", id)
		case phaseDeleteFailed:
			return 0, nil, fault.E(fault.Conflict, "service instance %s exists but its deletion failed; delete it again", id)
		}
		// Created-and-failed, deleted or forgotten: the id is free again.
	}
	if !async {
		return 0, nil, asyncRequired()
	}
	a, op, err := b.recordOSBInstance(ctx, id, s, found, who)
	if err != nil {
		return 0, nil, err
	}
	b.log.WithFields(logrus.Fields{"addon": a.Name, "app": a.AppName, "plan": s.Plan.Name, "instance": id}).Info("provisioning service instance")
	b.jobs.Run(b.store, op, b.provisionStep(a.ID, false))
	return http.StatusAccepted, osbAsyncBody{Operation: op.ID}, nil
}

// recordOSBInstance records, in one transaction, the owner app when it is
// new, the add-on with its node and provision operation (as addons:create
// does), the settings the parameters ask for, and the instance row.
func (b *Broker) recordOSBInstance(ctx context.Context, id string, s provisionSpec, replace bool, who string) (store.Addon, store.Operation, error) {
	var a store.Addon
	var op store.Operation
	err := b.store.InTx(ctx, func(tx store.Tx) error {
		if replace {
			if err := tx.DeleteOSBInstance(ctx, id); err != nil {
				return err
			}
		}
		if _, err := tx.EnsureApp(ctx, s.Owner); err != nil {
			return err
		}
		policy := catalog.DefaultMaxMemoryPolicy
		if s.Params.MaxMemoryPolicy != nil {
			policy = *s.Params.MaxMemoryPolicy
		}
		var err error
		a, op, err = b.recordAddonTx(ctx, tx, s.Owner, osbAddonName(id), "", s.Service.Name, s.Plan.Name, policy)
		if err != nil {
			return err
		}
		if s.Params.Timeout != nil && *s.Params.Timeout != a.Timeout {
			a.Timeout = *s.Params.Timeout
			if err := tx.UpdateAddonSettings(ctx, a.ID, a.MaxMemoryPolicy, a.Timeout, a.NotifyKeyspaceEvents); err != nil {
				return err
			}
		}
		row := store.OSBInstance{
			InstanceID: id, AddonID: a.ID, ServiceID: s.ServiceID, PlanID: s.PlanID,
			OrganizationGUID: s.OrganizationGUID, SpaceGUID: s.SpaceGUID,
			Parameters: s.Params.canonical(), Context: orEmptyObject(s.Context),
			OperationID: op.ID, OperationKind: osbOpProvision,
		}
		if err := tx.CreateOSBInstance(ctx, &row); err != nil {
			return err
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "osb.provision", "service instance "+safeText(id)+" requested"+byWhom(who))
	})
	return a, op, err
}

// byWhom renders an originating identity for an event line.
func byWhom(who string) string {
	if who == "" {
		return " (no originating identity)"
	}
	return " by " + who
}

func orEmptyObject(s string) string {
	if s == "" {
		return "{}"
	}
	return s
}
