package broker

import (
	"context"
	"time"

	"larder/api"
	"larder/fault"
	"larder/store"
)

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

// startFeed wires the change feed: every commit of the store wakes the
// waiters, a look at the head covers the commits of other brokers, and old
// changes are pruned. It all ends when the hub closes.
func (b *Changes) startFeed() {
	b.store.OnCommit(b.feed.Notify)
	go func() {
		head, _ := b.store.ChangeHead(context.Background())
		look := time.NewTicker(feedHeadEvery)
		defer look.Stop()
		prune := time.NewTicker(feedPruneEvery)
		defer prune.Stop()
		for {
			select {
			case <-b.feed.Closed():
				return
			case <-look.C:
				if h, err := b.store.ChangeHead(context.Background()); err == nil && h != head {
					head = h
					b.feed.Notify()
				}
			case <-prune.C:
				if n, err := b.store.PruneChanges(context.Background(), time.Now().Add(-feedKeep)); err != nil {
					b.log.WithError(err).Warn("prune the change feed")
				} else if n > 0 {
					b.log.WithField("changes", n).Debug("pruned the change feed")
				}
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
func (b *Changes) WaitOperation(ctx context.Context, key, id string, since time.Time, wait time.Duration) (api.Operation, error) {
	op, err := b.waitOperationChange(ctx, key, id, since, wait)
	if err != nil {
		return api.Operation{}, err
	}
	return operationJSON(op), nil
}

func (b *Changes) waitOperationChange(ctx context.Context, key, id string, since time.Time, wait time.Duration) (store.Operation, error) {
	wait, err := checkWait(wait)
	if err != nil {
		return store.Operation{}, err
	}
	op, err := b.store.OperationByID(ctx, id)
	if err != nil || wait == 0 || OpDone(op) || (!since.IsZero() && !op.UpdatedAt.Equal(since)) {
		return op, err
	}
	if since.IsZero() {
		since = op.UpdatedAt
	}
	release, err := b.feed.Join(key)
	if err != nil {
		return op, err
	}
	defer release()
	_, err = b.feed.Wait(ctx, wait, 0, func() (bool, error) {
		next, err := b.store.OperationByID(ctx, id)
		if err != nil {
			return false, err
		}
		op = next
		return OpDone(op) || !op.UpdatedAt.Equal(since), nil
	})
	return op, err
}

// AppChanges reads app's changes after cursor (negative: from now on),
// waiting up to wait for one when there is none yet.
func (b *Changes) AppChanges(ctx context.Context, key, appName string, cursor int64, wait time.Duration) (api.ChangeBatch, error) {
	wait, err := checkWait(wait)
	if err != nil {
		return api.ChangeBatch{}, err
	}
	app, cursor, err := b.feedStart(ctx, appName, cursor)
	if err != nil {
		return api.ChangeBatch{}, err
	}
	return b.appChanges(ctx, app, cursor, wait, func() (func(), error) { return b.feed.Join(key) })
}

// FollowAppChanges sends app's changes after cursor (negative: from now on)
// to emit as they commit, and an empty batch after every api.MaxWait
// without one (a stream's keepalive), until ctx ends, the broker stops or
// emit fails. The stream counts as one waiter of key all along. started is
// called once the stream is accepted, before the first batch: an error
// returned before it is the request's answer.
func (b *Changes) FollowAppChanges(ctx context.Context, key, appName string, cursor int64, started func() error, emit func(api.ChangeBatch) error) error {
	app, cursor, err := b.feedStart(ctx, appName, cursor)
	if err != nil {
		return err
	}
	release, err := b.feed.Join(key)
	if err != nil {
		return err
	}
	defer release()
	if err := started(); err != nil {
		return err
	}
	joined := func() (func(), error) { return func() {}, nil }
	for {
		batch, err := b.appChanges(ctx, app, cursor, api.MaxWait, joined)
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
func (b *Changes) feedStart(ctx context.Context, appName string, cursor int64) (store.App, int64, error) {
	app, err := b.store.AppByName(ctx, appName)
	if err != nil {
		return app, 0, err
	}
	if cursor < 0 {
		cursor, err = b.store.ChangeHead(ctx)
	}
	return app, cursor, err
}

// appChanges reads once and, when nothing is there yet and wait allows,
// joins the waiters and waits for a commit that brings some.
func (b *Changes) appChanges(ctx context.Context, app store.App, cursor int64, wait time.Duration, join func() (func(), error)) (api.ChangeBatch, error) {
	var out api.ChangeBatch
	check := func() (bool, error) {
		cs, next, reset, err := b.store.AppChanges(ctx, app.ID, cursor, feedBatch)
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
	_, err = b.feed.Wait(ctx, wait, 0, check)
	return out, err
}

func changesJSON(cs []store.Change) []api.Change {
	out := make([]api.Change, 0, len(cs))
	for _, c := range cs {
		out = append(out, api.Change{Seq: c.Seq, Kind: c.Kind, AddonName: c.AddonName, Subject: c.Subject, At: c.At})
	}
	return out
}

// FeedWaiters reports how many requests wait on the change feed now.
func (b *Changes) FeedWaiters() int { return b.feed.Waiters() }
