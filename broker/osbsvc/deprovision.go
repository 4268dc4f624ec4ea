package osbsvc

import (
	"context"
	"larder/api"
	"larder/broker/jobs"
	"larder/fault"
	"larder/store"
	"time"

	"github.com/sirupsen/logrus"
)

// StartDeprovision records a deprovision operation of instance in and
// starts it: the add-on's attachments go at once and its nodes are stopped
// and deleted in the background, by larder's destroy machinery. When the
// provision still runs, the add-on is left as it is until it ends.
func (b *Service) StartDeprovision(ctx context.Context, in Instance, who string) (store.Operation, error) {
	a := *in.Addon
	waitFor := ""
	if in.Phase == PhaseCreating {
		waitFor = in.Row.OperationID
	}
	op := store.Operation{AddonID: a.ID, AddonName: a.Name, Kind: "deprovision", State: api.OpPending}
	b.jobs.Lease(&op)
	err := b.store.InTx(ctx, func(tx store.Tx) error {
		if waitFor == "" {
			if err := b.addons.BeginDestroy(ctx, tx, a, destroyReason); err != nil {
				return err
			}
		}
		if err := tx.CreateOperation(ctx, &op); err != nil {
			return err
		}
		if err := tx.SetOSBInstanceOperation(ctx, in.Row.InstanceID, op.ID, OpDeprovision); err != nil {
			return err
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "osb.deprovision", "service instance "+SafeText(in.Row.InstanceID)+" deleted"+byWhom(who))
	})
	if err != nil {
		return op, err
	}
	b.log.WithFields(logrus.Fields{"addon": a.Name, "instance": in.Row.InstanceID}).Info("deprovisioning service instance")
	b.jobs.Run(b.store, op, b.deprovisionStep(in.Row.InstanceID, a.ID, waitFor))
	return op, nil
}

// destroyReason is the event line of a destroy asked through OSB.
const destroyReason = "destroy requested through the service broker API"

// deprovisionStep is deprovisionStep, after the provision waitFor (if
// any) has ended, and followed by recording the instance as deleted.
func (b *Service) deprovisionStep(instanceID, addonID, waitFor string) jobs.Step {
	destroy := b.nodes.DeprovisionStep(addonID)
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
				return b.addons.BeginDestroy(ctx, tx, a, destroyReason)
			})
			if fault.KindOf(err) == fault.NotFound {
				// The provision failed and was rolled back: nothing is left.
				return b.store.MarkOSBInstanceDeleted(ctx, instanceID, b.now())
			}
			if err != nil {
				return err
			}
		}
		if err := destroy(ctx, progress); err != nil {
			return err
		}
		return b.store.MarkOSBInstanceDeleted(ctx, instanceID, b.now())
	}
}

// waitLimit bounds how long a delete waits for the provision it cut into.
const waitLimit = 10 * time.Minute

// waitOperation returns once operation id has finished, polling the store.
func (b *Service) waitOperation(ctx context.Context, id string) error {
	wctx, cancel := context.WithTimeout(ctx, waitLimit)
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
			return fault.Wrap(fault.Unavailable, wctx.Err(), "the provision did not end within "+waitLimit.String())
		case <-t.C:
		}
	}
}
