package broker

import (
	"context"
	"encoding/json"
	"fmt"
	"larder/broker/jobs"
	"time"

	"larder/api"
	"larder/fault"
	"larder/store"
)

// Kinds of the operations that change a running add-on. Each either finishes
// or rolls back, says which in an event, and resumes after a broker restart
// from what it recorded (store.Operation.Params and Step) and the nodes'
// real state.
const (
	opPlanChange  = "plan_change"
	opSwitchover  = "switchover"
	opRebuild     = "standby_rebuild"
	opCredentials = "credential_rotation"
)

// stepCommitted is the step of an operation whose change is recorded in the
// store: from there on it only ever goes forward.
const stepCommitted = "committed"

// encodeParams renders an operation's params for the store.
func encodeParams(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode operation params: %v", err)) // plain structs always encode
	}
	return string(data)
}

// decodeParams reads op's params into v.
func decodeParams(op store.Operation, v any) error {
	if err := json.Unmarshal([]byte(op.Params), v); err != nil {
		return fmt.Errorf("operation %s: read params: %w", op.ID, err)
	}
	return nil
}

// openOperation takes the lock of op's add-on and reads op's params into
// params and the add-on as it now is. The caller releases the lock.
func (b *core) openOperation(ctx context.Context, op store.Operation, params any) (*heldLock, store.Addon, error) {
	lk := b.hold(op.AddonID)
	if err := decodeParams(op, params); err != nil {
		lk.release()
		return nil, store.Addon{}, err
	}
	a, err := b.store.AddonByID(ctx, op.AddonID)
	if err != nil {
		lk.release()
		return nil, store.Addon{}, err
	}
	return lk, a, nil
}

// saveStep records that op has reached step, with its params as they now
// are, in q (the transaction that made the step durable, when there is one).
func saveStep(ctx context.Context, q store.Q, op *store.Operation, step string, params any) error {
	op.Step, op.Params = step, encodeParams(params)
	return q.SetOperationStep(ctx, op.ID, op.Step, op.Params)
}

// newOperation records a pending operation of kind on a in tx, refusing it
// while another operation on a is unfinished: two changes of one add-on
// never interleave, and a resumed one finds the add-on as it left it.
func (b *core) newOperation(ctx context.Context, tx store.Tx, a store.Addon, kind string, params any) (store.Operation, error) {
	running, err := tx.UnfinishedOperationsOf(ctx, a.ID)
	if err != nil {
		return store.Operation{}, err
	}
	if len(running) > 0 {
		o := running[0]
		return store.Operation{}, fault.E(fault.Conflict, "%s has a %s under way (operation %s, %s); wait until it ends (`larder addons:info %s`)",
			a.Name, o.Kind, o.ID, o.State, a.Name)
	}
	op := store.Operation{AddonID: a.ID, AddonName: a.Name, Kind: kind, State: api.OpPending, Params: encodeParams(params)}
	b.jobs.Lease(&op)
	return op, tx.CreateOperation(ctx, &op)
}

// rolledBack is the error an operation ends with when it was undone.
func rolledBack(what string, cause error) error {
	return fault.Wrap(fault.KindOf(cause), cause, what+" rolled back: "+fault.Message(cause))
}

// errBrokerStopped is why an operation resumed before its commit is rolled
// back: the broker that ran it stopped mid-way.
var errBrokerStopped = fault.E(fault.Unavailable, "the broker stopped during the change")

// heldLock is an add-on's lock as an operation holds it: it may let it go
// while it waits, so requests on the add-on are not stuck behind it.
type heldLock struct {
	locks  *addonLocks
	id     string
	unlock func()
}

// hold takes add-on id's lock.
func (b *core) hold(id string) *heldLock {
	return &heldLock{locks: &b.locks, id: id, unlock: b.locks.lock(id)}
}

func (h *heldLock) release() { h.unlock() }

// waitUnlocked runs wait without the lock, then takes it again.
func (h *heldLock) waitUnlocked(wait func()) {
	h.unlock()
	wait()
	h.unlock = h.locks.lock(h.id)
}

// untilDone runs fn until it succeeds, waiting between tries (from the
// reconcile interval, doubling, up to a minute): finishing or undoing a
// half-done change must happen even while a node or host is away. Only ctx
// (the broker stopping) ends it early; the next broker resumes. The lock is
// let go during the waits, so fn re-reads what it needs from the store.
func (b *core) untilDone(ctx context.Context, lk *heldLock, what string, progress func(string), fn func() error) error {
	wait := b.cfg.ReconcileInterval
	for try := 1; ; try++ {
		err := fn()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.log.WithError(err).WithFields(map[string]any{"addon": lk.id, "try": try}).Warn(what + " failed; retrying")
		progress(fmt.Sprintf("%s: %s; retrying in %v", what, fault.Message(err), wait))
		lk.waitUnlocked(func() {
			t := time.NewTimer(wait)
			defer t.Stop()
			select {
			case <-ctx.Done():
			case <-t.C:
			}
		})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait = min(2*wait, time.Minute)
	}
}

// resumeChange is the step that resumes an unfinished change operation, and
// whether op is one.
func (b *core) resumeChange(op store.Operation) (step, bool) {
	switch op.Kind {
	case opPlanChange:
		return b.addons.planChangeStep(op, true), true
	case opSwitchover:
		return b.pairs.switchoverStep(op, true), true
	case opRebuild:
		return b.recon.rebuildJob(op, true), true
	case opCredentials:
		return b.settings.rotationStep(op, nil), true
	}
	return b.backups.Resume(op)
}

// step is one operation's work (see jobs.Step).
type step = jobs.Step

// resumeOperations re-runs the unfinished operations no broker holds: left
// by a broker that stopped, or whose lease ended because it died. At start
// it also takes back the broker's own, left by its previous run under the
// same identity. An operation another broker holds is left to it.
func (b *core) resumeOperations(ctx context.Context, atStart bool) error {
	ops, err := b.store.UnfinishedOperations(ctx)
	if err != nil {
		return err
	}
	for _, op := range ops {
		var ok bool
		switch {
		case b.jobs.Runs(op.ID):
			continue
		case op.Owner == b.cfg.ID && !atStart:
			continue // recorded here and about to run, or running
		default:
			ok, err = b.jobs.Take(ctx, op)
		}
		if err != nil {
			return err
		}
		if !ok {
			b.log.WithFields(map[string]any{"op": op.Kind, "operation": op.ID, "addon": op.AddonName, "owner": op.Owner}).Debug("operation held by another broker")
			continue
		}
		if _, err := b.store.AddonByID(ctx, op.AddonID); err != nil {
			if fault.KindOf(err) != fault.NotFound {
				return err
			}
			msg := "the add-on was removed while the broker was stopped"
			if op.Kind == "deprovision" {
				msg = ""
			}
			state := api.OpFailed
			if msg == "" {
				state = api.OpSucceeded
			}
			if err := b.store.UpdateOperation(ctx, op.ID, state, "done", msg); err != nil {
				return err
			}
			continue
		}
		b.log.WithFields(map[string]any{"op": op.Kind, "addon": op.AddonName}).Info("resuming operation")
		switch op.Kind {
		case "provision":
			b.jobs.Run(b.store, op, b.nodes.provisionStep(op.AddonID, true))
		case "deprovision":
			b.jobs.Run(b.store, op, b.nodes.deprovisionStep(op.AddonID))
		case "failover":
			id := op.AddonID
			// No second failover of it starts while this one is finished or
			// rolled back.
			done := b.coord.Hold(id)
			b.jobs.Run(b.store, op, func(ctx context.Context, progress func(string)) error {
				defer done()
				return b.pairs.resumeFailover(ctx, id, progress)
			})
		default:
			if work, ok := b.resumeChange(op); ok {
				b.jobs.Run(b.store, op, work)
				continue
			}
			if err := b.store.UpdateOperation(ctx, op.ID, api.OpFailed, "", "unknown operation kind "+op.Kind); err != nil {
				return err
			}
		}
	}
	return nil
}
