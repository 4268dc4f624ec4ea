package pairs

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/broker/lead"
	"larder/fault"
	"larder/internal/ratelog"
	"larder/store"
)

// The observers' votes are shared through the store: a broker records each
// report it receives (store.ReportRepo) and folds every recorded report into
// its tracker, its own and the other brokers', in the store's order. So the
// coordinator counts votes sent to any broker, and a broker that takes the
// lease over already knows how long each location has seen a node down.

// The rhythm of following the reports.
const (
	// reportBatch bounds the reports one read returns.
	reportBatch = 500
	// reportLookEvery is how often a broker whose store cannot wake it for
	// other brokers' reports (SQLite, several processes on one file) looks
	// for them; its own reports, and every report on PostgreSQL, wake it
	// at once.
	reportLookEvery = 100 * time.Millisecond
	// reportRetry spaces reads after one failed (the store is away).
	reportRetry = time.Second
	// reportPruneEvery is how often the coordinator prunes old reports;
	// reportKeepMargin is kept beyond what a take-over needs, for brokers'
	// clocks that differ and a reader that lags.
	reportPruneEvery = 15 * time.Second
	reportKeepMargin = time.Minute
)

// votes folds the store's reports into the tracker, each once, in id order.
type votes struct {
	b      *Pairs
	log    logrus.FieldLogger
	logged *ratelog.Limiter
	wake   chan struct{} // a report was recorded

	mu     sync.Mutex // one fold at a time: the cursor and the tracker move together
	cursor int64      // the id of the last report folded
	loaded bool       // the recent reports were loaded (load)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newVotes(b *Pairs) *votes {
	v := &votes{b: b, log: b.log.WithField("component", "votes"), logged: ratelog.New(time.Minute, time.Now), wake: make(chan struct{}, 1)}
	v.ctx, v.cancel = context.WithCancel(context.Background())
	b.store.OnReport(func() {
		select {
		case v.wake <- struct{}{}:
		default:
		}
	})
	return v
}

// span is how far back the reports matter to the tracker: a run lasts the
// window, a location older than Fresh does not vote, and a silence longer
// than the tracker's maxGap (Fresh) starts its runs again.
func (b *Pairs) span() time.Duration { return b.cfg.FailoverWindow + 2*b.cfg.MonitorFresh }

// MonitorReport records one observer's probe round in the store, for every
// broker (this one included) to fold in.
func (b *Pairs) MonitorReport(ctx context.Context, rep api.MonitorReport) error {
	if rep.Location == "" || rep.Observer == "" {
		return fault.E(fault.Invalid, "a report needs its location and observer")
	}
	body, err := json.Marshal(rep)
	if err != nil {
		return fault.E(fault.Invalid, "report: %v", err)
	}
	r := store.ObserverReport{BrokerID: b.cfg.BrokerID, ReceivedAt: b.coord.Clock().Now(), Location: rep.Location, Observer: rep.Observer, Body: body}
	if err := b.store.AppendReport(ctx, &r); err != nil {
		return err
	}
	for _, o := range rep.Nodes {
		b.count.Vote(rep.Location, o.Up)
	}
	// Folded before the answer, so this broker's view (larder monitors)
	// has it at once; the reader would fold it a moment later otherwise.
	b.votes.catchUp(ctx)
	return nil
}

// FollowReports loads the reports recent enough to matter and follows the
// store's reports from there until Close. Call it before this broker can
// coordinate: a coordinator decides on a warm tracker.
func (b *Pairs) FollowReports(ctx context.Context) error {
	v := b.votes
	v.mu.Lock()
	err := v.fold(ctx, b.coord.Clock().Now().Add(-b.span()))
	v.loaded = err == nil
	v.mu.Unlock()
	if err != nil {
		return err
	}
	v.wg.Add(1)
	go v.run()
	return nil
}

// catchUp folds the reports recorded since the last fold, once the recent
// ones were loaded (before, load will).
func (v *votes) catchUp(ctx context.Context) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.loaded {
		return
	}
	if err := v.fold(ctx, time.Time{}); err != nil && ctx.Err() == nil {
		v.warn("read the observers' reports", err)
	}
}

// fold reads the reports after the cursor and folds them in, skipping those
// received before skip (zero: none), and moves the cursor past them. v.mu
// is held.
func (v *votes) fold(ctx context.Context, skip time.Time) error {
	down := false
	defer func() {
		if down {
			v.b.recon.Nudge()
		}
	}()
	for {
		rows, err := v.b.store.ReportsAfter(ctx, v.cursor, reportBatch)
		if err != nil {
			return err
		}
		for _, r := range rows {
			v.cursor = r.ID
			if r.ReceivedAt.Before(skip) {
				continue
			}
			var rep api.MonitorReport
			if err := json.Unmarshal(r.Body, &rep); err != nil {
				v.warn("an unreadable report", err)
				continue
			}
			v.b.tracker.Record(rep, r.ReceivedAt)
			for _, o := range rep.Nodes {
				down = down || !o.Up
			}
		}
		if len(rows) < reportBatch {
			return nil
		}
	}
}

// run folds the reports as they are recorded, and prunes old ones while
// this broker coordinates.
func (v *votes) run() {
	defer v.wg.Done()
	var looks <-chan time.Time
	if rc, ok := v.b.store.(store.RemoteCommits); !ok || !rc.RemoteCommits() {
		t := time.NewTicker(reportLookEvery)
		defer t.Stop()
		looks = t.C
	}
	prune := time.NewTicker(reportPruneEvery)
	defer prune.Stop()
	var retry <-chan time.Time
	for {
		select {
		case <-v.ctx.Done():
			return
		case <-v.wake:
		case <-looks:
		case <-retry:
		case <-prune.C:
			v.prune()
			continue
		}
		v.mu.Lock()
		err := v.fold(v.ctx, time.Time{})
		v.mu.Unlock()
		retry = nil
		if err != nil && v.ctx.Err() == nil {
			v.warn("read the observers' reports", err)
			retry = time.After(reportRetry)
		}
	}
}

// prune drops the reports no take-over needs, under the coordinator lease.
func (v *votes) prune() {
	lead.Run(v.b.cfg.Lead, v.ctx, func(ctx context.Context) {
		before := v.b.coord.Clock().Now().Add(-v.b.span() - reportKeepMargin)
		if n, err := v.b.store.PruneReports(ctx, before); err != nil {
			v.warn("prune the observers' reports", err)
		} else if n > 0 {
			v.log.WithField("reports", n).Debug("pruned the observers' reports")
		}
	})
}

func (v *votes) warn(what string, err error) {
	if ok, _ := v.logged.Allow(what); ok {
		v.log.WithError(err).Warn(what)
	}
}

// close stops following the reports.
func (v *votes) close() {
	v.cancel()
	v.wg.Wait()
}
