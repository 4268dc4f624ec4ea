package sqlrepo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"larder/fault"
	"larder/store"
)

// sessionRow is a row of dashboard_sessions.
type sessionRow struct {
	Key       string `db:"key_hash"`
	CSRF      string `db:"csrf"`
	Expires   int64  `db:"expires_at"` // unix microseconds
	FlashKind string `db:"flash_kind"`
	FlashText string `db:"flash_text"`
}

// The dashboard's sessions (store.SessionRepo). Their writes go around the
// commit hooks and the lease: no app changed, and any broker logs a
// browser in. Errors never name a session's key.

// CreateSession drops the expired sessions and, at the cap, those nearest
// their end, then records s, in one transaction.
func (b *Base) CreateSession(ctx context.Context, s store.DashboardSession, now time.Time, max int) error {
	switch {
	case s.Key == "" || s.CSRF == "":
		return fault.E(fault.Invalid, "a session needs its key and CSRF token")
	case !s.Expires.After(now):
		return fault.E(fault.Invalid, "a session must end after it starts")
	}
	err := b.d.retry(ctx, func() error {
		tx, err := b.DB.BeginTxx(ctx, nil)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, b.d.rebind(`DELETE FROM dashboard_sessions WHERE expires_at <= ?`), now.UnixMicro()); err != nil {
			return err
		}
		var n int
		if err := tx.GetContext(ctx, &n, `SELECT COUNT(*) FROM dashboard_sessions`); err != nil {
			return err
		}
		// Two brokers creating at once may each count one under the cap
		// and go one over it; the next create comes back down.
		if over := n - max + 1; over > 0 {
			if _, err := tx.ExecContext(ctx, b.d.rebind(`DELETE FROM dashboard_sessions WHERE key_hash IN
				(SELECT key_hash FROM dashboard_sessions ORDER BY expires_at, key_hash LIMIT ?)`), over); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, b.d.rebind(`INSERT INTO dashboard_sessions (key_hash, csrf, expires_at, flash_kind, flash_text)
			VALUES (?, ?, ?, ?, ?)`), s.Key, s.CSRF, s.Expires.UnixMicro(), s.Flash.Kind, s.Flash.Text); err != nil {
			return err
		}
		return tx.Commit()
	})
	if err != nil && b.d.IsUnique(err) {
		return fault.E(fault.Conflict, "that session already exists")
	}
	if err != nil {
		return fmt.Errorf("create session: %w", b.d.reach(err))
	}
	return nil
}

// GetSession reads a session live at now.
func (b *Base) GetSession(ctx context.Context, key string, now time.Time) (store.DashboardSession, error) {
	var r sessionRow
	err := b.DB.GetContext(ctx, &r, b.d.rebind(`SELECT key_hash, csrf, expires_at, flash_kind, flash_text
		FROM dashboard_sessions WHERE key_hash = ? AND expires_at > ?`), key, now.UnixMicro())
	if errors.Is(err, sql.ErrNoRows) {
		return store.DashboardSession{}, fault.E(fault.NotFound, "no such session, or it has expired")
	}
	if err != nil {
		return store.DashboardSession{}, fmt.Errorf("read session: %w", b.d.reach(err))
	}
	return store.DashboardSession{Key: r.Key, CSRF: r.CSRF, Expires: time.UnixMicro(r.Expires).UTC(),
		Flash: store.Flash{Kind: r.FlashKind, Text: r.FlashText}}, nil
}

// EndSession deletes a session.
func (b *Base) EndSession(ctx context.Context, key string) error {
	if _, err := b.write(ctx, `DELETE FROM dashboard_sessions WHERE key_hash = ?`, key); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// SetSessionFlash sets a session's message for its next page.
func (b *Base) SetSessionFlash(ctx context.Context, key string, f store.Flash) error {
	n, err := b.write(ctx, `UPDATE dashboard_sessions SET flash_kind = ?, flash_text = ? WHERE key_hash = ?`, f.Kind, f.Text, key)
	if err != nil {
		return fmt.Errorf("set session message: %w", err)
	}
	if n == 0 {
		return fault.E(fault.NotFound, "no such session")
	}
	return nil
}

// TakeSessionFlash reads a session's message, then clears it only if it is
// still the one read: the clear is a compare-and-set, so of two takes at
// once only the one whose clear changed the row shows it. (PostgreSQL's
// second UPDATE waits for the first and looks at the row again; SQLite has
// one writer at a time.)
func (b *Base) TakeSessionFlash(ctx context.Context, key string) (store.Flash, error) {
	var r sessionRow
	err := b.DB.GetContext(ctx, &r, b.d.rebind(`SELECT flash_kind, flash_text FROM dashboard_sessions WHERE key_hash = ?`), key)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && r.FlashKind == "" && r.FlashText == "") {
		return store.Flash{}, nil
	}
	if err != nil {
		return store.Flash{}, fmt.Errorf("read session message: %w", b.d.reach(err))
	}
	n, err := b.write(ctx, `UPDATE dashboard_sessions SET flash_kind = '', flash_text = ''
		WHERE key_hash = ? AND flash_kind = ? AND flash_text = ?`, key, r.FlashKind, r.FlashText)
	if err != nil {
		return store.Flash{}, fmt.Errorf("take session message: %w", err)
	}
	if n == 0 {
		return store.Flash{}, nil // another take cleared it (or set another)
	}
	return store.Flash{Kind: r.FlashKind, Text: r.FlashText}, nil
}
