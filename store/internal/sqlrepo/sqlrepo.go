// Package sqlrepo is store.Q in SQL, shared by larder's SQL stores
// (store/sqlite, store/postgres): a repository per kind of record over one
// handle, a database's or a transaction's. Queries are written once, with ?
// placeholders, in the SQL both engines speak; what differs between them
// (placeholders, constraint errors, the clock's precision, a function name)
// is a Dialect. Base adds transactions, commit hooks, migrations and
// pruning; each store opens its database and brings its schema.
package sqlrepo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"larder/fault"
	"larder/store"
)

// Dialect is what sets one SQL engine apart.
type Dialect struct {
	// Bind is the driver's placeholder style (sqlx.QUESTION, sqlx.DOLLAR):
	// queries written with ? are rebound to it once and remembered.
	Bind int
	// IsUnique and IsForeignKey tell a constraint's violation.
	IsUnique, IsForeignKey func(error) bool
	// Now is the store's clock, at the precision its timestamps keep (a
	// time written and read back must be Equal to the one written).
	Now func() time.Time
	// Greatest names the larger-of-two function (MAX in SQLite, GREATEST).
	Greatest string
	// Stamp is a time as the changes table's at column compares it.
	Stamp func(time.Time) any
	// Retry, when set, runs a transaction (or a statement on its own) and
	// runs it again, whole, while it fails only for meeting another one.
	Retry func(ctx context.Context, try func() error) error
	// LockShared, appended to a SELECT of one row, keeps the row from being
	// changed until the transaction ends (" FOR SHARE"); "" where a
	// transaction already holds the whole database (SQLite's immediate
	// ones).
	LockShared string
	// Unreachable, when set, tells an error that says the database cannot
	// be reached now (the connection refused or cut, the server shutting
	// down or starting up): such an error becomes ErrUnreachable's fault, a
	// clear "try again" rather than an internal error.
	Unreachable func(error) bool

	rebound sync.Map // query with ? → query in Bind's style
}

// unreachableMessage is what a caller is told while the store cannot be
// reached: no address, no driver text (they may name the database's user).
const unreachableMessage = "cannot reach the store (its database is restarting or out of reach); try again in a moment"

// reach turns an error that says the database cannot be reached into an
// Unavailable fault (its cause kept for the logs); other errors, and one
// that already carries a fault, are returned as they are.
func (d *Dialect) reach(err error) error {
	if err == nil || d.Unreachable == nil || !d.Unreachable(err) {
		return err
	}
	var fe *fault.Error
	if errors.As(err, &fe) {
		return err
	}
	return fault.Wrap(fault.Unavailable, fmt.Errorf("%w: %w", store.ErrUnreachable, err), unreachableMessage)
}

// rebind returns query in the dialect's placeholder style.
func (d *Dialect) rebind(query string) string {
	if d.Bind == sqlx.QUESTION {
		return query
	}
	if q, ok := d.rebound.Load(query); ok {
		return q.(string)
	}
	q := sqlx.Rebind(d.Bind, query)
	d.rebound.Store(query, q)
	return q
}

// repo is store.Q over one handle (the database's, or a transaction's): a
// repository per kind of record (appRepo, addonRepo, … — as store.Q is made
// of store.AppRepo, store.AddonRepo, …), each in its own file and on the same
// conn, so one transaction spans them all.
type repo struct {
	conn // for what spans kinds (the change feed)
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

// Repo is store.Q with the change feed's reads, over one handle.
type Repo interface {
	store.Q
	AppChanges(ctx context.Context, appID string, cursor int64, limit int) ([]store.Change, int64, bool, error)
	Changes(ctx context.Context, cursor int64, limit int) ([]store.Change, int64, bool, error)
	ChangeHead(ctx context.Context) (int64, error)
}

// New returns the repositories over x (a database or a transaction) in
// dialect d.
func New(x sqlx.ExtContext, d *Dialect) Repo {
	c := conn{x: x, d: d}
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

// conn is the handle the repositories share, with their dialect.
type conn struct {
	x sqlx.ExtContext
	d *Dialect
}

var _ store.Q = repo{}

func (q conn) now() time.Time { return q.d.Now() }

func (q conn) isUnique(err error) bool { return err != nil && q.d.IsUnique(err) }

func (q conn) isForeignKey(err error) bool { return err != nil && q.d.IsForeignKey(err) }

// notFound turns sql.ErrNoRows into a NotFound fault with msg.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fault.E(fault.NotFound, format, args...)
	}
	return err
}

func (q conn) get(ctx context.Context, dest any, query string, args ...any) error {
	return q.d.reach(sqlx.GetContext(ctx, q.x, dest, q.d.rebind(query), args...))
}

func (q conn) sel(ctx context.Context, dest any, query string, args ...any) error {
	return q.d.reach(sqlx.SelectContext(ctx, q.x, dest, q.d.rebind(query), args...))
}

// getWrite runs a write that returns a row (INSERT … RETURNING) into dest:
// outside a transaction it commits on its own, so it runs the hooks too.
func (q conn) getWrite(ctx context.Context, dest any, query string, args ...any) error {
	if w, ok := q.x.(notifying); ok {
		return q.d.reach(w.getWrite(ctx, dest, q.d.rebind(query), args...))
	}
	return q.get(ctx, dest, query, args...)
}

func (q conn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := q.x.ExecContext(ctx, q.d.rebind(query), args...)
	return res, q.d.reach(err)
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
