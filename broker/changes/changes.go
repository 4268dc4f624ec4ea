// Package changes answers waits on the store's change feed: an operation's
// (long-polled until it changes) and an app's (read after a cursor, waited
// on, or followed as a stream). Waiters hold no lock or transaction: every
// commit of the store wakes them (internal/feed), and a look at the feed's
// head covers other brokers' commits.
package changes

import (
	"context"
	"larder/broker/lead"
	"time"

	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/fault"
	"larder/internal/feed"
	"larder/store"
)

// Feed answers the change feed's waits over a store.
type Feed struct {
	store store.Store
	hub   *feed.Hub
	log   logrus.FieldLogger
	lead  lead.Gate // pruning is the coordinator's
}

// New starts the change feed over st: every commit of st wakes the waiters,
// a look at the head covers the commits of other brokers, and old changes
// are pruned (by the coordinator, as g lets), until Close. One API token
// may have maxWaiters requests waiting at once, and four times as many may
// wait in all.
func New(st store.Store, log logrus.FieldLogger, maxWaiters int, g lead.Gate) *Feed {
	f := &Feed{store: st, hub: feed.New(maxWaiters, 4*maxWaiters), log: log, lead: g}
	f.start()
	return f
}

// Close ends every wait at once (they answer that the broker is stopping),
// so a shutdown is not held by long-polls, and stops the feed's loop.
func (f *Feed) Close() { f.hub.Close() }

// Closed reports whether Close was called: the broker is stopping.
func (f *Feed) Closed() bool {
	select {
	case <-f.hub.Closed():
		return true
	default:
		return false
	}
}

// The change feed's limits and rhythm.
const (
	// feedBatch bounds the changes one read returns.
	feedBatch = 500
	// feedHeadEvery is how often the broker looks at the feed's head for
	// changes it did not make itself (another broker on the same store); its
	// own commits wake waiters at once.
	feedHeadEvery = 250 * time.Millisecond
	// feedKeep is how long changes stay in the feed; feedPruneEvery how
	// often older ones go.
	feedKeep       = 24 * time.Hour
	feedPruneEvery = time.Hour
)

// start wires the change feed: every commit of the store wakes the
// waiters, a look at the head covers the commits of other brokers (unless
// the store's hooks hear them), and old changes are pruned. It all ends
// when the hub closes.
func (f *Feed) start() {
	f.store.OnCommit(f.hub.Notify)
	go func() {
		head, _ := f.store.ChangeHead(context.Background())
		// A store that runs the hooks for other brokers' commits too
		// (PostgreSQL's LISTEN) needs no look at the head.
		var looks <-chan time.Time
		if rc, ok := f.store.(store.RemoteCommits); !ok || !rc.RemoteCommits() {
			look := time.NewTicker(feedHeadEvery)
			defer look.Stop()
			looks = look.C
		}
		prune := time.NewTicker(feedPruneEvery)
		defer prune.Stop()
		for {
			select {
			case <-f.hub.Closed():
				return
			case <-looks:
				if h, err := f.store.ChangeHead(context.Background()); err == nil && h != head {
					head = h
					f.hub.Notify()
				}
			case <-prune.C:
				lead.Run(f.lead, context.Background(), func(ctx context.Context) {
					if n, err := f.store.PruneChanges(ctx, time.Now().Add(-feedKeep)); err != nil {
						f.log.WithError(err).Warn("prune the change feed")
					} else if n > 0 {
						f.log.WithField("changes", n).Debug("pruned the change feed")
					}
				})
			}
		}
	}()
}

// checkWait reads a wait: zero or more, at most api.MaxWait (longer asks are
// cut to it: a proxy may drop a quieter connection).
func checkWait(d time.Duration) (time.Duration, error) {
	if d < 0 {
		return 0, fault.E(fault.Invalid, "wait %s is negative", d)
	}
	return min(d, api.MaxWait), nil
}

// WaitOperation returns operation id once it is done or differs from since
// (its UpdatedAt as the caller last saw it; zero: as it is now), or as it is
// when wait runs out. A waiter holds no lock or transaction; key (the
// caller's token) is counted against the per-token cap.
func (f *Feed) WaitOperation(ctx context.Context, key, id string, since time.Time, wait time.Duration) (api.Operation, error) {
	op, err := f.waitOperationChange(ctx, key, id, since, wait)
	if err != nil {
		return api.Operation{}, err
	}
	return OperationJSON(op), nil
}

func (f *Feed) waitOperationChange(ctx context.Context, key, id string, since time.Time, wait time.Duration) (store.Operation, error) {
	wait, err := checkWait(wait)
	if err != nil {
		return store.Operation{}, err
	}
	op, err := f.store.OperationByID(ctx, id)
	if err != nil || wait == 0 || done(op) || (!since.IsZero() && !op.UpdatedAt.Equal(since)) {
		return op, err
	}
	if since.IsZero() {
		since = op.UpdatedAt
	}
	release, err := f.hub.Join(key)
	if err != nil {
		return op, err
	}
	defer release()
	_, err = f.hub.Wait(ctx, wait, 0, func() (bool, error) {
		next, err := f.store.OperationByID(ctx, id)
		if err != nil {
			return false, err
		}
		op = next
		return done(op) || !op.UpdatedAt.Equal(since), nil
	})
	return op, err
}

// AppChanges reads app's changes after cursor (negative: from now on),
// waiting up to wait for one when there is none yet.
func (f *Feed) AppChanges(ctx context.Context, key, appName string, cursor int64, wait time.Duration) (api.ChangeBatch, error) {
	wait, err := checkWait(wait)
	if err != nil {
		return api.ChangeBatch{}, err
	}
	app, cursor, err := f.feedStart(ctx, appName, cursor)
	if err != nil {
		return api.ChangeBatch{}, err
	}
	return f.appChanges(ctx, app, cursor, wait, func() (func(), error) { return f.hub.Join(key) })
}

// FollowAppChanges sends app's changes after cursor (negative: from now on)
// to emit as they commit, and an empty batch after every api.MaxWait
// without one (a stream's keepalive), until ctx ends, the broker stops or
// emit fails. The stream counts as one waiter of key all along. started is
// called once the stream is accepted, before the first batch: an error
// returned before it is the request's answer.
func (f *Feed) FollowAppChanges(ctx context.Context, key, appName string, cursor int64, started func() error, emit func(api.ChangeBatch) error) error {
	app, cursor, err := f.feedStart(ctx, appName, cursor)
	if err != nil {
		return err
	}
	release, err := f.hub.Join(key)
	if err != nil {
		return err
	}
	defer release()
	if err := started(); err != nil {
		return err
	}
	joined := func() (func(), error) { return func() {}, nil }
	for {
		batch, err := f.appChanges(ctx, app, cursor, api.MaxWait, joined)
		if err != nil {
			return err
		}
		if err := emit(batch); err != nil {
			return err
		}
		cursor = batch.Cursor
	}
}

// feedStart resolves a feed read's app, and a negative cursor to the head.
func (f *Feed) feedStart(ctx context.Context, appName string, cursor int64) (store.App, int64, error) {
	app, err := f.store.AppByName(ctx, appName)
	if err != nil {
		return app, 0, err
	}
	if cursor < 0 {
		cursor, err = f.store.ChangeHead(ctx)
	}
	return app, cursor, err
}

// appChanges reads once and, when nothing is there yet and wait allows,
// joins the waiters and waits for a commit that brings some.
func (f *Feed) appChanges(ctx context.Context, app store.App, cursor int64, wait time.Duration, join func() (func(), error)) (api.ChangeBatch, error) {
	var out api.ChangeBatch
	check := func() (bool, error) {
		cs, next, reset, err := f.store.AppChanges(ctx, app.ID, cursor, feedBatch)
		if err != nil {
			return false, err
		}
		out = api.ChangeBatch{Cursor: next, Reset: reset, Changes: changesJSON(cs)}
		return len(cs) > 0 || reset, nil
	}
	if done, err := check(); err != nil || done || wait == 0 {
		return out, err
	}
	release, err := join()
	if err != nil {
		return out, err
	}
	defer release()
	_, err = f.hub.Wait(ctx, wait, 0, check)
	return out, err
}

func changesJSON(cs []store.Change) []api.Change {
	out := make([]api.Change, 0, len(cs))
	for _, c := range cs {
		out = append(out, api.Change{Seq: c.Seq, Kind: c.Kind, AddonName: c.AddonName, Subject: c.Subject, At: c.At})
	}
	return out
}

// Waiters reports how many requests wait on the change feed now.
func (f *Feed) Waiters() int { return f.hub.Waiters() }

// OperationJSON is op as the API shows it.
func OperationJSON(op store.Operation) api.Operation {
	return api.Operation{ID: op.ID, AddonID: op.AddonID, AddonName: op.AddonName, Kind: op.Kind,
		State: op.State, Progress: op.Progress, Error: op.Error, CreatedAt: op.CreatedAt, UpdatedAt: op.UpdatedAt}
}

// done reports whether op has ended, either way.
func done(op store.Operation) bool { j := OperationJSON(op); return j.Done() }

// Join admits one waiter of key (an API token), counted against the same
// caps as the feed's own waits, for a request that waits on something of
// its own as well (a tail of nodes' logs). The caller calls release once.
func (f *Feed) Join(key string) (release func(), err error) { return f.hub.Join(key) }

// WaitAppChange waits up to wait, within ctx, for a change of app after
// cursor that want accepts (or a reset of the feed), reading past the others.
// It reports whether one came. The caller has joined (Join) as a waiter.
func (f *Feed) WaitAppChange(ctx context.Context, appID string, cursor int64, wait time.Duration, want func(store.Change) bool) (bool, error) {
	wait, err := checkWait(wait)
	if err != nil {
		return false, err
	}
	return f.hub.Wait(ctx, wait, 0, func() (bool, error) {
		for {
			cs, next, reset, err := f.store.AppChanges(ctx, appID, cursor, feedBatch)
			if err != nil || reset {
				return reset, err
			}
			cursor = next
			for _, c := range cs {
				if want(c) {
					return true, nil
				}
			}
			if len(cs) < feedBatch {
				return false, nil
			}
		}
	})
}
