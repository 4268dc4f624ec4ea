package backup

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"larder/backup/rdb"
	"larder/backup/scratch"
	"larder/engine"
	"larder/fault"
)

// VerifyOptions say where and with what a backup is verified.
type VerifyOptions struct {
	Engine string // the engine binary; "" finds one (scratch.FindEngine)
	// Dir holds the scratch node's data while it runs (the RDB, then the
	// RDB it saves): room for twice the RDB. "" is the system's temp dir.
	Dir          string
	StartTimeout time.Duration // the load included; default 10 min
}

// Verified is what a verification proved.
type Verified struct {
	Manifest *Manifest
	Keys     int64  // keys the engine loaded
	Digest   string // the digest of what it loaded
	Took     time.Duration
}

// Verify proves that an archive restores: its files match the manifest's
// checksums, a fresh engine loads its dump.rdb, holds the manifest's key
// count in each database, and the RDB that engine saves back digests to
// the manifest's digest (so every key came back with its type, value and
// expiry). The scratch node runs in a private temp directory, on a unix
// socket, and is gone when Verify returns.
//
// The scratch node loads the data as a replica (of nothing it can reach),
// because a primary drops keys whose expiry has passed while it loads:
// those keys were in the snapshot and count in the manifest. The digest is
// recomputed from a SAVE rather than by reading keys through commands for
// the same reason (a replica hides expired keys from reads), and because
// it reads a 1 GB dataset in seconds.
//
// A bad backup gives an error wrapping ErrCorrupt that says what differed;
// any other error means it could not be verified now.
func Verify(ctx context.Context, archive io.Reader, opts VerifyOptions) (*Verified, error) {
	start := time.Now()
	dir, m, err := unpackTemp(archive, opts.Dir, "larder-verify-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// The digest does not depend on encodings: the SAVE that it is
	// recomputed from skips compressing values, which is most of its cost.
	s, err := scratch.Start(ctx, scratch.Options{Engine: opts.Engine, Dir: dir, DetachedReplica: true,
		StartTimeout: opts.StartTimeout, Config: []string{"rdbcompression no"}})
	if err != nil {
		return nil, loadError(err)
	}
	defer s.Stop()
	c := s.Client(0)
	defer c.Close()
	info, err := c.Info(ctx, "keyspace").Result()
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "verify: read the scratch node's keyspace")
	}
	var diffs []string
	loaded := parseKeyspace(info)
	for _, d := range unionDBs(m.DBs, loaded) {
		if want, got := countOf(m.DBs, d), countOf(loaded, d); want != got {
			diffs = append(diffs, fmt.Sprintf("db%d: the manifest says %d keys, the engine loaded %d", d, want, got))
		}
	}
	if err := c.Save(ctx).Err(); err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "verify: save the scratch node's data")
	}
	f, err := os.Open(filepath.Join(dir, RDBFile))
	if err != nil {
		return nil, storageError(err, "verify: read the scratch node's data")
	}
	defer f.Close()
	sum, err := rdb.Scan(f, nil)
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "verify: read the scratch node's data")
	}
	if sum.Keys != m.Keys {
		diffs = append(diffs, fmt.Sprintf("the manifest says %d keys, the engine holds %d", m.Keys, sum.Keys))
	}
	if sum.Digest != m.Digest {
		diffs = append(diffs, fmt.Sprintf("the manifest's digest is %s, the loaded data's is %s", m.Digest, sum.Digest))
	}
	if sum.Functions != m.Functions {
		diffs = append(diffs, fmt.Sprintf("the manifest says %d function libraries, the engine holds %d", m.Functions, sum.Functions))
	}
	if len(diffs) > 0 {
		return nil, corrupt("verify: the data does not match the manifest: %s", strings.Join(diffs, "; "))
	}
	return &Verified{Manifest: m, Keys: sum.Keys, Digest: sum.Digest, Took: time.Since(start)}, nil
}

// loadError tells an RDB the engine refused (a bad backup) from an engine
// that could not run (no verdict on the backup).
func loadError(err error) error {
	msg := fault.Message(err)
	switch {
	case strings.Contains(msg, "Can't handle RDB format version"):
		return fault.Wrap(fault.Unavailable, err, "verify: the scratch engine is older than the one that wrote this backup: "+msg)
	case strings.Contains(msg, "exited while starting"):
		return corrupt("verify: the engine could not load %s: %s", RDBFile, msg)
	}
	return err
}

// parseKeyspace reads INFO keyspace: "db0:keys=12,expires=3,avg_ttl=0".
func parseKeyspace(info string) []rdb.DB {
	var out []rdb.DB
	for _, d := range engine.ParseInfo(info).Keyspace {
		out = append(out, rdb.DB{DB: d.DB, Keys: d.Keys, Expires: d.Expires})
	}
	return out
}

func countOf(dbs []rdb.DB, db int) int64 {
	for _, d := range dbs {
		if d.DB == db {
			return d.Keys
		}
	}
	return 0
}

func unionDBs(a, b []rdb.DB) []int {
	seen := map[int]bool{}
	var out []int
	for _, d := range append(append([]rdb.DB{}, a...), b...) {
		if !seen[d.DB] {
			seen[d.DB] = true
			out = append(out, d.DB)
		}
	}
	return out
}
