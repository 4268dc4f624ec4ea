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
	"os"
	"strings"
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
	*sqlrepo.Base
	db *sqlx.DB
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

var _ store.Store = (*DB)(nil)

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
	db, err := sqlx.Open(driverName, dsn)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	s := &DB{Base: sqlrepo.NewBase(db, dialect), db: db}
	if err := s.Migrate(ctx, migrations, `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMP NOT NULL)`, ""); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// driverName is go-sqlite3 with every connection reading the file through
// a memory map (PRAGMA mmap_size; the DSN has no parameter for it). Through
// SQLite's own page cache (2 MB a connection), a listing of 10 000 add-ons
// by name read most pages with a system call each, in no order, every time:
// it took two thirds longer than through the map, which the kernel's page
// cache serves and every connection shares.
const driverName = "sqlite3_larder"

func init() {
	sql.Register(driverName, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec("PRAGMA mmap_size = 1073741824", nil)
		return err
	}})
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

// isUnique reports whether err is a UNIQUE or PRIMARY KEY constraint
// violation.
func isUnique(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey) ||
		strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// isForeignKey reports whether err is a FOREIGN KEY constraint violation.
func isForeignKey(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintForeignKey ||
		strings.Contains(err.Error(), "FOREIGN KEY constraint failed")
}
