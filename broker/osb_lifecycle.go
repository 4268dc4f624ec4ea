package broker

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"
	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/fault"
	"larder/store"
)

// This file holds what happens to an instance after its creation, but for
// its deletion (osb_deprovision.go): fetch, update and last_operation.

type osbInstanceBody struct {
	ServiceID       string              `json:"service_id"`
	PlanID          string              `json:"plan_id"`
	Parameters      map[string]any      `json:"parameters"`
	MaintenanceInfo *osbMaintenanceInfo `json:"maintenance_info,omitempty"`
	Metadata        osbMetadata         `json:"metadata"`
}

type osbMetadata struct {
	Labels     map[string]string `json:"labels"`
	Attributes map[string]string `json:"attributes"`
}

// osbGetInstance answers GET /v2/service_instances/:id: 404 while it is
// being created, 422 ConcurrencyError while it is being updated.
func (b *Broker) osbGetInstance(r *http.Request) (int, any, error) {
	id := mux.Vars(r)["instance_id"]
	in, found, err := b.loadOSBInstance(r.Context(), id)
	if err != nil {
		return 0, nil, err
	}
	switch {
	case !found, in.addon == nil, in.phase == phaseCreating, in.phase == phaseCreateFailed,
		in.phase == phaseDeleted, in.phase == phaseForgotten:
		return 0, nil, fault.E(fault.NotFound, "no service instance %s", id)
	case in.phase == phaseUpdating:
		return 0, nil, concurrencyError("service instance %s is being updated; fetch it once last_operation says succeeded", id)
	}
	a := in.addon
	return http.StatusOK, osbInstanceBody{
		ServiceID: in.row.ServiceID, PlanID: osbPlanID(a.Service, a.Plan),
		Parameters:      map[string]any{"maxmemory_policy": a.MaxMemoryPolicy, "timeout": a.Timeout},
		MaintenanceInfo: maintenanceInfo(),
		Metadata: osbMetadata{Labels: map[string]string{},
			Attributes: map[string]string{"addon": a.Name, "app": a.AppName, "state": a.State}},
	}, nil
}

// osbUpdate answers PATCH /v2/service_instances/:id. Parameters apply live
// and at once (200); a plan change runs as larder's plan_change operation
// (202). Either all of the change happens or none of it.
func (b *Broker) osbUpdate(r *http.Request) (int, any, error) {
	ctx := r.Context()
	id := mux.Vars(r)["instance_id"]
	async, err := acceptsIncomplete(r)
	var s updateSpec
	if err == nil {
		s, err = parseUpdate(r, b.cfg.Catalog)
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
	if !found || in.addon == nil || in.phase == phaseCreateFailed || in.phase == phaseDeleted || in.phase == phaseForgotten {
		return 0, nil, fault.E(fault.NotFound, "no service instance %s", id)
	}
	if s.ServiceID != in.row.ServiceID {
		return 0, nil, fault.E(fault.BadRequest, "service_id does not match the service of instance %s", id)
	}
	a := *in.addon
	planID := in.row.PlanID
	if s.Plan != nil {
		planID = osbPlanID(a.Service, s.Plan.Name)
	}
	params := paramsFromJSON(in.row.Parameters)
	if s.Params != nil {
		params = params.merge(*s.Params)
	}
	switch in.phase {
	case phaseCreating:
		return 0, nil, concurrencyError("service instance %s is still being created", id)
	case phaseDeleting, phaseDeleteFailed:
		return 0, nil, concurrencyError("service instance %s is being deleted", id)
	case phaseUpdating:
		// The same PATCH again gets the running operation; another one waits.
		if planID != in.row.PlanID || params.canonical() != in.row.Parameters {
			return 0, nil, concurrencyError("service instance %s is being updated; retry once last_operation says succeeded", id)
		}
		if !async {
			return 0, nil, asyncRequired()
		}
		return http.StatusAccepted, osbAsyncBody{Operation: in.row.OperationID}, nil
	}
	if a.State != api.StateProvisioned {
		return 0, nil, osbErr(http.StatusUnprocessableEntity, "InstanceNotAvailable",
			"service instance %s is %s (%s); it cannot be changed until it is available", id, a.State, a.StateReason)
	}
	plan := a.Plan
	if s.Plan != nil {
		plan = s.Plan.Name
	}
	var patch api.SettingsPatch
	if s.Params != nil && !s.Params.empty() {
		next, err := applySettings(a, s.Params.patch())
		if err != nil {
			return 0, nil, fault.E(fault.BadRequest, "%s", fault.Message(err))
		}
		if next.MaxMemoryPolicy != a.MaxMemoryPolicy || next.Timeout != a.Timeout {
			patch = s.Params.patch()
		}
	}
	settingsChange := patch.MaxMemoryPolicy != nil || patch.Timeout != nil
	planChange := plan != a.Plan
	if planChange && !async {
		return 0, nil, asyncRequired()
	}
	op, err := b.applyOSBUpdate(ctx, a, plan, planChange, patch, settingsChange)
	if err != nil {
		return 0, nil, err
	}
	ctxJSON := in.row.Context
	if s.Context != "" {
		ctxJSON = s.Context
	}
	err = b.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.SetOSBInstanceRequest(ctx, id, planID, params.canonical(), ctxJSON); err != nil {
			return err
		}
		if planChange {
			if err := tx.SetOSBInstanceOperation(ctx, id, op.ID, osbOpUpdate); err != nil {
				return err
			}
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "osb.update", "service instance "+safeText(id)+" updated"+byWhom(who))
	})
	if err != nil {
		return 0, nil, err
	}
	if planChange {
		b.log.WithFields(logrus.Fields{"addon": a.Name, "instance": id, "plan": plan}).Info("changing plan of service instance")
		return http.StatusAccepted, osbAsyncBody{Operation: op.ID}, nil
	}
	return http.StatusOK, struct{}{}, nil
}

// applyOSBUpdate applies the settings (live, at once), then starts the plan
// change. When the plan change is refused the settings are put back, so a
// refused update changes nothing.
func (b *Broker) applyOSBUpdate(ctx context.Context, a store.Addon, plan string, planChange bool, patch api.SettingsPatch, settingsChange bool) (store.Operation, error) {
	if settingsChange {
		if _, err := b.changeSettings(ctx, a.ID, patch); err != nil {
			return store.Operation{}, err
		}
	}
	if !planChange {
		return store.Operation{}, nil
	}
	op, err := b.startPlanChange(ctx, a, plan)
	if err == nil {
		return op, nil
	}
	if settingsChange {
		old := api.SettingsPatch{MaxMemoryPolicy: &a.MaxMemoryPolicy, Timeout: &a.Timeout}
		if _, rerr := b.changeSettings(context.WithoutCancel(ctx), a.ID, old); rerr != nil {
			b.log.WithError(rerr).WithField("addon", a.Name).Error("put back settings after a refused plan change")
		}
	}
	if fault.KindOf(err) == fault.Invalid {
		return store.Operation{}, osbErr(http.StatusUnprocessableEntity, "PlanChangeNotSupported", "%s", fault.Message(err))
	}
	return store.Operation{}, err
}

type osbLastOperationBody struct {
	State            string `json:"state"`
	Description      string `json:"description"`
	InstanceUsable   *bool  `json:"instance_usable,omitempty"`
	UpdateRepeatable *bool  `json:"update_repeatable,omitempty"`
}

// osbInstanceLastOperation answers GET …/last_operation: the state of the
// instance's last operation (or of the one named by ?operation=), 410 once a
// deletion is forgotten, 404 for an id never seen.
func (b *Broker) osbInstanceLastOperation(r *http.Request) (int, any, error) {
	ctx := r.Context()
	id := mux.Vars(r)["instance_id"]
	in, found, err := b.loadOSBInstance(ctx, id)
	switch {
	case err != nil:
		return 0, nil, err
	case !found:
		return 0, nil, fault.E(fault.NotFound, "no service instance %s", id)
	case in.phase == phaseForgotten:
		return gone()
	case in.phase == phaseDeleted:
		return http.StatusOK, osbLastOperationBody{State: api.OpSucceeded, Description: "deleted"}, nil
	}
	op := in.op
	// The operation value is the one an answer returned; a value the broker
	// never returned (both public OSB checkers poll with a literal
	// "provision", "update" or "deprovision") means the instance's latest.
	if want := r.URL.Query().Get("operation"); want != "" && want != in.row.OperationID {
		if o, err := b.store.OperationByID(ctx, want); err == nil && o.AddonID == in.row.AddonID {
			op = &o
		}
	}
	if op == nil {
		return 0, nil, fault.E(fault.NotFound, "service instance %s has no operation", id)
	}
	return http.StatusOK, lastOperationOf(*op), nil
}

const osbInProgress = "in progress"

// lastOperationOf renders a larder operation as an OSB last operation.
func lastOperationOf(op store.Operation) osbLastOperationBody {
	yes, no := true, false
	switch op.State {
	case api.OpSucceeded:
		return osbLastOperationBody{State: api.OpSucceeded, Description: op.Kind + " of " + op.AddonName + " succeeded"}
	case api.OpFailed:
		body := osbLastOperationBody{State: api.OpFailed, Description: firstNonEmpty(op.Error, op.Kind+" failed")}
		switch op.Kind {
		case "deprovision":
			body.InstanceUsable = &no
		case "plan_change":
			body.InstanceUsable, body.UpdateRepeatable = &yes, &yes
		}
		return body
	}
	return osbLastOperationBody{State: osbInProgress, Description: op.Kind + " of " + op.AddonName + ": " + firstNonEmpty(op.Progress, "queued")}
}
