package backup

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/backup/rdb"
	"larder/fault"
)

// LoadOptions tune a restore into a running node.
type LoadOptions struct {
	// Replace empties the node first (FLUSHALL, FUNCTION FLUSH). Without
	// it the node must hold no keys, and Load refuses to touch one that does.
	Replace bool
	// Dir holds the archive's dump.rdb while it loads; "" is the system's
	// temp dir.
	Dir string
	Now func() time.Time
	// Progress, when set, is called with the number of keys restored so
	// far, every ProgressEvery keys, once they have been sent to the node.
	Progress func(keys int64)
}

// ProgressEvery is how many keys Load restores between two Progress calls.
const ProgressEvery = 1000

// Loaded is what a restore did.
type Loaded struct {
	Manifest  *Manifest
	Keys      int64 // keys restored
	Expired   int64 // keys whose expiry had passed, left out as the engine would
	Functions int
	Took      time.Duration
}

// Load restores an archive into a running node through its admin user:
// every key with RESTORE … ABSTTL (its value exactly as the engine
// serialized it, its expiry as the same absolute time), every function
// library with FUNCTION RESTORE. It checks the archive against its
// manifest before it touches the node, and refuses a corrupt one.
//
// It works the same on a local node and on one behind a remote agent, and
// keeps the node's own config, users and persistence: with an AOF, the
// AOF records the restore like any write, and a standby receives it by
// replication. The caller stops the add-on's writes for the duration
// (Load's own commands are writes too, so CLIENT PAUSE cannot be used).
func Load(ctx context.Context, archive io.Reader, into Node, opts LoadOptions) (*Loaded, error) {
	start := time.Now()
	if opts.Now == nil {
		opts.Now = time.Now
	}
	dir, m, err := unpackTemp(archive, opts.Dir, "larder-restore-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	client := redis.NewClient(&redis.Options{Addr: into.Address(), Username: into.User, Password: into.Password,
		Protocol: 2, DisableIdentity: true, ReadTimeout: 5 * time.Minute, WriteTimeout: time.Minute, MaxRetries: -1, PoolSize: 1})
	defer client.Close()
	conn := client.Conn()
	defer conn.Close()
	fail := func(err error, what string) error {
		return fault.Wrap(fault.Unavailable, err, fmt.Sprintf("restore into %s: %s", into.Name, what))
	}
	if err := prepareTarget(ctx, conn, into, opts.Replace); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(dir, RDBFile))
	if err != nil {
		return nil, storageError(err, "restore: read "+RDBFile)
	}
	defer f.Close()
	res := &Loaded{Manifest: m}
	l, err := newKeyStream(ctx, into, opts.Replace, m.RDBVersion)
	if err != nil {
		return nil, err
	}
	var functions [][]byte
	now := opts.Now().UnixMilli()
	_, err = rdb.Scan(f, &rdb.Options{
		OnKey: func(k *rdb.Key) error {
			if k.ExpireMS != -1 && k.ExpireMS <= now {
				res.Expired++
				return nil
			}
			res.Keys++
			if err := l.restore(k); err != nil {
				return err
			}
			if opts.Progress != nil && res.Keys%ProgressEvery == 0 {
				if err := l.flush(); err != nil {
					return err
				}
				opts.Progress(res.Keys)
			}
			return nil
		},
		OnFunction: func(payload []byte) error {
			functions = append(functions, rdb.DumpPayload(nil, payload, m.RDBVersion))
			return nil
		},
	})
	if lerr := l.close(); lerr != nil {
		return nil, lerr
	}
	if err != nil {
		return nil, fail(err, "read "+RDBFile)
	}
	for _, p := range functions {
		if err := conn.Do(ctx, "FUNCTION", "RESTORE", p).Err(); err != nil {
			return nil, fail(err, "FUNCTION RESTORE")
		}
		res.Functions++
	}
	res.Took = time.Since(start)
	return res, nil
}

// prepareTarget empties the node when asked to, and otherwise makes sure
// there is nothing a restore could overwrite.
func prepareTarget(ctx context.Context, conn *redis.Conn, into Node, replace bool) error {
	if err := conn.Ping(ctx).Err(); err != nil {
		if msg := err.Error(); strings.HasPrefix(msg, "WRONGPASS") || strings.HasPrefix(msg, "NOAUTH") {
			return fault.E(fault.Unauthorized, "restore into %s: the node refused the credentials", into.Name)
		}
		return fault.Wrap(fault.Unavailable, err, fmt.Sprintf("restore into %s: cannot reach it", into.Name))
	}
	if replace {
		for _, args := range [][]any{{"FLUSHALL"}, {"FUNCTION", "FLUSH"}} {
			if err := conn.Do(ctx, args...).Err(); err != nil {
				return fault.Wrap(fault.Unavailable, err, fmt.Sprintf("restore into %s: %s", into.Name, args[0]))
			}
		}
		return nil
	}
	info, err := conn.Info(ctx, "keyspace").Result()
	if err != nil {
		return fault.Wrap(fault.Unavailable, err, fmt.Sprintf("restore into %s: cannot reach it", into.Name))
	}
	var keys int64
	for _, d := range parseKeyspace(info) {
		keys += d.Keys
	}
	if keys > 0 {
		return fault.E(fault.Conflict, "restore into %s: it holds %d keys; a restore replaces them only when asked to", into.Name, keys)
	}
	return nil
}

// Extract checks an archive against its manifest and only then puts its
// dump.rdb into dir (0600, atomically), for a node that is not running:
// it loads the data when it starts. A node whose config enables an AOF
// ignores dump.rdb when it has no AOF yet, so such a node must start with
// appendonly off and turn it on live (CONFIG SET appendonly yes rewrites
// the AOF from memory); Load has no such catch.
func Extract(archive io.Reader, dir string) (*Manifest, error) {
	tmp, m, err := unpackTemp(archive, dir, ".larder-extract-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := syncFile(filepath.Join(tmp, RDBFile)); err != nil {
		return nil, err
	}
	if err := os.Rename(filepath.Join(tmp, RDBFile), filepath.Join(dir, RDBFile)); err != nil {
		return nil, storageError(err, "extract: move "+RDBFile)
	}
	return m, syncDir(dir)
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return storageError(err, "sync "+filepath.Base(path))
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return storageError(err, "sync "+filepath.Base(path))
	}
	return nil
}
