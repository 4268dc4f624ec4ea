package sqlrepo

import (
	"context"
	"time"

	"larder/fault"
	"larder/store"
)

// AppChanges reads the feed for one app.
func (s repo) AppChanges(ctx context.Context, appID string, cursor int64, limit int) ([]store.Change, int64, bool, error) {
	// An add-on's rows go before its destroy ends: its own deletion (which
	// names the app) keeps its later changes the app's.
	return s.changesAfter(ctx, cursor, limit, `AND (app_id = ? OR (app_id = '' AND addon_id IN (
			SELECT addon_id FROM attachments WHERE app_id = ? UNION SELECT id FROM addons WHERE app_id = ?
			UNION SELECT addon_id FROM changes WHERE app_id = ? AND kind = 'addon' AND subject = 'deleted')))`, appID, appID, appID, appID)
}

// Changes reads the whole feed.
func (s repo) Changes(ctx context.Context, cursor int64, limit int) ([]store.Change, int64, bool, error) {
	return s.changesAfter(ctx, cursor, limit, "")
}

// changesAfter reads the feed after cursor, the rows filter (an AND clause
// with its args) keeps. The head is read first and the changes up to it
// second: a later statement sees at least what an earlier one saw, and a
// store numbers changes in commit order (SQLite commits one writer at a
// time; PostgreSQL's triggers number them under a lock held to the commit),
// so nothing at or below the returned cursor can still appear.
func (s repo) changesAfter(ctx context.Context, cursor int64, limit int, filter string, args ...any) ([]store.Change, int64, bool, error) {
	if cursor < 0 {
		return nil, 0, false, fault.E(fault.Invalid, "cursor %d is negative", cursor)
	}
	head, err := s.ChangeHead(ctx)
	if err != nil {
		return nil, 0, false, err
	}
	if cursor > head {
		return nil, 0, false, fault.E(fault.Invalid, "cursor %d is ahead of the change feed (latest %d): read the state again and follow from %d", cursor, head, head)
	}
	var pruned int64
	if err := s.get(ctx, &pruned, `SELECT seq FROM changes_pruned WHERE id = 1`); err != nil {
		return nil, 0, false, err
	}
	if cursor < pruned {
		return nil, head, true, nil
	}
	var out []store.Change
	err = s.sel(ctx, &out, `
		SELECT seq, app_id, addon_id, addon_name, kind, subject, at FROM changes
		WHERE seq > ? AND seq <= ? `+filter+`
		ORDER BY seq LIMIT ?`, append(append([]any{cursor, head}, args...), limit)...)
	if err != nil {
		return nil, 0, false, err
	}
	next := head
	if len(out) == limit && limit > 0 {
		next = out[len(out)-1].Seq
	}
	return out, next, false, nil
}

// ChangeHead is the latest seq, 0 when nothing changed yet. Pruning never
// moves it back: with every change pruned it is the highest pruned seq (a
// seq is never used twice), so a follower at the head is not "ahead", and
// what was kept for a head is never taken for the state after a change
// that has since been pruned.
func (s repo) ChangeHead(ctx context.Context) (int64, error) {
	var head int64
	return head, s.get(ctx, &head, `SELECT `+s.d.Greatest+`(COALESCE((SELECT MAX(seq) FROM changes), 0), seq) FROM changes_pruned WHERE id = 1`)
}

// prune drops what was recorded before t and raises the pruned mark; q is
// a transaction's, so both or neither happen.
func prune(ctx context.Context, q repo, before time.Time) (int64, error) {
	var top int64
	if err := q.get(ctx, &top, `SELECT COALESCE(MAX(seq), 0) FROM changes WHERE at < ?`, q.d.Stamp(before)); err != nil || top == 0 {
		return 0, err
	}
	res, err := q.exec(ctx, `DELETE FROM changes WHERE seq <= ?`, top)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	_, err = q.exec(ctx, `UPDATE changes_pruned SET seq = `+q.d.Greatest+`(seq, ?) WHERE id = 1`, top)
	return n, err
}
