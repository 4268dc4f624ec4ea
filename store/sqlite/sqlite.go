// Package sqlite is larder's default store: store.Store on one SQLite file
// (sqlx + go-sqlite3). Migrations are embedded in the binary and applied on
// open. It holds no business rules; store/storetest is the contract it keeps.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3"

	"larder/fault"
	"larder/internal/atomicfile"
	"larder/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is an open SQLite database.
type DB struct {
	repo
	db    *sqlx.DB
	hooks *commitHooks
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

// notifying runs the hooks after each statement that succeeds outside a
// transaction (it committed on its own).
type notifying struct {
	*sqlx.DB
	hooks *commitHooks
}

func (n notifying) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := n.DB.ExecContext(ctx, query, args...)
	if err == nil {
		n.hooks.run()
	}
	return res, err
}

// txn is a transaction; its repositories see and change only its snapshot.
type txn struct {
	repo
}

// repo is store.Q over one handle (the database's, or a transaction's): a
// repository per kind of record (appRepo, addonRepo, … — as store.Q is made
// of store.AppRepo, store.AddonRepo, …), each in its own file and on the same
// conn, so one transaction spans them all. Shared by DB and txn.
type repo struct {
	conn // for what spans kinds (the change feed, transactions)
	appRepo
	addonRepo
	attachmentRepo
	nodeRepo
	hostRepo
	operationRepo
	forkRepo
	osbRepo
	backupRepo
	edgeRepo
}

// newRepo returns the repositories over c.
func newRepo(c conn) repo {
	return repo{c, appRepo{c}, addonRepo{c}, attachmentRepo{c}, nodeRepo{c}, hostRepo{c}, operationRepo{c}, forkRepo{c}, osbRepo{c}, backupRepo{c}, edgeRepo{c}}
}

// The repositories of each kind of record.
type (
	appRepo        struct{ conn }
	addonRepo      struct{ conn }
	attachmentRepo struct{ conn }
	nodeRepo       struct{ conn }
	hostRepo       struct{ conn }
	operationRepo  struct{ conn }
	forkRepo       struct{ conn }
	osbRepo        struct{ conn }
	backupRepo     struct{ conn }
	edgeRepo       struct{ conn }
)

// conn is the handle the repositories share, with their clock.
type conn struct {
	x   sqlx.ExtContext
	now func() time.Time
}

var (
	_ store.Store = (*DB)(nil)
	_ store.Tx    = txn{}
)

// Open opens (creating if needed) the SQLite file at path in WAL mode with a busy
// timeout, and applies pending migrations. The file holds passwords: it is
// made 0600 whatever the umask, before SQLite opens it, since SQLite gives
// the -wal and -shm files it creates later the database file's mode.
func Open(ctx context.Context, path string) (*DB, error) {
	if err := private(path); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// _txlock=immediate: every transaction takes the write lock up front, so two
	// writers queue on the busy timeout instead of failing on lock upgrade.
	dsn := fmt.Sprintf("file:%s?_journal_mode=WAL&_busy_timeout=10000&_foreign_keys=on&_txlock=immediate&_synchronous=NORMAL", path)
	db, err := sqlx.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	hooks := &commitHooks{}
	s := &DB{db: db, hooks: hooks, repo: newRepo(conn{x: notifying{db, hooks}, now: utcNow})}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// private creates the database file 0600 if it is missing, and makes it and
// its -wal and -shm (left by an older larder) 0600 if they are looser.
func private(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := atomicfile.PrivateFile(p); err != nil {
			return err
		}
	}
	return nil
}

func utcNow() time.Time { return time.Now().UTC() }

// Close closes the database.
func (s *DB) Close() error { return s.db.Close() }

func (s *DB) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMP NOT NULL)`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		err := s.InTx(ctx, func(t store.Tx) error {
			tx := t.(txn)
			var n int
			if err := sqlx.GetContext(ctx, tx.x, &n, `SELECT COUNT(*) FROM schema_migrations WHERE name = ?`, name); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			body, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			if _, err := tx.x.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err = tx.x.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`, name, utcNow())
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %s: %w", name, err)
		}
	}
	return nil
}

// InTx runs fn in a transaction, committing when it returns nil and rolling
// back otherwise.
func (s *DB) InTx(ctx context.Context, fn func(tx store.Tx) error) error {
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
	if err := fn(txn{newRepo(conn{x: sqltx, now: s.now})}); err != nil {
		return err
	}
	if err := sqltx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	ok = true
	s.hooks.run()
	return nil
}

// OnCommit registers fn to be called after every commit, of a transaction or
// of a statement run on its own, once the change is visible to readers. fn
// must be quick (it runs on the writer's goroutine) and must not write.
func (s *DB) OnCommit(fn func()) {
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	s.hooks.fns = append(s.hooks.fns, fn)
}

// notFound turns sql.ErrNoRows into a NotFound fault with msg.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fault.E(fault.NotFound, format, args...)
	}
	return err
}

// isUnique reports whether err is a UNIQUE constraint violation.
func isUnique(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique ||
		err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// isForeignKey reports whether err is a FOREIGN KEY constraint violation.
func isForeignKey(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintForeignKey ||
		err != nil && strings.Contains(err.Error(), "FOREIGN KEY constraint failed")
}

func (q conn) get(ctx context.Context, dest any, query string, args ...any) error {
	return sqlx.GetContext(ctx, q.x, dest, query, args...)
}

func (q conn) sel(ctx context.Context, dest any, query string, args ...any) error {
	return sqlx.SelectContext(ctx, q.x, dest, query, args...)
}

func (q conn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return q.x.ExecContext(ctx, query, args...)
}

// execOne runs a statement that must change exactly one row.
func (q conn) execOne(ctx context.Context, what string, query string, args ...any) error {
	res, err := q.exec(ctx, query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fault.E(fault.NotFound, "%s not found", what)
	}
	return nil
}

// changed reports whether a statement changed exactly one row.
func (q conn) changed(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
