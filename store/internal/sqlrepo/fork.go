package sqlrepo

import (
	"context"

	"larder/fault"
	"larder/store"
)

// CreateFork records the source of a new add-on, in the add-on's transaction.
func (q forkRepo) CreateFork(ctx context.Context, f *store.Fork) error {
	f.CreatedAt, f.UpdatedAt = q.now(), q.now()
	if f.State == "" {
		f.State = store.ForkPending
	}
	_, err := q.exec(ctx, `INSERT INTO forks (addon_id, source, host, port, username, password, tls, skip_verify,
		source_addon_id, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.AddonID, f.Source, f.Host, f.Port, f.Username, f.Password, f.TLS, f.SkipVerify,
		f.SourceAddonID, f.State, f.CreatedAt, f.UpdatedAt)
	if q.isUnique(err) {
		return fault.E(fault.Conflict, "the add-on already has a fork source")
	}
	return err
}

// ForkOf returns an add-on's fork; NotFound when it was not forked.
func (q forkRepo) ForkOf(ctx context.Context, addonID string) (store.Fork, error) {
	var f store.Fork
	err := q.get(ctx, &f, `SELECT * FROM forks WHERE addon_id = ?`, addonID)
	return f, notFound(err, "the add-on was not forked")
}

// UpdateForkProgress records how far a running fork is.
func (q forkRepo) UpdateForkProgress(ctx context.Context, addonID string, p store.ForkProgress) error {
	return q.execOne(ctx, "fork", `UPDATE forks SET state = ?, method = ?, reason = ?, bytes_done = ?, bytes_total = ?,
		keys_done = ?, keys_total = ?, updated_at = ? WHERE addon_id = ?`,
		p.State, p.Method, p.Reason, p.BytesDone, p.BytesTotal, p.KeysDone, p.KeysTotal, q.now(), addonID)
}

// FinishFork records a fork as done and forgets the source's credentials:
// they were only needed while the data came over.
func (q forkRepo) FinishFork(ctx context.Context, addonID string, p store.ForkProgress) error {
	now := q.now()
	return q.execOne(ctx, "fork", `UPDATE forks SET state = ?, method = ?, reason = ?, bytes_done = ?, bytes_total = ?,
		keys_done = ?, keys_total = ?, password = '', username = '', updated_at = ?, finished_at = ? WHERE addon_id = ?`,
		store.ForkDone, p.Method, p.Reason, p.BytesDone, p.BytesTotal, p.KeysDone, p.KeysTotal, now, now, addonID)
}

// SetFollow records (or replaces) the leader an add-on follows.
func (q forkRepo) SetFollow(ctx context.Context, f *store.Follow) error {
	f.CreatedAt, f.UpdatedAt = q.now(), q.now()
	_, err := q.exec(ctx, `INSERT INTO follows (addon_id, leader, host, port, username, password, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (addon_id) DO UPDATE SET leader = excluded.leader, host = excluded.host, port = excluded.port,
		username = excluded.username, password = excluded.password, created_at = excluded.created_at, updated_at = excluded.updated_at`,
		f.AddonID, f.Leader, f.Host, f.Port, f.Username, f.Password, f.CreatedAt, f.UpdatedAt)
	return err
}

// FollowOf returns the leader an add-on follows; NotFound when it follows none.
func (q forkRepo) FollowOf(ctx context.Context, addonID string) (store.Follow, error) {
	var f store.Follow
	err := q.get(ctx, &f, `SELECT * FROM follows WHERE addon_id = ?`, addonID)
	return f, notFound(err, "the add-on follows no leader")
}

// Follows lists every follower.
func (q forkRepo) Follows(ctx context.Context) ([]store.Follow, error) {
	var out []store.Follow
	return out, q.sel(ctx, &out, `SELECT * FROM follows ORDER BY addon_id`)
}

// DeleteFollow forgets an add-on's leader, and its password with it.
func (q forkRepo) DeleteFollow(ctx context.Context, addonID string) error {
	return q.execOne(ctx, "follow", `DELETE FROM follows WHERE addon_id = ?`, addonID)
}
