package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"larder/api"
	"larder/fault"
	"larder/store"
)

// An operation that changes a running add-on either finishes or rolls back,
// says which in an event, and resumes after a broker restart from what it
// recorded (store.Operation.Params and Step) and the nodes' real state. These
// are the pieces every such operation is made of.

// StepCommitted is the step of an operation whose change is recorded in the
// store: from there on it only ever goes forward.
const StepCommitted = "committed"

// EncodeParams renders an operation's params for the store.
func EncodeParams(v any) string {
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

// Open takes the lock of op's add-on and reads op's params into params and
// the add-on as it now is. The caller releases the lock.
func (r *Runner) Open(ctx context.Context, op store.Operation, params any) (*Held, store.Addon, error) {
	lk := r.Hold(op.AddonID)
	if err := decodeParams(op, params); err != nil {
		lk.Release()
		return nil, store.Addon{}, err
	}
	a, err := r.st.AddonByID(ctx, op.AddonID)
	if err != nil {
		lk.Release()
		return nil, store.Addon{}, err
	}
	return lk, a, nil
}

// SaveStep records that op has reached step, with its params as they now
// are, in q (the transaction that made the step durable, when there is
// one), while this broker holds op. When another broker has taken op over
// (this one paused past its lease), nothing is recorded and the work here
// stops as taken over: the error is context.Canceled's, so the step returns
// without rolling anything back, and q's transaction (a node it claimed)
// is taken back with it.
func (r *Runner) SaveStep(ctx context.Context, q store.Q, op *store.Operation, step string, params any) error {
	encoded := EncodeParams(params)
	owned, err := q.SetOperationStep(ctx, op.ID, r.owner, step, encoded)
	if err != nil {
		return err
	}
	if !owned {
		r.lose(op.ID)
		return fmt.Errorf("operation %s was taken over by another broker; its step %q is not recorded here: %w", op.ID, step, context.Canceled)
	}
	op.Step, op.Params = step, encoded
	return nil
}

// NewOperation records a pending operation of kind on a in tx, leased to
// this broker, refusing it while another operation on a is unfinished: two
// changes of one add-on never interleave, and a resumed one finds the
// add-on as it left it.
func (r *Runner) NewOperation(ctx context.Context, tx store.Tx, a store.Addon, kind string, params any) (store.Operation, error) {
	running, err := tx.UnfinishedOperationsOf(ctx, a.ID)
	if err != nil {
		return store.Operation{}, err
	}
	if len(running) > 0 {
		o := running[0]
		return store.Operation{}, fault.E(fault.Conflict, "%s has a %s under way (operation %s, %s); wait until it ends (`larder addons:info %s`)",
			a.Name, o.Kind, o.ID, o.State, a.Name)
	}
	op := store.Operation{AddonID: a.ID, AddonName: a.Name, Kind: kind, State: api.OpPending, Params: EncodeParams(params)}
	r.Lease(&op)
	return op, tx.CreateOperation(ctx, &op)
}

// RolledBack is the error an operation ends with when it was undone.
func RolledBack(what string, cause error) error {
	return fault.Wrap(fault.KindOf(cause), cause, what+" rolled back: "+fault.Message(cause))
}

// ErrBrokerStopped is why an operation resumed before its commit is rolled
// back: the broker that ran it stopped mid-way.
var ErrBrokerStopped = fault.E(fault.Unavailable, "the broker stopped during the change")

// ErrStoreAway is why an operation the store's outage cut short, resumed
// in place once the store answered, is rolled back when it had not reached
// its commit.
var ErrStoreAway = fault.E(fault.Unavailable, "the store could not be reached during the change")

// resumedInPlace marks the context of a step the runner resumes in place
// after an outage of the store.
type resumedInPlace struct{}

// WhyResumed is why a resumed step finds its work cut short, for the
// rollback it records: the store could not be reached (the runner resumes
// the operation in place), or else the broker that ran it stopped.
func WhyResumed(ctx context.Context) error {
	if ctx.Value(resumedInPlace{}) != nil {
		return ErrStoreAway
	}
	return ErrBrokerStopped
}

// UntilDone runs fn until it succeeds, waiting between tries (from the
// runner's Retry, doubling, up to a minute): finishing or undoing a
// half-done change must happen even while a node or host is away. Only ctx
// (the broker stopping) ends it early; the next broker resumes. The lock is
// let go during the waits, so fn re-reads what it needs from the store.
func (r *Runner) UntilDone(ctx context.Context, lk *Held, what string, progress func(string), fn func() error) error {
	wait := r.retry
	for try := 1; ; try++ {
		err := fn()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.log.WithError(err).WithFields(map[string]any{"addon": lk.ID, "try": try}).Warn(what + " failed; retrying")
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
