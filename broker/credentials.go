package broker

import (
	"context"
	"larder/api"

	"larder/fault"
	"larder/store"
)

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
	a, err := b.settledAddon(ctx, appName, addonName)
	if err != nil {
		return api.Credentials{}, err
	}
	var op store.Operation
	err = b.store.InTx(ctx, func(tx store.Tx) error {
		if a, err = tx.AddonByID(ctx, a.ID); err != nil {
			return err
		}
		if op, err = b.newOperation(ctx, tx, a, opCredentials, struct{}{}); err != nil {
			return err
		}
		if err := tx.SetCustomerPasswords(ctx, a.ID, a.CustomerPassword, newSecret()); err != nil {
			return err
		}
		return saveStep(ctx, tx, &op, rotationPending, struct{}{})
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
func (b *Settings) rotationStep(op store.Operation, decided chan<- error) step {
	return func(ctx context.Context, progress func(string)) (err error) {
		decide := func(err error) {
			if decided != nil {
				decided <- err
				decided = nil
			}
		}
		defer func() { decide(err) }()
		lk := b.hold(op.AddonID)
		defer lk.release()
		if op, err = b.store.OperationByID(ctx, op.ID); err != nil {
			return err
		}
		switch {
		case op.Step == stepCommitted:
			decide(nil)
			return b.retireOldPassword(ctx, lk, progress)
		case op.Step == rotationPending && decided != nil:
			b.crashPoint("credentials.pending")
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
			decide(rolledBack("credential rotation", cause))
			return b.rollbackRotation(ctx, lk, &op, cause, progress)
		}
		return b.rollbackRotation(ctx, lk, &op, errBrokerStopped, progress)
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
	if err := b.reconfigure(ctx, old, a); err != nil {
		return err
	}
	b.crashPoint("credentials.applied")
	err = b.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.SetCustomerPasswords(ctx, a.ID, a.CustomerPasswordAlt, a.CustomerPassword); err != nil {
			return err
		}
		return saveStep(ctx, tx, op, stepCommitted, struct{}{})
	})
	if err != nil {
		return err
	}
	b.crashPoint("credentials.committed")
	return nil
}

// retireOldPassword ends a committed rotation: every node drops the old
// password, the store forgets it, and connections still using it close.
func (b *Settings) retireOldPassword(ctx context.Context, lk *heldLock, progress func(string)) error {
	err := b.untilDone(ctx, lk, "retire the old password", progress, func() error {
		a, err := b.store.AddonByID(ctx, lk.id)
		if err != nil {
			return err
		}
		a.CustomerPasswordAlt = ""
		return b.pairs.reconfigureReachable(ctx, a)
	})
	if err != nil {
		return err
	}
	b.crashPoint("credentials.retired")
	var a store.Addon
	err = b.store.InTx(ctx, func(tx store.Tx) (err error) {
		if a, err = tx.AddonByID(ctx, lk.id); err != nil {
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
func (b *Settings) rollbackRotation(ctx context.Context, lk *heldLock, op *store.Operation, cause error, progress func(string)) error {
	if op.Step != rotationRolledBack {
		err := b.store.InTx(ctx, func(tx store.Tx) error {
			a, err := tx.AddonByID(ctx, lk.id)
			if err != nil {
				return err
			}
			if err := tx.SetCustomerPasswords(ctx, a.ID, a.CustomerPassword, ""); err != nil {
				return err
			}
			return saveStep(ctx, tx, op, rotationRolledBack, struct{}{})
		})
		if err != nil {
			return err
		}
	}
	var a store.Addon
	err := b.untilDone(ctx, lk, "put the old password back alone", progress, func() (err error) {
		if a, err = b.store.AddonByID(ctx, lk.id); err != nil {
			return err
		}
		return b.pairs.reconfigureReachable(ctx, a)
	})
	if err != nil {
		return err
	}
	b.store.AddEvent(ctx, a.ID, a.Name, "credentials.rolled_back", "customer password unchanged: the rotation was rolled back: "+fault.Message(cause))
	return rolledBack("credential rotation", cause)
}
