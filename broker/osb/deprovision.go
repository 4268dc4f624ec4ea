package osb

import (
	"net/http"

	"github.com/gorilla/mux"

	"larder/broker/osbsvc"
	"larder/fault"
)

// deprovision answers DELETE /v2/service_instances/:id: the add-on's
// attachments go at once and its nodes are stopped and deleted in the
// background, by larder's destroy machinery. A delete during the provision
// waits for it to end, then destroys what it made.
func (o *API) deprovision(r *http.Request) (int, any, error) {
	ctx := r.Context()
	id := mux.Vars(r)["instance_id"]
	async, serviceID, err := deleteRequest(r)
	if err != nil {
		return 0, nil, err
	}
	who, _ := originOf(r)
	in, found, unlock, err := o.lockInstance(ctx, id)
	defer unlock()
	if err != nil {
		return 0, nil, err
	}
	if !found || in.Phase == osbsvc.PhaseDeleted || in.Phase == osbsvc.PhaseForgotten {
		return gone()
	}
	if serviceID != in.Row.ServiceID {
		return 0, nil, fault.E(fault.BadRequest, "service_id does not match the service of instance %s", id)
	}
	switch in.Phase {
	case osbsvc.PhaseCreateFailed:
		// The failed create was rolled back, so nothing is left to stop: done
		// now. (If the roll-back left the add-on, it is destroyed as usual.)
		if in.Addon == nil {
			if err := o.b.OSB.MarkInstanceDeleted(ctx, id); err != nil {
				return 0, nil, err
			}
			return http.StatusOK, struct{}{}, nil
		}
	case osbsvc.PhaseUpdating:
		return 0, nil, concurrencyError("service instance %s is being updated; delete it once last_operation says succeeded", id)
	case osbsvc.PhaseDeleting:
		if in.Row.OperationKind != osbsvc.OpDeprovision {
			return 0, nil, concurrencyError("service instance %s is being destroyed by larder", id)
		}
		if !async {
			return 0, nil, asyncRequired()
		}
		return http.StatusAccepted, osbAsyncBody{Operation: in.Row.OperationID}, nil
	}
	if !async {
		return 0, nil, asyncRequired()
	}
	if in.Addon == nil { // a create still rolling back
		return 0, nil, concurrencyError("service instance %s is still being created", id)
	}
	op, err := o.b.OSB.StartDeprovision(ctx, in, who)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, osbAsyncBody{Operation: op.ID}, nil
}
