// Package backup takes, proves and restores backups of larder's nodes.
//
// # Capture
//
// Capture takes a point-in-time snapshot of a running node over the
// network, as a replica's full sync does and as `redis-cli --rdb` does:
// AUTH, REPLCONF capa eof (so the node may stream the RDB as its fork makes
// it, "diskless", ending with a 40-byte mark), REPLCONF rdb-only 1 (so the
// node buffers no write stream for it), PSYNC ? -1; both the "$EOF:<mark>"
// and the "$<length>" payloads are read. It needs no file of the node's, so
// a node behind a remote agent is captured the same way, and it runs on the
// standby when there is one (the standby forks; the primary does nothing).
// The user it authenticates as needs CaptureACL, "-@all +psync +replconf
// +ping": the replication user's rights (PSYNC, not SYNC, which is what
// redis-cli sends). A user of its own keeps backups revocable apart from
// replication.
//
// The RDB streams into the archive as it arrives while it is hashed
// (sha256) and read by package rdb, which counts its keys per database and
// computes a digest of its logical content: three goroutines, so that the
// network, the archive's writes and the reading overlap.
//
// No AOF is included. The RDB of a full sync is the whole dataset at one
// instant (the fork's); an AOF copied from a live node describes the same
// data at another instant, can only be read from the node's disk, and
// would change how a node loads the backup (an engine with an AOF loads it
// instead of dump.rdb). It adds nothing a consistent backup needs.
//
// # Archive
//
// A backup is NAME.tar.gz holding dump.rdb and manifest.json (add-on, plan,
// engine and version, RDB version, time, source node, key count per
// database, function libraries, the digest, and each file's size and
// sha256). `tar xzf` extracts it, and `redis-server --dir DIR --dbfilename
// dump.rdb` serves the data. gzip runs at level 0 by default (see
// CaptureOptions.Compression): the engine already compressed every value.
//
// # Verification
//
// Verify unpacks an archive (refusing it when a checksum fails), starts a
// scratch engine on it (package scratch: a private directory, a unix
// socket, gone afterwards), compares its keyspace with the manifest, has
// it save what it loaded and recomputes the digest from that. The engine
// proves the RDB loads; the digest proves every key came back with its
// type, value and expiry. A bad backup gives an error wrapping ErrCorrupt.
//
// # Restore
//
// Load restores an archive into a running node through its admin user
// (RESTORE … ABSTTL per key, FUNCTION RESTORE per library), after checking
// the archive. It is the recommended way, into an existing add-on and into
// a new one alike: it works on local and remote hosts, keeps expiries
// exact, keeps the node's config, users and AOF (which records the restore
// as it does any write), and a standby receives the data by replication.
// The caller stops the add-on's writes meanwhile. Extract is the way for a
// node that is stopped; a node with appendonly yes ignores dump.rdb until
// it has an AOF, so it must start with appendonly off.
//
// # Keeping
//
// Take composes a backup: capture into a stage directory, verify there,
// store in a target (package target: a local directory or an S3-compatible
// store). Expired chooses what retention deletes: only backups that a
// newer verified one covers. Daily is a schedule ("02:00 UTC").
package backup
