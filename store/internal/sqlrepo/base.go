package sqlrepo

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"sort"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"larder/store"
)

// Base is what a SQL store is beyond its dialect and its opening: the
// repositories over the database, transactions, commit hooks, migrations
// and pruning. A store embeds it and adds Close.
type Base struct {
	Repo
	DB    *sqlx.DB
	d     *Dialect
	hooks *hooks
	// reports are called after every observer's report appended (see
	// Base.OnReport): not commit hooks, so a vote wakes no change waiter.
	reports *hooks
}

// Tx is a transaction; its repositories see and change only its snapshot.
type Tx struct {
	Repo
	X *sqlx.Tx
	d *Dialect
}

var _ store.Tx = Tx{}

// NewBase returns the store over db in dialect d. Writes outside a
// transaction run the hooks when they succeed (they committed on their own).
func NewBase(db *sqlx.DB, d *Dialect) *Base {
	h := &hooks{}
	return &Base{Repo: New(notifying{db, d, h}, d), DB: db, d: d, hooks: h, reports: &hooks{}}
}

// hooks are called after every commit (see Base.OnCommit).
type hooks struct {
	mu  sync.RWMutex
	fns []func()
}

func (h *hooks) add(fn func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fns = append(h.fns, fn)
}

func (h *hooks) run() {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, fn := range h.fns {
		fn()
	}
}

// RunHooks calls the commit hooks: after a commit this store did not make
// (another broker's, heard through the database).
func (b *Base) RunHooks() { b.hooks.run() }

// OnCommit registers fn to be called after every commit, of a transaction or
// of a statement run on its own, once the change is visible to readers. fn
// must be quick (it runs on the writer's goroutine) and must not write.
func (b *Base) OnCommit(fn func()) { b.hooks.add(fn) }

// notifying runs a statement outside a transaction (as the dialect retries
// it) and the hooks after it succeeds.
type notifying struct {
	*sqlx.DB
	d *Dialect
	h *hooks
}

func (n notifying) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := n.d.retry(ctx, func() error {
		return n.fenced(ctx, func(x sqlx.ExtContext) (err error) {
			res, err = x.ExecContext(ctx, query, args...)
			return err
		})
	})
	if err == nil {
		n.h.run()
	}
	return res, err
}

func (n notifying) getWrite(ctx context.Context, dest any, query string, args ...any) error {
	err := n.d.retry(ctx, func() error {
		return n.fenced(ctx, func(x sqlx.ExtContext) error { return sqlx.GetContext(ctx, x, dest, query, args...) })
	})
	if err == nil {
		n.h.run()
	}
	return err
}

// fenced runs write on the database, or, when ctx carries a coordinator's
// fencing token (store.WithLease), in a transaction of its own that checks
// the token first: a write run on its own is fenced as one in InTx is.
func (n notifying) fenced(ctx context.Context, write func(x sqlx.ExtContext) error) error {
	token, ok := store.LeaseOf(ctx)
	if !ok {
		return write(n.DB)
	}
	tx, err := n.DB.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := requireLease(ctx, tx, n.d, token); err != nil {
		return err
	}
	if err := write(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// retry runs try once, or as the dialect's Retry does.
func (d *Dialect) retry(ctx context.Context, try func() error) error {
	if d.Retry == nil {
		return try()
	}
	return d.Retry(ctx, try)
}

// InTx runs fn in a transaction, committing when it returns nil and rolling
// back otherwise; the dialect's Retry may run it again whole.
func (b *Base) InTx(ctx context.Context, fn func(tx store.Tx) error) error {
	return b.d.reach(b.d.retry(ctx, func() error { return b.inTx(ctx, fn) }))
}

func (b *Base) inTx(ctx context.Context, fn func(tx store.Tx) error) error {
	sqltx, err := b.DB.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			sqltx.Rollback()
		}
	}()
	tx := Tx{New(sqltx, b.d), sqltx, b.d}
	if token, ok := store.LeaseOf(ctx); ok {
		if err := tx.RequireLease(ctx, token); err != nil {
			return err
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := sqltx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	ok = true
	b.hooks.run()
	return nil
}

// PruneChanges drops the changes recorded before t and raises the pruned
// mark, in one transaction.
func (b *Base) PruneChanges(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := b.InTx(ctx, func(t store.Tx) error {
		var err error
		n, err = prune(ctx, t.(Tx).Repo.(repo), before)
		return err
	})
	return n, err
}

// Migrate applies the migrations (files migrations/*.sql of fsys, in name
// order) not yet recorded in schema_migrations, each in a transaction of its
// own that first runs lock (a statement that makes stores opening at once
// wait for each other; "" for none). createTable makes schema_migrations.
func (b *Base) Migrate(ctx context.Context, fsys fs.FS, createTable, lock string) error {
	if _, err := b.DB.ExecContext(ctx, createTable); err != nil && !b.d.IsUnique(err) {
		return fmt.Errorf("create migrations table: %w", err)
	}
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		err := b.InTx(ctx, func(t store.Tx) error {
			tx := t.(Tx).X
			if lock != "" {
				if _, err := tx.ExecContext(ctx, lock); err != nil {
					return err
				}
			}
			var n int
			if err := tx.GetContext(ctx, &n, b.d.rebind(`SELECT COUNT(*) FROM schema_migrations WHERE name = ?`), name); err != nil || n > 0 {
				return err
			}
			body, err := fs.ReadFile(fsys, name)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, b.d.rebind(`INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`), name, b.d.Now())
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %s: %w", name, err)
		}
	}
	return nil
}
