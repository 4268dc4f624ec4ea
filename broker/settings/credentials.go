package settings

import (
	"context"
	"larder/api"
	"larder/broker/apps"
	"larder/broker/attach"
	"larder/broker/jobs"

	"larder/fault"
	"larder/store"
)

// opCredentials is the kind of a credential rotation's operation.
const opCredentials = "credential_rotation"

// Steps of a credential rotation. The customer's user accepts two passwords
// while one runs (store.Addon.CustomerPasswordAlt), so the password in the
// apps' URL works on every node whatever step a crash or a node restart
// falls on:
//
//	pending      the new password is the second one in the store; nodes are
//	             being given both (a restart rolls back)
//	committed    the new password is in the URL, the old one the second;
//	             nodes are being given the new one alone (a restart goes on)
//	rolled_back  the second password is gone from the store; nodes are being
//	             given the old one alone
const (
	rotationPending    = "pending"
	rotationRolledBack = "rolled_back"
)

// rotateCredentials gives the customer user a new password: written ahead
// in the store, applied to every node as a second password, committed
// (every attached app's URL changes in that one write), then the old one is
// retired from every node and the connections still using it are closed.
// The request waits until the rotation is committed or rolled back; what is
// left (retiring, or undoing on a node that is away) goes on in the
// background until done, and a restarted broker resumes it.
func (b *Settings) RotateCredentials(ctx context.Context, appName, addonName string) (api.Credentials, error) {
	a, err := apps.Settled(ctx, b.store, appName, addonName)
	if err != nil {
		return api.Credentials{}, err
	}
	var op store.Operation
	err = b.store.InTx(ctx, func(tx store.Tx) error {
		if a, err = tx.AddonByID(ctx, a.ID); err != nil {
			return err
		}
		if op, err = b.jobs.NewOperation(ctx, tx, a, opCredentials, struct{}{}); err != nil {
			return err
		}
		if err := tx.SetCustomerPasswords(ctx, a.ID, a.CustomerPassword, attach.NewSecret()); err != nil {
			return err
		}
		return b.jobs.SaveStep(ctx, tx, &op, rotationPending, struct{}{})
	})
	if err != nil {
		return api.Credentials{}, err
	}
	decided := make(chan error, 1)
	b.jobs.Run(b.store, op, b.rotationStep(op, decided))
	select {
	case err = <-decided:
	case <-ctx.Done():
		return api.Credentials{}, ctx.Err()
	}
	if err != nil {
		return api.Credentials{}, err
	}
	if a, err = b.store.AddonByID(ctx, a.ID); err != nil {
		return api.Credentials{}, err
	}
	c, err := b.credentialsOf(ctx, a)
	if err != nil {
		return api.Credentials{}, err
	}
	return c, nil
}

// rotationStep runs a credential rotation from the step op recorded. A new
// one (decided non-nil) goes forward and says on decided once it is whole
// (committed and the old password retired) or rolled back; a resumed one
// still pending is rolled back.
func (b *Settings) rotationStep(op store.Operation, decided chan<- error) jobs.Step {
	return func(ctx context.Context, progress func(string)) (err error) {
		decide := func(err error) {
			if decided != nil {
				decided <- err
				decided = nil
			}
		}
		defer func() { decide(err) }()
		lk := b.jobs.Hold(op.AddonID)
		defer lk.Release()
		if op, err = b.store.OperationByID(ctx, op.ID); err != nil {
			return err
		}
		switch {
		case op.Step == jobs.StepCommitted:
			decide(nil)
			return b.retireOldPassword(ctx, lk, progress)
		case op.Step == rotationPending && decided != nil:
			b.jobs.CrashPoint("credentials.pending")
			cause := b.commitRotation(ctx, &op, progress)
			if cause == nil {
				// The answer waits for the retirement: the user is told the
				// old password no longer works (nodes whose host is away are
				// skipped, and brought in line when it returns).
				err := b.retireOldPassword(ctx, lk, progress)
				decide(err)
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err() // the broker is stopping: the next one rolls back
			}
			decide(jobs.RolledBack("credential rotation", cause))
			return b.rollbackRotation(ctx, lk, &op, cause, progress)
		}
		return b.rollbackRotation(ctx, lk, &op, jobs.WhyResumed(ctx), progress)
	}
}

// commitRotation gives every node the new password besides the old one,
// then makes it the apps' password.
func (b *Settings) commitRotation(ctx context.Context, op *store.Operation, progress func(string)) error {
	a, err := b.store.AddonByID(ctx, op.AddonID)
	if err != nil {
		return err
	}
	progress("giving every node the new password")
	old := a
	old.CustomerPasswordAlt = ""
	if err := b.nodes.Reconfigure(ctx, old, a); err != nil {
		return err
	}
	b.jobs.CrashPoint("credentials.applied")
	err = b.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.SetCustomerPasswords(ctx, a.ID, a.CustomerPasswordAlt, a.CustomerPassword); err != nil {
			return err
		}
		return b.jobs.SaveStep(ctx, tx, op, jobs.StepCommitted, struct{}{})
	})
	if err != nil {
		return err
	}
	b.jobs.CrashPoint("credentials.committed")
	return nil
}

// retireOldPassword ends a committed rotation: every node drops the old
// password, the store forgets it, and connections still using it close.
func (b *Settings) retireOldPassword(ctx context.Context, lk *jobs.Held, progress func(string)) error {
	err := b.jobs.UntilDone(ctx, lk, "retire the old password", progress, func() error {
		a, err := b.store.AddonByID(ctx, lk.ID)
		if err != nil {
			return err
		}
		a.CustomerPasswordAlt = ""
		return b.nodes.ReconfigureReachable(ctx, a)
	})
	if err != nil {
		return err
	}
	b.jobs.CrashPoint("credentials.retired")
	var a store.Addon
	err = b.store.InTx(ctx, func(tx store.Tx) (err error) {
		if a, err = tx.AddonByID(ctx, lk.ID); err != nil {
			return err
		}
		if err := tx.SetCustomerPasswords(ctx, a.ID, a.CustomerPassword, ""); err != nil {
			return err
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "credentials.rotate", "customer password rotated; old connections closed")
	})
	if err != nil {
		return err
	}
	a.CustomerPasswordAlt = ""
	if err := b.disconnectCustomer(ctx, a); err != nil {
		b.log.WithError(err).WithField("addon", a.Name).Warn("close connections of the old password")
	}
	return nil
}

// rollbackRotation undoes an uncommitted rotation: the store forgets the new
// password, then every node is given the old one alone.
func (b *Settings) rollbackRotation(ctx context.Context, lk *jobs.Held, op *store.Operation, cause error, progress func(string)) error {
	if op.Step != rotationRolledBack {
		err := b.store.InTx(ctx, func(tx store.Tx) error {
			a, err := tx.AddonByID(ctx, lk.ID)
			if err != nil {
				return err
			}
			if err := tx.SetCustomerPasswords(ctx, a.ID, a.CustomerPassword, ""); err != nil {
				return err
			}
			return b.jobs.SaveStep(ctx, tx, op, rotationRolledBack, struct{}{})
		})
		if err != nil {
			return err
		}
	}
	var a store.Addon
	err := b.jobs.UntilDone(ctx, lk, "put the old password back alone", progress, func() (err error) {
		if a, err = b.store.AddonByID(ctx, lk.ID); err != nil {
			return err
		}
		return b.nodes.ReconfigureReachable(ctx, a)
	})
	if err != nil {
		return err
	}
	b.store.AddEvent(ctx, a.ID, a.Name, "credentials.rolled_back", "customer password unchanged: the rotation was rolled back: "+fault.Message(cause))
	return jobs.RolledBack("credential rotation", cause)
}
