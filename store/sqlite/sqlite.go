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

	"larder/internal/atomicfile"
	"larder/store"
	"larder/store/internal/sqlrepo"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is an open SQLite database.
type DB struct {
	sqlrepo.Repo
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
	sqlrepo.Repo
	x *sqlx.Tx
}

// dialect is SQLite's SQL: ? placeholders, UTC timestamps stored as text
// (so comparing them compares the instants), the change feed's times in
// the format its triggers write.
var dialect = &sqlrepo.Dialect{
	Bind:         sqlx.QUESTION,
	IsUnique:     isUnique,
	IsForeignKey: isForeignKey,
	Now:          utcNow,
	Greatest:     "MAX",
	Stamp:        func(t time.Time) any { return t.UTC().Format("2006-01-02T15:04:05.000Z") },
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
	s := &DB{db: db, hooks: hooks, Repo: sqlrepo.New(notifying{db, hooks}, dialect)}
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
			if err := tx.x.GetContext(ctx, &n, `SELECT COUNT(*) FROM schema_migrations WHERE name = ?`, name); err != nil {
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

// OnCommit registers fn to be called after every commit, of a transaction or
// of a statement run on its own, once the change is visible to readers. fn
// must be quick (it runs on the writer's goroutine) and must not write.
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

// isUnique reports whether err is a UNIQUE constraint violation.
func isUnique(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique ||
		strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// isForeignKey reports whether err is a FOREIGN KEY constraint violation.
func isForeignKey(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintForeignKey ||
		strings.Contains(err.Error(), "FOREIGN KEY constraint failed")
}
