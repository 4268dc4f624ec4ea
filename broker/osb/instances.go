package osb

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"

	"larder/broker/osbsvc"
	"larder/fault"
)

type osbAsyncBody struct {
	Operation string `json:"operation,omitempty"`
}

// sameProvision reports whether a PUT asks for exactly what the instance is.
func sameProvision(in osbsvc.Instance, s provisionSpec) bool {
	r := in.Row
	return r.ServiceID == s.ServiceID && r.PlanID == s.PlanID && r.Parameters == s.Params.canonical() &&
		r.OrganizationGUID == s.OrganizationGUID && r.SpaceGUID == s.SpaceGUID
}

// provision answers PUT /v2/service_instances/:id: the add-on (and its
// owner app, if new) is recorded in one transaction and started in the
// background; the platform polls last_operation.
func (o *API) provision(r *http.Request) (int, any, error) {
	ctx := r.Context()
	id := mux.Vars(r)["instance_id"]
	async, err := acceptsIncomplete(r)
	if err == nil {
		err = checkResourceID("instance", id)
	}
	var s provisionSpec
	if err == nil {
		s, err = parseProvision(r, o.b.Catalog())
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
	if found {
		switch in.Phase {
		case osbsvc.PhaseCreating, osbsvc.PhaseReady, osbsvc.PhaseUpdating:
			if !sameProvision(in, s) {
				return 0, nil, fault.E(fault.Conflict, "service instance %s already exists with other attributes", id)
			}
			if in.Phase != osbsvc.PhaseCreating {
				return http.StatusOK, struct{}{}, nil
			}
			if !async {
				return 0, nil, asyncRequired()
			}
			return http.StatusAccepted, osbAsyncBody{Operation: in.Row.OperationID}, nil
		case osbsvc.PhaseDeleting:
			return 0, nil, concurrencyError("service instance %s is being deleted", id)
		case osbsvc.PhaseDeleteFailed:
			return 0, nil, fault.E(fault.Conflict, "service instance %s exists but its deletion failed; delete it again", id)
		}
		// Created-and-failed, deleted or forgotten: the id is free again.
	}
	if !async {
		return 0, nil, asyncRequired()
	}
	op, err := o.b.OSB.StartProvision(ctx, id, osbsvc.Provision{
		Service: s.Service.Name, Plan: s.Plan.Name, ServiceID: s.ServiceID, PlanID: s.PlanID,
		OrganizationGUID: s.OrganizationGUID, SpaceGUID: s.SpaceGUID,
		Settings: s.Params.patch(), Parameters: s.Params.canonical(), Context: s.Context, Owner: s.Owner,
	}, found, who)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, osbAsyncBody{Operation: op.ID}, nil
}

// lockInstance takes instance id's lock and reads it (LoadOSBInstance); the
// caller calls unlock, also when err is set.
func (o *API) lockInstance(ctx context.Context, id string) (in osbsvc.Instance, found bool, unlock func(), err error) {
	unlock = o.b.OSB.LockInstance(id)
	in, found, err = o.b.OSB.LoadInstance(ctx, id)
	return in, found, unlock, err
}
