package jobs

import (
	"context"

	"larder/api"
	"larder/fault"
	"larder/store"
)

// Kind is how the operations of one kind resume after the broker that ran
// them stopped: each service registers the kinds it starts (Register), so
// the runner resumes an operation without knowing what it does.
type Kind struct {
	// Resume returns the step that finishes or rolls back op. It is called
	// at once, before the step runs in the background.
	Resume func(op store.Operation) Step
	// DoneIfGone: an operation of this kind whose add-on is gone did its
	// work (a deprovision); any other kind failed.
	DoneIfGone bool
}

// Register makes the runner resume operations of kind with k. Services
// register their kinds before the broker starts.
func (r *Runner) Register(kind string, k Kind) { r.kinds[kind] = k }

// Resume re-runs the unfinished operations no broker holds: left by a
// broker that stopped, or whose lease ended because it died. At start it
// also takes back the broker's own, left by its previous run under the same
// identity. An operation another broker holds is left to it.
func (r *Runner) Resume(ctx context.Context, atStart bool) error {
	ops, err := r.st.UnfinishedOperations(ctx)
	if err != nil {
		return err
	}
	for _, op := range ops {
		var ok bool
		switch {
		case r.Runs(op.ID):
			continue
		case op.Owner == r.owner && !atStart:
			continue // recorded here and about to run, or running
		default:
			ok, err = r.Take(ctx, op)
		}
		if err != nil {
			return err
		}
		if !ok {
			r.log.WithFields(map[string]any{"op": op.Kind, "operation": op.ID, "addon": op.AddonName, "owner": op.Owner}).Debug("operation held by another broker")
			continue
		}
		k, known := r.kinds[op.Kind]
		if _, err := r.st.AddonByID(ctx, op.AddonID); err != nil {
			if fault.KindOf(err) != fault.NotFound {
				return err
			}
			state, msg := api.OpFailed, "the add-on was removed while the broker was stopped"
			if k.DoneIfGone {
				state, msg = api.OpSucceeded, ""
			}
			if _, err := r.record(ctx, r.st, op.ID, state, "done", msg); err != nil {
				return err
			}
			continue
		}
		r.log.WithFields(map[string]any{"op": op.Kind, "addon": op.AddonName}).Info("resuming operation")
		if !known {
			if _, err := r.record(ctx, r.st, op.ID, api.OpFailed, "", "unknown operation kind "+op.Kind); err != nil {
				return err
			}
			continue
		}
		r.Run(r.st, op, k.Resume(op))
	}
	return nil
}
