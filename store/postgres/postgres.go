// Package postgres is larder's store for several brokers: store.Store on a
// PostgreSQL database (pgx through database/sql and sqlx), with the same
// queries as store/sqlite (store/internal/sqlrepo) and its own schema
// (migrations/, the same versions as SQLite's, applied on open under a
// lock, so brokers starting together apply each once).
//
// What PostgreSQL changes: transactions run at once, so a serialization
// failure or a deadlock retries the whole transaction (InTx), never a
// statement inside it; the change feed and the observers' reports are
// numbered in commit order by their triggers (migrations/0009_changes.sql,
// 0014_monitor_reports.sql); and every commit (report) of another broker
// wakes this one's OnCommit (OnReport) hooks through LISTEN/NOTIFY.
package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
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
	*sqlrepo.Base
	db     *sqlx.DB
	listen *listener
}

var (
	_ store.Store         = (*DB)(nil)
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
	Retry:        retry,
	LockShared:   " FOR SHARE",
	Unreachable:  unreachable,
}

// unreachable reports whether err says PostgreSQL cannot be reached now: no
// connection could be made, the one in use was cut, or the server is
// shutting down, starting up or ending sessions (a restart). The pool makes
// new connections on the next call, so the store serves again as soon as
// the server does.
func unreachable(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false // the caller gave up (a context error is a net.Error too)
	case errors.As(err, &ce), errors.As(err, &ne), errors.Is(err, driver.ErrBadConn),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, sql.ErrConnDone):
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P01-57P03: admin or crash
		// shutdown, cannot connect now.
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	return false
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
	s := &DB{Base: sqlrepo.NewBase(db, dialect), db: db}
	// CREATE TABLE IF NOT EXISTS run by two brokers at once may meet a
	// unique violation in the catalog: Migrate lets it pass.
	if err := s.Migrate(ctx, migrations, `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)`,
		fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d)`, migrationLock)); err != nil {
		db.Close()
		return nil, err
	}
	if s.listen, err = listen(ctx, listenCfg, origin, map[string]func(){changesChannel: s.RunHooks, reportsChannel: s.RunReportHooks}); err != nil {
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

// RemoteCommits says OnCommit hooks run for other brokers' commits too, and
// OnReport hooks for their reports.
func (s *DB) RemoteCommits() bool { return true }

// migrationLock is the advisory lock key migrations run under, so brokers
// starting together apply each once: 0x6c61726465720002, "larder", schema.
const migrationLock = 7809649004361416706

// txRetries bounds how often InTx runs a transaction that keeps meeting
// serialization failures or deadlocks.
const txRetries = 8

// txBackoff spaces those runs, so two transactions that deadlocked do not
// meet again at once.
var txBackoff = backoff.Policy{Min: 2 * time.Millisecond, Max: 200 * time.Millisecond}

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
