package broker

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/fault"
	"larder/store"
)

// osbDeprovision answers DELETE /v2/service_instances/:id: the add-on's
// attachments go at once and its nodes are stopped and deleted in the
// background, by larder's destroy machinery. A delete during the provision
// waits for it to end, then destroys what it made.
func (b *Broker) osbDeprovision(r *http.Request) (int, any, error) {
	ctx := r.Context()
	id := mux.Vars(r)["instance_id"]
	async, err := acceptsIncomplete(r)
	var serviceID string
	if err == nil {
		serviceID, _, err = deleteQuery(r)
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
	if !found || in.phase == phaseDeleted || in.phase == phaseForgotten {
		return gone()
	}
	if serviceID != in.row.ServiceID {
		return 0, nil, fault.E(fault.BadRequest, "service_id does not match the service of instance %s", id)
	}
	switch in.phase {
	case phaseCreateFailed:
		// The failed create was rolled back, so nothing is left to stop: done
		// now. (If the roll-back left the add-on, it is destroyed as usual.)
		if in.addon == nil {
			if err := b.store.MarkOSBInstanceDeleted(ctx, id, b.osbNow()); err != nil {
				return 0, nil, err
			}
			return http.StatusOK, struct{}{}, nil
		}
	case phaseUpdating:
		return 0, nil, concurrencyError("service instance %s is being updated; delete it once last_operation says succeeded", id)
	case phaseDeleting:
		if in.row.OperationKind != osbOpDeprovision {
			return 0, nil, concurrencyError("service instance %s is being destroyed by larder", id)
		}
		if !async {
			return 0, nil, asyncRequired()
		}
		return http.StatusAccepted, osbAsyncBody{Operation: in.row.OperationID}, nil
	}
	if !async {
		return 0, nil, asyncRequired()
	}
	if in.addon == nil { // a create still rolling back
		return 0, nil, concurrencyError("service instance %s is still being created", id)
	}
	op, err := b.startOSBDeprovision(ctx, in, who)
	if err != nil {
		return 0, nil, err
	}
	b.log.WithFields(logrus.Fields{"addon": in.addon.Name, "instance": id}).Info("deprovisioning service instance")
	return http.StatusAccepted, osbAsyncBody{Operation: op.ID}, nil
}

// osbDestroyReason is the event line of a destroy asked through OSB.
const osbDestroyReason = "destroy requested through the service broker API"

// startOSBDeprovision records a deprovision operation and starts it. When the
// provision still runs, the add-on is left as it is until it ends.
func (b *Broker) startOSBDeprovision(ctx context.Context, in osbInstance, who string) (store.Operation, error) {
	a := *in.addon
	waitFor := ""
	if in.phase == phaseCreating {
		waitFor = in.row.OperationID
	}
	op := store.Operation{AddonID: a.ID, AddonName: a.Name, Kind: "deprovision", State: api.OpPending}
	b.jobs.lease(&op)
	err := b.store.InTx(ctx, func(tx store.Tx) error {
		if waitFor == "" {
			if err := beginDestroy(ctx, tx, a, osbDestroyReason); err != nil {
				return err
			}
		}
		if err := tx.CreateOperation(ctx, &op); err != nil {
			return err
		}
		if err := tx.SetOSBInstanceOperation(ctx, in.row.InstanceID, op.ID, osbOpDeprovision); err != nil {
			return err
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "osb.deprovision", "service instance "+safeText(in.row.InstanceID)+" deleted"+byWhom(who))
	})
	if err != nil {
		return op, err
	}
	b.jobs.Run(b.store, op, b.osbDeprovisionStep(in.row.InstanceID, a.ID, waitFor))
	return op, nil
}

// osbDeprovisionStep is deprovisionStep, after the provision waitFor (if
// any) has ended, and followed by recording the instance as deleted.
func (b *Broker) osbDeprovisionStep(instanceID, addonID, waitFor string) step {
	destroy := b.deprovisionStep(addonID)
	return func(ctx context.Context, progress func(string)) error {
		if waitFor != "" {
			progress("waiting for the provision to end")
			if err := b.waitOperation(ctx, waitFor); err != nil {
				return err
			}
			err := b.store.InTx(ctx, func(tx store.Tx) error {
				a, err := tx.AddonByID(ctx, addonID)
				if err != nil {
					return err
				}
				return beginDestroy(ctx, tx, a, osbDestroyReason)
			})
			if fault.KindOf(err) == fault.NotFound {
				// The provision failed and was rolled back: nothing is left.
				return b.store.MarkOSBInstanceDeleted(ctx, instanceID, b.osbNow())
			}
			if err != nil {
				return err
			}
		}
		if err := destroy(ctx, progress); err != nil {
			return err
		}
		return b.store.MarkOSBInstanceDeleted(ctx, instanceID, b.osbNow())
	}
}

// osbWaitLimit bounds how long a delete waits for the provision it cut into.
const osbWaitLimit = 10 * time.Minute

// waitOperation returns once operation id has finished, polling the store.
func (b *Broker) waitOperation(ctx context.Context, id string) error {
	wctx, cancel := context.WithTimeout(ctx, osbWaitLimit)
	defer cancel()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		op, err := b.store.OperationByID(wctx, id)
		if err != nil {
			return err
		}
		if opDone(op) {
			return nil
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fault.Wrap(fault.Unavailable, wctx.Err(), "the provision did not end within "+osbWaitLimit.String())
		case <-t.C:
		}
	}
}
