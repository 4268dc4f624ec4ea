// Package jobs runs a broker's operations in the background, each under a
// lease in the store held in the broker's name, renewed while it runs, so
// that brokers sharing a store never run one operation twice and one takes
// over what another left (each service registers how its kinds resume). It
// also holds what every operation is made of: the per-add-on locks, the
// params and steps it records, retries until done, rollback errors and the
// fault-injection points tests use.
package jobs

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/fault"
	"larder/internal/backoff"
	"larder/store"
)

// Runner runs operations in goroutines it owns, each under a lease in the
// store held in the broker's name (owner): it renews the leases of the jobs
// it runs, so no other broker on the store takes them over, and cancels a
// job whose lease another broker took. Closing it cancels their context and
// gives their leases up; a job cut short that way stays unfinished in the
// store and is resumed by the next broker.
type Runner struct {
	*Locks // the per-add-on locks, shared with every change of an add-on
	Points // fault injection

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	log    logrus.FieldLogger

	st    store.Store
	owner string        // the broker's identity
	ttl   time.Duration // how long a lease lasts unless renewed
	retry time.Duration // UntilDone's first wait
	now   func() time.Time
	kinds map[string]Kind // how operations resume, by kind (Register)
	done  func(kind, result string)

	mu      sync.Mutex
	running map[string]*job // by operation id
}

// job is one running operation.
type job struct {
	cancel context.CancelFunc
	lost   bool // another broker took its lease over
}

// Config sets a runner up.
type Config struct {
	Log    logrus.FieldLogger
	Store  store.Store
	Owner  string        // the broker's identity: operations are leased to it
	Lease  time.Duration // how long a lease lasts unless renewed
	Retry  time.Duration // UntilDone's first wait between tries
	Points Points
	// Finished, when set, is told the kind and the result (succeeded,
	// failed) of every operation that ends here: the broker's counters.
	Finished func(kind, result string)
}

// New returns a runner over cfg.Store leasing operations to cfg.Owner for
// cfg.Lease at a time.
func New(cfg Config) *Runner {
	ctx, cancel := context.WithCancel(context.Background())
	if cfg.Points.Log == nil {
		cfg.Points.Log = cfg.Log
	}
	r := &Runner{Locks: &Locks{}, Points: cfg.Points, ctx: ctx, cancel: cancel, log: cfg.Log, st: cfg.Store, owner: cfg.Owner,
		ttl: cfg.Lease, retry: cfg.Retry, now: time.Now, kinds: map[string]Kind{}, running: map[string]*job{}, done: cfg.Finished}
	if r.done == nil {
		r.done = func(string, string) {}
	}
	return r
}

// Lease makes op, about to be recorded, held by this broker.
func (r *Runner) Lease(op *store.Operation) {
	op.Owner, op.LeaseUntil = r.owner, r.now().Add(r.ttl)
}

// Runs reports whether the operation id runs here.
func (r *Runner) Runs(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running[id] != nil
}

// Take leases op, unfinished in the store, to this broker: it renews the
// lease of one that is already the broker's (left by its previous run under
// the same identity) and claims one whose lease ended. It reports whether
// the broker holds op now.
func (r *Runner) Take(ctx context.Context, op store.Operation) (bool, error) {
	if op.Owner == r.owner {
		return r.st.RenewOperation(ctx, op.ID, r.owner, r.now(), r.ttl)
	}
	return r.st.ClaimOperation(ctx, op.ID, r.owner, r.now(), r.ttl)
}

// Step is one operation's work; progress reports a short status line.
type Step func(ctx context.Context, progress func(string)) error

// Run starts op's work in the background and records how it ends. op is
// leased to this broker (recorded so, or claimed).
func (r *Runner) Run(st store.Store, op store.Operation, work Step) {
	ctx, cancel := context.WithCancel(r.ctx)
	j := &job{cancel: cancel}
	r.mu.Lock()
	r.running[op.ID] = j
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer func() {
			r.mu.Lock()
			delete(r.running, op.ID)
			r.mu.Unlock()
			cancel()
		}()
		log := r.log.WithFields(logrus.Fields{"op": op.Kind, "operation": op.ID, "addon": op.AddonName})
		last := ""
		progress := func(p string) {
			last = p
			owned, err := r.record(ctx, st, op.ID, api.OpRunning, p, "")
			switch {
			case err != nil && ctx.Err() == nil:
				log.WithError(err).Warn("record progress")
			case err == nil && !owned:
				r.lose(op.ID) // the work stops; the new owner runs it
			}
		}
		progress("started")
		err := r.resumeAfterOutage(ctx, log, st, op, progress, work(ctx, progress))
		if err != nil && errors.Is(err, context.Canceled) && ctx.Err() != nil {
			r.mu.Lock()
			lost := j.lost
			r.mu.Unlock()
			if lost {
				log.Warn("operation taken over by another broker; stopped here")
				return
			}
			log.Info("broker stopping; operation left for the next start to resume")
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := st.ReleaseOperation(rctx, op.ID, r.owner); err != nil {
				log.WithError(err).Warn("give the operation's lease up")
			}
			return
		}
		state, msg := api.OpSucceeded, ""
		if err != nil {
			state, msg = api.OpFailed, fault.Message(err)
			log.WithError(err).Error("operation failed")
		} else {
			last = "done"
			log.Info("operation succeeded")
		}
		owned, err := r.recordResult(log, st, op.ID, state, last, msg)
		switch {
		case err != nil:
			log.WithError(err).Error("record operation result; left for the next broker to resume")
			return
		case !owned:
			return // taken over: the new owner records how it ends
		}
		r.done(op.Kind, state)
	}()
}

// KeepLeases renews the leases of the jobs running here every third of a
// lease, cancelling those another broker took over, then calls takeOver
// (which resumes operations whose lease ended). It returns when the runner
// is closed.
func (r *Runner) KeepLeases(takeOver func(ctx context.Context)) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(r.ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-r.ctx.Done():
				return
			case <-t.C:
			}
			r.renew()
			takeOver(r.ctx)
		}
	}()
}

// renew extends the lease of every job running here.
func (r *Runner) renew() {
	r.mu.Lock()
	ids := make([]string, 0, len(r.running))
	for id := range r.running {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	for _, id := range ids {
		held, err := r.st.RenewOperation(r.ctx, id, r.owner, r.now(), r.ttl)
		if err != nil {
			if r.ctx.Err() == nil {
				r.log.WithError(err).WithField("operation", id).Warn("renew operation lease")
			}
			continue
		}
		if !held {
			r.lose(id)
		}
	}
}

// lose cancels the job running operation id here: another broker took the
// operation over.
func (r *Runner) lose(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if j := r.running[id]; j != nil {
		j.lost = true
		j.cancel()
	}
}

// Interrupted reports whether an operation's work was cut short rather
// than failed: the broker stopping (its context cancelled) or the store out
// of reach. Such work is neither rolled back nor recorded as failed (the
// undoing would need the store too): it is resumed from what it recorded.
func Interrupted(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, store.ErrUnreachable)
}

// resumeAfterOutage resumes op here, from what it recorded, as a restarted
// broker would (its kind's Resume), when its work was cut short by the
// store being out of reach: once the store answers again, as often as it
// takes. The job keeps its lease meanwhile. It returns the work's error
// otherwise, and ctx's when the wait is ended (the broker stopping, or the
// operation taken over).
func (r *Runner) resumeAfterOutage(ctx context.Context, log logrus.FieldLogger, st store.Q, op store.Operation, progress func(string), err error) error {
	k, known := r.kinds[op.Kind]
	b := backoff.Backoff{Policy: resultBackoff}
	for known && errors.Is(err, store.ErrUnreachable) && ctx.Err() == nil {
		log.WithError(err).Warn("the store cannot be reached; the operation resumes here once it is back")
		var now store.Operation
		for {
			if backoff.Wait(ctx, b.Next()) != nil {
				return ctx.Err()
			}
			if now, err = st.OperationByID(ctx, op.ID); !errors.Is(err, store.ErrUnreachable) {
				break
			}
		}
		if err != nil {
			return err
		}
		b.Reset()
		log.Info("the store answers again; resuming the operation")
		err = k.Resume(now)(context.WithValue(ctx, resumedInPlace{}, true), progress)
	}
	return err
}

// resultBackoff spaces the tries to record a result while the store cannot
// be reached.
var resultBackoff = backoff.Policy{Min: 50 * time.Millisecond, Max: 2 * time.Second}

// recordResult records how an operation ended, trying again while the store
// cannot be reached (its database restarting): the job stays running here
// meanwhile, its lease renewed, so no other broker runs the operation again.
// Only the runner's closing ends the tries; the operation is then resumed
// by the next broker.
func (r *Runner) recordResult(log logrus.FieldLogger, st store.Q, id, state, progress, errMsg string) (bool, error) {
	b := backoff.Backoff{Policy: resultBackoff}
	for {
		owned, err := r.record(context.Background(), st, id, state, progress, errMsg)
		if !errors.Is(err, store.ErrUnreachable) {
			return owned, err
		}
		log.WithError(err).Warn("record operation result; trying again")
		if backoff.Wait(r.ctx, b.Next()) != nil {
			return false, err
		}
	}
}

// record writes an operation's state, progress and error in st if this
// broker still owns it, and reports whether it did; a write that finds
// another owner is dropped with a warning.
func (r *Runner) record(ctx context.Context, st store.Q, id, state, progress, errMsg string) (bool, error) {
	owned, err := st.UpdateOwnedOperation(ctx, id, r.owner, state, progress, errMsg)
	if err == nil && !owned {
		r.log.WithFields(logrus.Fields{"operation": id, "state": state}).Warn("operation owned by another broker; write dropped")
	}
	return owned, err
}

// Close cancels running jobs and waits for them until ctx ends.
func (r *Runner) Close(ctx context.Context) error {
	r.cancel()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
