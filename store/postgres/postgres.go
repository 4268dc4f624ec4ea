// Package postgres is larder's store for several brokers: store.Store on a
// PostgreSQL database (pgx through database/sql and sqlx), with the same
// queries as store/sqlite (store/internal/sqlrepo) and its own schema
// (migrations/, the same versions as SQLite's, applied on open under a
// lock, so brokers starting together apply each once).
//
// What PostgreSQL changes: transactions run at once, so a serialization
// failure or a deadlock retries the whole transaction (InTx), never a
// statement inside it; the change feed is numbered in commit order by its
// triggers (migrations/0009_changes.sql); and every commit of another broker
// wakes this one's OnCommit hooks through LISTEN/NOTIFY.
package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"

	"larder/fault"
	"larder/internal/backoff"
	"larder/store"
	"larder/store/internal/sqlrepo"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is an open PostgreSQL store.
type DB struct {
	sqlrepo.Repo
	db     *sqlx.DB
	hooks  *commitHooks
	listen *listener
}

// txn is a transaction; its repositories see and change only its snapshot.
type txn struct {
	sqlrepo.Repo
	x *sqlx.Tx
}

var (
	_ store.Store         = (*DB)(nil)
	_ store.Tx            = txn{}
	_ store.RemoteCommits = (*DB)(nil)
)

// dialect is PostgreSQL's SQL: $n placeholders, timestamps to the
// microsecond (a time written and read back is Equal to the one written).
var dialect = &sqlrepo.Dialect{
	Bind:         sqlx.DOLLAR,
	IsUnique:     func(err error) bool { return hasCode(err, "23505") },
	IsForeignKey: func(err error) bool { return hasCode(err, "23503") },
	Now:          func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
	Greatest:     "GREATEST",
	Stamp:        func(t time.Time) any { return t.UTC() },
}

// hasCode reports whether err is a PostgreSQL error with SQLSTATE code.
func hasCode(err error, codes ...string) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	for _, c := range codes {
		if pe.Code == c {
			return true
		}
	}
	return false
}

// retryable reports whether a transaction failed only for running beside
// another (serialization failure, deadlock): run again whole, it may pass.
func retryable(err error) bool { return hasCode(err, "40001", "40P01") }

// IsURL reports whether s names a PostgreSQL store (postgres:// or
// postgresql://).
func IsURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Redact returns a store URL fit for a log: its password masked, in the
// user part or as a parameter. A string that is no URL is hidden whole.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unreadable URL)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// Open connects to the database rawURL names (postgres://user:pw@host/db),
// applies pending migrations and starts listening for other brokers'
// commits. Errors never carry the URL's password.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	u, err := url.Parse(rawURL)
	if err != nil || !IsURL(rawURL) || u.Host == "" {
		return nil, fault.E(fault.Invalid, "store URL %s: want postgres://USER:PASSWORD@HOST[:PORT]/DATABASE", Redact(rawURL))
	}
	pw, _ := u.User.Password()
	if p := u.Query().Get("password"); p != "" {
		pw = p
	}
	s, err := open(ctx, u)
	if err != nil {
		// The whole text is public (a broker prints it as it stops), with the
		// password masked wherever pgx did not mask it.
		msg := fmt.Sprintf("open store %s: %v", Redact(rawURL), err)
		if pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
		return nil, &fault.Error{Kind: fault.KindOf(err), Message: msg}
	}
	return s, nil
}

func open(ctx context.Context, u *url.URL) (*DB, error) {
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		var pe *pgconn.ParseConfigError
		if errors.As(err, &pe) {
			err = pe.Unwrap()
		}
		return nil, fault.E(fault.Invalid, "%v", err)
	}
	// The origin names this store's connections: the notifications of its
	// own commits come back with it, and are skipped.
	var b [8]byte
	rand.Read(b[:])
	origin := "larder-" + hex.EncodeToString(b[:])
	cfg.RuntimeParams["application_name"] = origin
	cfg.RuntimeParams["timezone"] = "UTC"
	listenCfg := cfg.Copy()
	db := sqlx.NewDb(stdlib.OpenDB(*cfg, stdlib.OptionAfterConnect(utcTimes)), "pgx")
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	ping, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := db.PingContext(ping); err != nil {
		db.Close()
		return nil, fault.E(fault.Unavailable, "connect: %v", err)
	}
	hooks := &commitHooks{}
	s := &DB{db: db, hooks: hooks, Repo: sqlrepo.New(notifying{db, hooks}, dialect)}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if s.listen, err = listen(ctx, listenCfg, origin, hooks); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// utcTimes scans timestamps as UTC, as SQLite's are: the same value reads
// the same on both stores.
func utcTimes(_ context.Context, c *pgx.Conn) error {
	c.TypeMap().RegisterType(&pgtype.Type{Name: "timestamptz", OID: pgtype.TimestamptzOID, Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC}})
	return nil
}

// Close stops listening and closes the database.
func (s *DB) Close() error {
	s.listen.close()
	return s.db.Close()
}

// RemoteCommits says OnCommit hooks run for other brokers' commits too.
func (s *DB) RemoteCommits() bool { return true }

// migrationLock is the advisory lock key migrations run under:
// 0x6c61726465720002, "larder", schema.
const migrationLock = 7809649004361416706

// migrate applies each embedded migration not yet recorded, each in a
// transaction of its own that first takes migrationLock: brokers starting
// together wait for each other, and the second finds it recorded.
func (s *DB) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)`); err != nil && !s.IsUnique(err) {
		return fmt.Errorf("create migrations table: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		err := s.InTx(ctx, func(t store.Tx) error {
			tx := t.(txn).x
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
				return err
			}
			var n int
			if err := tx.GetContext(ctx, &n, `SELECT COUNT(*) FROM schema_migrations WHERE name = $1`, name); err != nil || n > 0 {
				return err
			}
			body, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)`, name, time.Now().UTC())
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %s: %w", name, err)
		}
	}
	return nil
}

// IsUnique reports whether err is a unique violation (CREATE TABLE IF NOT
// EXISTS run by two brokers at once may meet one in the catalog).
func (s *DB) IsUnique(err error) bool { return dialect.IsUnique(err) }

// txRetries bounds how often InTx runs a transaction that keeps meeting
// serialization failures or deadlocks.
const txRetries = 8

// txBackoff spaces those runs, so two transactions that deadlocked do not
// meet again at once.
var txBackoff = backoff.Policy{Min: 2 * time.Millisecond, Max: 200 * time.Millisecond}

// InTx runs fn in a transaction, committing when it returns nil and rolling
// back otherwise. A serialization failure or deadlock runs fn again, whole,
// in a new transaction (a few times): fn must only touch the store through
// tx, or be safe to repeat.
func (s *DB) InTx(ctx context.Context, fn func(tx store.Tx) error) error {
	return retry(ctx, func() error { return s.inTx(ctx, fn) })
}

// retry runs try until it succeeds, fails for another reason than a
// serialization failure or deadlock, or has run txRetries times.
func retry(ctx context.Context, try func() error) error {
	b := backoff.Backoff{Policy: txBackoff}
	for attempt := 1; ; attempt++ {
		err := try()
		if err == nil || !retryable(err) || attempt == txRetries {
			return err
		}
		if backoff.Wait(ctx, b.Next()) != nil {
			return err
		}
	}
}

func (s *DB) inTx(ctx context.Context, fn func(tx store.Tx) error) error {
	sqltx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			sqltx.Rollback()
		}
	}()
	if err := fn(txn{sqlrepo.New(sqltx, dialect), sqltx}); err != nil {
		return err
	}
	if err := sqltx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	ok = true
	s.hooks.run()
	return nil
}

// OnCommit registers fn to be called after every commit of this store, of a
// transaction or of a statement run on its own, once the change is visible
// to readers, and after every commit of another broker that recorded a
// change (a notification on larder_changes). fn must be quick and must not
// write.
func (s *DB) OnCommit(fn func()) {
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	s.hooks.fns = append(s.hooks.fns, fn)
}

// PruneChanges drops the changes recorded before t and raises the pruned
// mark, in one transaction.
func (s *DB) PruneChanges(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.InTx(ctx, func(t store.Tx) error {
		var err error
		n, err = sqlrepo.Prune(ctx, t.(txn).Repo, before)
		return err
	})
	return n, err
}

// commitHooks are called after every commit (see DB.OnCommit).
type commitHooks struct {
	mu  sync.RWMutex
	fns []func()
}

func (h *commitHooks) run() {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, fn := range h.fns {
		fn()
	}
}

// notifying runs a statement outside a transaction (it commits on its own),
// again when it only met another transaction (a deadlock rolled it back
// whole), and the hooks after it succeeds.
type notifying struct {
	*sqlx.DB
	hooks *commitHooks
}

func (n notifying) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := retry(ctx, func() (err error) {
		res, err = n.DB.ExecContext(ctx, query, args...)
		return err
	})
	if err == nil {
		n.hooks.run()
	}
	return res, err
}
