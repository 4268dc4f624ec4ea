package osb

import (
	"net/http"

	"github.com/gorilla/mux"

	"larder/api"
	"larder/broker/osbsvc"
	"larder/broker/settings"
	"larder/fault"
	"larder/store"
)

// This file holds what happens to an instance after its creation, but for
// its deletion (deprovision.go): fetch, update and last_operation.

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

// getInstance answers GET /v2/service_instances/:id: 404 while it is
// being created, 422 ConcurrencyError while it is being updated.
func (o *API) getInstance(r *http.Request) (int, any, error) {
	id := mux.Vars(r)["instance_id"]
	in, found, err := o.b.OSB.LoadInstance(r.Context(), id)
	if err != nil {
		return 0, nil, err
	}
	switch {
	case !found, in.Addon == nil, in.Phase == osbsvc.PhaseCreating, in.Phase == osbsvc.PhaseCreateFailed,
		in.Phase == osbsvc.PhaseDeleted, in.Phase == osbsvc.PhaseForgotten:
		return 0, nil, fault.E(fault.NotFound, "no service instance %s", id)
	case in.Phase == osbsvc.PhaseUpdating:
		return 0, nil, concurrencyError("service instance %s is being updated; fetch it once last_operation says succeeded", id)
	}
	a := in.Addon
	return http.StatusOK, osbInstanceBody{
		ServiceID: in.Row.ServiceID, PlanID: osbPlanID(a.Service, a.Plan),
		Parameters:      map[string]any{"maxmemory_policy": a.MaxMemoryPolicy, "timeout": a.Timeout},
		MaintenanceInfo: maintenanceInfo(),
		Metadata: osbMetadata{Labels: map[string]string{},
			Attributes: map[string]string{"addon": a.Name, "app": a.AppName, "state": a.State}},
	}, nil
}

// update answers PATCH /v2/service_instances/:id. Parameters apply live
// and at once (200); a plan change runs as larder's plan_change operation
// (202). Either all of the change happens or none of it.
func (o *API) update(r *http.Request) (int, any, error) {
	ctx := r.Context()
	id := mux.Vars(r)["instance_id"]
	async, err := acceptsIncomplete(r)
	var s updateSpec
	if err == nil {
		s, err = parseUpdate(r, o.b.Catalog())
	}
	if err != nil {
		return 0, nil, err
	}
	who, _ := originOf(r)
	in, found, unlock, err := o.lockInstance(ctx, id)
	defer unlock()
	if err != nil {
		return 0, nil, err
	}
	if !found || in.Addon == nil || in.Phase == osbsvc.PhaseCreateFailed || in.Phase == osbsvc.PhaseDeleted || in.Phase == osbsvc.PhaseForgotten {
		return 0, nil, fault.E(fault.NotFound, "no service instance %s", id)
	}
	if s.ServiceID != in.Row.ServiceID {
		return 0, nil, fault.E(fault.BadRequest, "service_id does not match the service of instance %s", id)
	}
	a := *in.Addon
	planID := in.Row.PlanID
	if s.Plan != nil {
		planID = osbPlanID(a.Service, s.Plan.Name)
	}
	params := paramsFromJSON(in.Row.Parameters)
	if s.Params != nil {
		params = params.merge(*s.Params)
	}
	switch in.Phase {
	case osbsvc.PhaseCreating:
		return 0, nil, concurrencyError("service instance %s is still being created", id)
	case osbsvc.PhaseDeleting, osbsvc.PhaseDeleteFailed:
		return 0, nil, concurrencyError("service instance %s is being deleted", id)
	case osbsvc.PhaseUpdating:
		// The same PATCH again gets the running operation; another one waits.
		if planID != in.Row.PlanID || params.canonical() != in.Row.Parameters {
			return 0, nil, concurrencyError("service instance %s is being updated; retry once last_operation says succeeded", id)
		}
		if !async {
			return 0, nil, asyncRequired()
		}
		return http.StatusAccepted, osbAsyncBody{Operation: in.Row.OperationID}, nil
	}
	if a.State != api.StateProvisioned {
		return 0, nil, osbErr(http.StatusUnprocessableEntity, "InstanceNotAvailable", "service instance %s is %s (%s); it cannot be changed until it is available", id, a.State, a.StateReason)
	}
	plan := a.Plan
	if s.Plan != nil {
		plan = s.Plan.Name
	}
	var patch api.SettingsPatch
	if s.Params != nil && !s.Params.empty() {
		next, err := settings.ApplySettings(a, s.Params.patch())
		if err != nil {
			return 0, nil, fault.E(fault.BadRequest, "%s", fault.Message(err))
		}
		if next.MaxMemoryPolicy != a.MaxMemoryPolicy || next.Timeout != a.Timeout {
			patch = s.Params.patch()
		}
	}
	planChange := plan != a.Plan
	if planChange && !async {
		return 0, nil, asyncRequired()
	}
	ctxJSON := in.Row.Context
	if s.Context != "" {
		ctxJSON = s.Context
	}
	op, err := o.b.OSB.UpdateInstance(ctx, osbsvc.Update{InstanceID: id, Addon: a, Plan: plan, Settings: patch,
		PlanID: planID, Parameters: params.canonical(), Context: ctxJSON}, who)
	if err != nil {
		return 0, nil, err
	}
	if planChange {
		return http.StatusAccepted, osbAsyncBody{Operation: op.ID}, nil
	}
	return http.StatusOK, struct{}{}, nil
}

type osbLastOperationBody struct {
	State            string `json:"state"`
	Description      string `json:"description"`
	InstanceUsable   *bool  `json:"instance_usable,omitempty"`
	UpdateRepeatable *bool  `json:"update_repeatable,omitempty"`
}

// instanceLastOperation answers GET …/last_operation: the state of the
// instance's last operation (or of the one named by ?operation=), 410 once a
// deletion is forgotten, 404 for an id never seen.
func (o *API) instanceLastOperation(r *http.Request) (int, any, error) {
	ctx := r.Context()
	id := mux.Vars(r)["instance_id"]
	in, found, err := o.b.OSB.LoadInstance(ctx, id)
	switch {
	case err != nil:
		return 0, nil, err
	case !found:
		return 0, nil, fault.E(fault.NotFound, "no service instance %s", id)
	case in.Phase == osbsvc.PhaseForgotten:
		return gone()
	case in.Phase == osbsvc.PhaseDeleted:
		return http.StatusOK, osbLastOperationBody{State: api.OpSucceeded, Description: "deleted"}, nil
	}
	op := in.Op
	// The operation value is the one an answer returned; a value the broker
	// never returned (both public OSB checkers poll with a literal
	// "provision", "update" or "deprovision") means the instance's latest.
	if want := r.URL.Query().Get("operation"); want != "" && want != in.Row.OperationID {
		if o, err := o.b.Store().OperationByID(ctx, want); err == nil && o.AddonID == in.Row.AddonID {
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
