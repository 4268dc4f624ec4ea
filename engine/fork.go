package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/fault"
)

// Fork methods.
const (
	ForkSync = "sync" // the node replicated from the source, then stopped following it
	ForkCopy = "copy" // keys were copied with SCAN + DUMP/RESTORE
)

// ForkProgress is a running fork's state.
type ForkProgress struct {
	Method     string
	Reason     string // why the copy, when the fork copies
	Phase      string // what goes on now, in words: "receiving", "loading", …
	BytesDone  int64
	BytesTotal int64 // 0 when not known yet
	KeysDone   int64
	KeysTotal  int64
}

// ForkOptions tune Fork; zero values take the defaults noted.
type ForkOptions struct {
	// Repl is the node's own replication user: once the node stops following
	// the source, it authenticates with it again (to its pair, after a swap).
	Repl User
	// StartTimeout is how long the source may take to start sending its data
	// before the fork gives up on replication and copies instead; default 15s.
	StartTimeout time.Duration
	// StallTimeout fails a started sync that makes no progress for this
	// long; default 60s.
	StallTimeout time.Duration
	// CatchUpTimeout bounds the wait for the writes the source took while
	// the snapshot was loading; default 10s.
	CatchUpTimeout time.Duration
	// Poll is how often the node is read; default 100ms.
	Poll time.Duration
	// Copy tunes the fallback.
	Copy CopyOptions
	// Progress is called, from one goroutine at a time, as the fork moves.
	Progress func(ForkProgress)
}

func (o *ForkOptions) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.StartTimeout, 15*time.Second)
	def(&o.StallTimeout, 60*time.Second)
	def(&o.CatchUpTimeout, 10*time.Second)
	def(&o.Poll, 100*time.Millisecond)
	if o.Progress == nil {
		o.Progress = func(ForkProgress) {}
	}
}

// ForkResult says how a fork went.
type ForkResult struct {
	Method string
	Reason string // why it copied, when it did
	Keys   int64
	Bytes  int64 // RDB bytes received (sync) or DUMP payload bytes (copy)
	Took   time.Duration
}

// Fork fills t, a new and empty primary, with src's data and leaves it an
// independent primary. Where the source allows it, t replicates from it
// (REPLICAOF with the source's credentials) until it is in sync, then stops
// following (REPLICAOF NO ONE): a consistent snapshot plus every write the
// source took meanwhile. Where it does not (ACLs without +psync +sync, managed
// services that disable SYNC, TLS sources, or a sync that does not start
// within StartTimeout), keys are copied with SCAN + DUMP/RESTORE instead,
// TTLs kept. A standby of t follows t throughout, as usual.
func Fork(ctx context.Context, t Target, src Source, info SourceInfo, opts ForkOptions) (ForkResult, error) {
	opts.setDefaults()
	began := time.Now()
	reason := ""
	switch {
	case src.TLS:
		reason = "the source uses TLS, which larder's replication links do not"
	case info.SyncKnown && !info.SyncAllowed:
		reason = "the source refuses SYNC/PSYNC (" + info.SyncRefusal + ")"
	}
	if reason == "" {
		res, err := forkBySync(ctx, t, src, info, opts)
		var ns *syncNotStarted
		if !errors.As(err, &ns) {
			res.Took = time.Since(began)
			return res, err
		}
		reason = ns.reason
	}
	res, err := forkByCopy(ctx, t, src, info, reason, opts)
	res.Took = time.Since(began)
	return res, err
}

// maxSyncFailures is how many snapshots a fork may fail to load before it
// gives up.
const maxSyncFailures = 3

// syncNotStarted: the source never began sending data; the fork copies instead.
type syncNotStarted struct{ reason string }

func (e *syncNotStarted) Error() string { return e.reason }

// forkBySync replicates src into t, then detaches t.
func forkBySync(ctx context.Context, t Target, src Source, info SourceInfo, opts ForkOptions) (ForkResult, error) {
	c := t.client()
	defer c.Close()
	res := ForkResult{Method: ForkSync}
	opts.Progress(ForkProgress{Method: ForkSync, Phase: "connecting to the source", KeysTotal: info.Keys})
	// The node is empty: it may load the snapshot straight from the socket.
	// Engines without the setting load from disk, as ever. The default comes
	// back whatever happens.
	c.ConfigSet(ctx, "repl-diskless-load", "on-empty-db")
	defer c.ConfigSet(context.WithoutCancel(ctx), "repl-diskless-load", "disabled")
	err := c.Do(ctx, "CONFIG", "SET", "masteruser", src.User.Name, "masterauth", src.User.Password).Err()
	if err == nil {
		err = c.Do(ctx, "REPLICAOF", src.Addr, strconv.Itoa(src.Port)).Err()
	}
	if err != nil {
		StopFollowing(context.WithoutCancel(ctx), t, opts.Repl)
		return res, fault.Wrap(fault.Unavailable, err, fmt.Sprintf("make %s a replica of %s", t.Name, src))
	}
	progress, err := waitSynced(ctx, c, t, src, info, opts, &res)
	if err != nil {
		// Whatever comes next (a copy, or the add-on's removal), the node
		// stops following the source and forgets its password.
		StopFollowing(context.WithoutCancel(ctx), t, opts.Repl)
		return res, err
	}
	progress.Phase = "catching up with the source"
	opts.Progress(progress)
	catchUp(ctx, c, src, opts)
	if err := StopFollowing(ctx, t, opts.Repl); err != nil {
		return res, err
	}
	if res.Keys, err = countKeys(ctx, c); err != nil {
		return res, fault.Wrap(fault.Unavailable, err, "count the forked keys on "+t.Name)
	}
	progress.Phase, progress.KeysDone = "in sync", res.Keys
	opts.Progress(progress)
	return res, nil
}

// waitSynced polls the replica until it is in sync with src. A source that
// never starts sending data within StartTimeout gives syncNotStarted; one
// that stops for StallTimeout fails the fork.
func waitSynced(ctx context.Context, c *redis.Client, t Target, src Source, info SourceInfo, opts ForkOptions, res *ForkResult) (ForkProgress, error) {
	sc := src.client(0, 2*time.Second)
	defer sc.Close()
	var askedSource time.Time
	listed := false // the source has accepted the sync
	progress := ForkProgress{Method: ForkSync, KeysTotal: info.Keys}
	began := time.Now()
	lastMove := began
	var waitingSince time.Time
	started := false
	var prev syncState
	failed := 0                   // transfers or loads that ended without the link coming up
	delay := 2 * time.Millisecond // a small dataset syncs in milliseconds
	for {
		st, err := readSyncState(ctx, c)
		if err == nil {
			if st.inSync(src.Endpoint) {
				return progress, nil
			}
			// The engine retries a sync whose snapshot it could not load (a
			// newer engine's format, a module it lacks) forever: give up.
			if (prev.loading || prev.readBytes > 0) && !st.inProgress && !st.loading && !st.linkUp {
				if failed++; failed >= maxSyncFailures {
					return progress, fault.E(fault.Unavailable, "%s could not load the snapshot of %s (%d attempts); is the source a newer engine than this one?", t.Name, src, failed)
				}
			}
			prev = st
			// Data arriving, a snapshot loading, or the source's keepalives
			// while it writes the snapshot: the sync is moving.
			if st.readBytes > res.Bytes || st.loading || st.inProgress && st.lastIOAgo <= 5 {
				res.Bytes, lastMove = max(res.Bytes, st.readBytes), time.Now()
			}
			// Waiting for the source's snapshot keeps "sync in progress" set;
			// a refused handshake drops it within milliseconds, every second.
			switch {
			case !st.inProgress:
				waitingSince = time.Time{}
			case waitingSince.IsZero():
				waitingSince = time.Now()
			}
			if st.linkUp || st.readBytes > 0 || st.loading || !waitingSince.IsZero() && time.Since(waitingSince) > 2*time.Second {
				started = true
			}
			// A source that delays its snapshot (repl-diskless-sync-delay)
			// or writes it to disk first lists the replica as waiting
			// meanwhile: the sync has started, and is moving.
			if !st.linkUp && !st.loading && st.readBytes == 0 && time.Since(askedSource) > 500*time.Millisecond {
				askedSource = time.Now()
				listed = listsReplica(ctx, sc, t.Port)
				if listed {
					started, lastMove = true, time.Now()
				}
			}
			progress = st.progress(progress)
			if listed && !st.inProgress && !st.linkUp {
				progress.Phase = "the source is preparing its snapshot"
			}
			opts.Progress(progress)
		}
		switch {
		case !started && time.Since(began) > opts.StartTimeout:
			return progress, &syncNotStarted{fmt.Sprintf("the source did not start a sync within %v", opts.StartTimeout)}
		case started && time.Since(lastMove) > opts.StallTimeout:
			return progress, fault.E(fault.Unavailable, "the sync from %s stalled: no data for %v", src, opts.StallTimeout)
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return progress, ctx.Err()
		case <-timer.C:
		}
		delay = min(2*delay, opts.Poll)
	}
}

// listsReplica reports whether the source counts a replica listening on port
// among its own, in any state: it has accepted that replica's sync.
func listsReplica(ctx context.Context, sc *redis.Client, port int) bool {
	text, err := sc.Info(ctx, "replication").Result()
	if err != nil {
		return false
	}
	for _, r := range ParseInfo(text).Repl.Replicas {
		if r.Port == port {
			return true
		}
	}
	return false
}

// catchUp waits until t has applied the writes the source had taken when the
// snapshot was loaded (best effort: a source that does not tell its offset,
// or keeps writing fast, is left at the moment it was caught up to).
func catchUp(ctx context.Context, c *redis.Client, src Source, opts ForkOptions) {
	cctx, cancel := context.WithTimeout(ctx, opts.CatchUpTimeout)
	defer cancel()
	want, err := SourceOffset(cctx, src)
	if err != nil || want <= 0 {
		return
	}
	for cctx.Err() == nil {
		text, err := c.Info(cctx, "replication").Result()
		if err == nil {
			if ParseInfo(text).Repl.Offset >= want {
				return
			}
		}
		t := time.NewTimer(opts.Poll / 4)
		select {
		case <-cctx.Done():
		case <-t.C:
		}
	}
}

// StopFollowing makes a replica an independent primary again (REPLICAOF NO
// ONE) and points its replication credentials back at repl, the add-on's own
// user, so the source's or leader's password leaves the node's memory.
func StopFollowing(ctx context.Context, t Target, repl User) error {
	c := t.client()
	defer c.Close()
	err := c.Do(ctx, "REPLICAOF", "NO", "ONE").Err()
	if err == nil {
		err = c.Do(ctx, "CONFIG", "SET", "masteruser", repl.Name, "masterauth", repl.Password).Err()
	}
	if err != nil {
		return fault.Wrap(fault.Unavailable, err, fmt.Sprintf("stop %s following its source", t.Name))
	}
	return nil
}

// syncState is a replica's view of its sync, from INFO replication and persistence.
type syncState struct {
	role                 string
	masterHost           string
	masterPort           int
	linkUp, inProgress   bool
	readBytes, totalSize int64
	lastIOAgo            int64
	loading              bool
	loadedPerc           float64
}

func readSyncState(ctx context.Context, c *redis.Client) (syncState, error) {
	text, err := c.Info(ctx, "replication", "persistence").Result()
	if err != nil {
		return syncState{}, err
	}
	in := ParseInfo(text)
	r := in.Repl
	return syncState{
		role: r.Role, masterHost: r.MasterHost, masterPort: r.MasterPort,
		linkUp: r.LinkUp, inProgress: r.SyncInProgress,
		readBytes: r.SyncReadBytes, totalSize: r.SyncTotalBytes, lastIOAgo: r.SyncLastIOAgo,
		loading: in.Loading, loadedPerc: in.LoadedPerc,
	}, nil
}

func (s syncState) inSync(src Endpoint) bool {
	return s.role == "slave" && s.linkUp && !s.inProgress && !s.loading &&
		s.masterHost == src.Addr && s.masterPort == src.Port
}

// progress turns the state into a progress report, keeping what p knew.
func (s syncState) progress(p ForkProgress) ForkProgress {
	switch {
	case s.loading:
		p.Phase = fmt.Sprintf("loading the snapshot: %.0f%%", s.loadedPerc)
		p.KeysDone = int64(float64(p.KeysTotal) * s.loadedPerc / 100)
	case s.inProgress && s.readBytes > 0:
		p.Phase = "receiving the snapshot"
		p.BytesDone = s.readBytes
		if s.totalSize > 0 {
			p.BytesTotal = s.totalSize
		}
	case s.inProgress:
		p.Phase = "waiting for the source's snapshot"
	case !s.linkUp:
		p.Phase = "connecting to the source"
	}
	return p
}

// countKeys sums the keys of every database, from INFO keyspace.
func countKeys(ctx context.Context, c *redis.Client) (int64, error) {
	text, err := c.Info(ctx, "keyspace").Result()
	if err != nil {
		return 0, err
	}
	return parseSourceInfo(text).Keys, nil
}
