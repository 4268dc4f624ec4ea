package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/fault"
)

// CopyOptions bound a key copy; zero values take the defaults noted. At most
// InFlight+2 batches of Batch keys are held in memory at once (one being
// read, InFlight queued, one being written), and never more than the data.
type CopyOptions struct {
	Batch    int           // keys per SCAN and per pipeline; default 1000
	InFlight int           // batches read ahead of the writer; default 2
	Timeout  time.Duration // per round trip; default 30s
}

func (o *CopyOptions) setDefaults() {
	if o.Batch <= 0 {
		o.Batch = 1000
	}
	if o.InFlight <= 0 {
		o.InFlight = 2
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
}

// forkByCopy is Fork's fallback: t is emptied (anything on it came from an
// interrupted attempt), then every key of src is copied.
func forkByCopy(ctx context.Context, t Target, src Source, info SourceInfo, reason string, opts ForkOptions) (ForkResult, error) {
	res := ForkResult{Method: ForkCopy, Reason: reason}
	progress := ForkProgress{Method: ForkCopy, Reason: reason, Phase: "copying keys", KeysTotal: info.Keys}
	opts.Progress(progress)
	c := t.client()
	err := c.FlushAll(ctx).Err()
	c.Close()
	if err != nil {
		return res, fault.Wrap(fault.Unavailable, err, "empty "+t.Name+" before the copy")
	}
	var cerr error
	res.Keys, res.Bytes, cerr = CopyKeys(ctx, src, info.DBs, t, opts.Copy, func(keys, bytes int64) {
		progress.KeysDone, progress.BytesDone = keys, bytes
		opts.Progress(progress)
	})
	return res, cerr
}

// dumped is one key read from the source, ready to restore.
type dumped struct {
	key     string
	ttlMS   int64 // 0: no expiry
	payload string
}

// CopyKeys copies every key of src's databases dbs into the same databases
// of t with SCAN + DUMP/RESTORE: each key with its remaining time to live
// (PTTL, then RESTORE with that TTL), replacing what t holds under its name.
// It is no point-in-time snapshot: keys written while it runs may or may not
// be copied, as with any SCAN. Reads and writes are pipelined and overlap;
// progress is called after each written batch with the running totals (keys,
// DUMP payload bytes).
func CopyKeys(ctx context.Context, src Source, dbs []int, t Target, opts CopyOptions, progress func(keys, bytes int64)) (keys, bytes int64, err error) {
	opts.setDefaults()
	if progress == nil {
		progress = func(int64, int64) {}
	}
	for _, db := range dbs {
		k, b, err := copyDB(ctx, src, db, t, opts, func(k, b int64) { progress(keys+k, bytes+b) })
		keys, bytes = keys+k, bytes+b
		if err != nil {
			return keys, bytes, err
		}
	}
	return keys, bytes, nil
}

func copyDB(ctx context.Context, src Source, db int, t Target, opts CopyOptions, progress func(keys, bytes int64)) (keys, bytes int64, err error) {
	sc := src.client(db, opts.Timeout)
	defer sc.Close()
	tc := t.clientDB(db, opts.Timeout)
	defer tc.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []dumped, opts.InFlight)
	var readErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(batches)
		readErr = dumpKeys(ctx, sc, src, opts.Batch, batches)
	}()
	var writeErr error
	for b := range batches {
		if writeErr != nil {
			continue // drain, so the reader ends
		}
		n, size, err := restoreKeys(ctx, tc, t, db, b)
		keys, bytes = keys+n, bytes+size
		if err != nil {
			writeErr = err
			cancel()
			continue
		}
		progress(keys, bytes)
	}
	wg.Wait()
	switch {
	case writeErr != nil:
		return keys, bytes, writeErr
	case readErr != nil && ctx.Err() == nil:
		return keys, bytes, readErr
	}
	return keys, bytes, context.Cause(ctx)
}

// dumpKeys scans one database of the source and sends its keys, dumped with
// their TTLs, in batches.
func dumpKeys(ctx context.Context, c *redis.Client, src Source, batch int, out chan<- []dumped) error {
	var cursor uint64
	for {
		names, next, err := c.Scan(ctx, cursor, "", int64(batch)).Result()
		if err != nil {
			return copyReadError(src, "SCAN", err)
		}
		if len(names) > 0 {
			b, err := dumpBatch(ctx, c, src, names)
			if err != nil {
				return err
			}
			select {
			case out <- b:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// dumpBatch reads PTTL and DUMP of names in one pipeline. Keys that expired
// or were deleted meanwhile are left out.
func dumpBatch(ctx context.Context, c *redis.Client, src Source, names []string) ([]dumped, error) {
	pipe := c.Pipeline()
	ttls := make([]*redis.Cmd, len(names))
	dumps := make([]*redis.StringCmd, len(names))
	for i, k := range names {
		ttls[i] = pipe.Do(ctx, "PTTL", k)
		dumps[i] = pipe.Dump(ctx, k)
	}
	pipe.Exec(ctx) // each command's own error is read below
	out := make([]dumped, 0, len(names))
	for i, k := range names {
		ttl, err := ttls[i].Int64()
		if err != nil {
			return nil, copyReadError(src, "PTTL", err)
		}
		payload, err := dumps[i].Result()
		if err == redis.Nil || ttl == -2 {
			continue // gone since SCAN saw it
		}
		if err != nil {
			return nil, copyReadError(src, "DUMP", err)
		}
		switch {
		case ttl == -1:
			ttl = 0 // RESTORE's "no expiry"
		case ttl < 1:
			ttl = 1 // about to expire: keep it expiring, not forever
		}
		out = append(out, dumped{key: k, ttlMS: ttl, payload: payload})
	}
	return out, nil
}

// restoreKeys writes one batch with RESTORE … REPLACE in one pipeline.
func restoreKeys(ctx context.Context, c *redis.Client, t Target, db int, b []dumped) (keys, bytes int64, err error) {
	pipe := c.Pipeline()
	cmds := make([]*redis.Cmd, len(b))
	for i, d := range b {
		cmds[i] = pipe.Do(ctx, "RESTORE", d.key, d.ttlMS, d.payload, "REPLACE")
	}
	pipe.Exec(ctx)
	for i, cmd := range cmds {
		if err := cmd.Err(); err != nil {
			msg := firstLine(err.Error())
			if strings.Contains(msg, "payload version") {
				return keys, bytes, fault.E(fault.Invalid, "%s cannot read the source's keys: %s (the source runs a newer engine)", t.Name, msg)
			}
			if !isRedisError(err) {
				return keys, bytes, fault.Wrap(fault.Unavailable, err, fmt.Sprintf("write the copied keys to %s", t.Name))
			}
			return keys, bytes, fault.E(fault.Unavailable, "%s refused a copied key of database %d: %s", t.Name, db, Truncate(msg, 160))
		}
		keys++
		bytes += int64(len(b[i].payload))
	}
	return keys, bytes, nil
}

func copyReadError(src Source, cmd string, err error) error {
	if isNoPerm(err) || strings.Contains(err.Error(), "unknown command") {
		return fault.E(fault.Invalid, "%s does not let its user run %s, which copying needs (%s)", src, cmd, firstLine(err.Error()))
	}
	return sourceError(src, err)
}

// clientDB is t's admin client on database db, with room for big pipelines.
func (t Target) clientDB(db int, timeout time.Duration) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr: t.Endpoint.String(), Username: t.Admin.Name, Password: t.Admin.Password, DB: db,
		DialTimeout: 2 * time.Second, ReadTimeout: timeout, WriteTimeout: timeout,
		PoolSize: 1, MaxRetries: -1, DisableIdentity: true,
	})
}
