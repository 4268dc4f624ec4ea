package broker

import (
	"context"
	"larder/api"
	"larder/fault"
	"larder/store"
	"time"

	"github.com/sirupsen/logrus"
)

// StartDeprovision records a deprovision operation of instance in and
// starts it: the add-on's attachments go at once and its nodes are stopped
// and deleted in the background, by larder's destroy machinery. When the
// provision still runs, the add-on is left as it is until it ends.
func (b *OSB) StartDeprovision(ctx context.Context, in OSBInstance, who string) (store.Operation, error) {
	a := *in.Addon
	waitFor := ""
	if in.Phase == PhaseCreating {
		waitFor = in.Row.OperationID
	}
	op := store.Operation{AddonID: a.ID, AddonName: a.Name, Kind: "deprovision", State: api.OpPending}
	b.jobs.Lease(&op)
	err := b.store.InTx(ctx, func(tx store.Tx) error {
		if waitFor == "" {
			if err := beginDestroy(ctx, tx, a, osbDestroyReason); err != nil {
				return err
			}
		}
		if err := tx.CreateOperation(ctx, &op); err != nil {
			return err
		}
		if err := tx.SetOSBInstanceOperation(ctx, in.Row.InstanceID, op.ID, OSBOpDeprovision); err != nil {
			return err
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "osb.deprovision", "service instance "+SafeText(in.Row.InstanceID)+" deleted"+byWhom(who))
	})
	if err != nil {
		return op, err
	}
	b.log.WithFields(logrus.Fields{"addon": a.Name, "instance": in.Row.InstanceID}).Info("deprovisioning service instance")
	b.jobs.Run(b.store, op, b.osbDeprovisionStep(in.Row.InstanceID, a.ID, waitFor))
	return op, nil
}

// osbDestroyReason is the event line of a destroy asked through OSB.
const osbDestroyReason = "destroy requested through the service broker API"

// osbDeprovisionStep is deprovisionStep, after the provision waitFor (if
// any) has ended, and followed by recording the instance as deleted.
func (b *OSB) osbDeprovisionStep(instanceID, addonID, waitFor string) step {
	destroy := b.nodes.deprovisionStep(addonID)
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
func (b *OSB) waitOperation(ctx context.Context, id string) error {
	wctx, cancel := context.WithTimeout(ctx, osbWaitLimit)
	defer cancel()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		op, err := b.store.OperationByID(wctx, id)
		if err != nil {
			return err
		}
		if OpDone(op) {
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
