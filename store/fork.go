package store

import (
	"context"
	"time"

	"larder/fault"
)

// Fork states.
const (
	ForkPending = "pending" // recorded with the add-on; the nodes are starting
	ForkSyncing = "syncing" // the primary replicates from the source
	ForkCopying = "copying" // keys are copied with SCAN + DUMP/RESTORE
	ForkDone    = "done"    // the add-on stands alone; the password is gone
)

// Fork is where a forked add-on's data comes from, and how far the copy is.
type Fork struct {
	AddonID       string     `db:"addon_id"`
	Source        string     `db:"source"` // masked URL or app::NAME: safe to show
	Host          string     `db:"host"`
	Port          int        `db:"port"`
	Username      string     `db:"username"`
	Password      string     `db:"password"` // a secret; "" once the fork is done
	TLS           bool       `db:"tls"`
	SkipVerify    bool       `db:"skip_verify"`
	SourceAddonID string     `db:"source_addon_id"` // a larder add-on as source
	State         string     `db:"state"`
	Method        string     `db:"method"`
	Reason        string     `db:"reason"`
	BytesDone     int64      `db:"bytes_done"`
	BytesTotal    int64      `db:"bytes_total"`
	KeysDone      int64      `db:"keys_done"`
	KeysTotal     int64      `db:"keys_total"`
	CreatedAt     time.Time  `db:"created_at"`
	UpdatedAt     time.Time  `db:"updated_at"`
	FinishedAt    *time.Time `db:"finished_at"`
}

// ForkProgress is what a running fork reports.
type ForkProgress struct {
	State, Method, Reason string
	BytesDone, BytesTotal int64
	KeysDone, KeysTotal   int64
}

// CreateFork records the source of a new add-on, in the add-on's transaction.
func (q Q) CreateFork(ctx context.Context, f *Fork) error {
	f.CreatedAt, f.UpdatedAt = q.now(), q.now()
	if f.State == "" {
		f.State = ForkPending
	}
	_, err := q.exec(ctx, `INSERT INTO forks (addon_id, source, host, port, username, password, tls, skip_verify,
		source_addon_id, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.AddonID, f.Source, f.Host, f.Port, f.Username, f.Password, f.TLS, f.SkipVerify,
		f.SourceAddonID, f.State, f.CreatedAt, f.UpdatedAt)
	if isUnique(err) {
		return fault.E(fault.Conflict, "the add-on already has a fork source")
	}
	return err
}

// ForkOf returns an add-on's fork; NotFound when it was not forked.
func (q Q) ForkOf(ctx context.Context, addonID string) (Fork, error) {
	var f Fork
	err := q.get(ctx, &f, `SELECT * FROM forks WHERE addon_id = ?`, addonID)
	return f, notFound(err, "the add-on was not forked")
}

// UpdateForkProgress records how far a running fork is.
func (q Q) UpdateForkProgress(ctx context.Context, addonID string, p ForkProgress) error {
	return q.execOne(ctx, "fork", `UPDATE forks SET state = ?, method = ?, reason = ?, bytes_done = ?, bytes_total = ?,
		keys_done = ?, keys_total = ?, updated_at = ? WHERE addon_id = ?`,
		p.State, p.Method, p.Reason, p.BytesDone, p.BytesTotal, p.KeysDone, p.KeysTotal, q.now(), addonID)
}

// FinishFork records a fork as done and forgets the source's credentials:
// they were only needed while the data came over.
func (q Q) FinishFork(ctx context.Context, addonID string, p ForkProgress) error {
	now := q.now()
	return q.execOne(ctx, "fork", `UPDATE forks SET state = ?, method = ?, reason = ?, bytes_done = ?, bytes_total = ?,
		keys_done = ?, keys_total = ?, password = '', username = '', updated_at = ?, finished_at = ? WHERE addon_id = ?`,
		ForkDone, p.Method, p.Reason, p.BytesDone, p.BytesTotal, p.KeysDone, p.KeysTotal, now, now, addonID)
}

// Follow is an add-on replicating from an external leader.
type Follow struct {
	AddonID   string    `db:"addon_id"`
	Leader    string    `db:"leader"` // masked URL: safe to show
	Host      string    `db:"host"`
	Port      int       `db:"port"`
	Username  string    `db:"username"`
	Password  string    `db:"password"` // a secret, kept while the add-on follows
	CreatedAt time.Time `db:"created_at"`
	UpdatedAt time.Time `db:"updated_at"`
}

// SetFollow records (or replaces) the leader an add-on follows.
func (q Q) SetFollow(ctx context.Context, f *Follow) error {
	f.CreatedAt, f.UpdatedAt = q.now(), q.now()
	_, err := q.exec(ctx, `INSERT INTO follows (addon_id, leader, host, port, username, password, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (addon_id) DO UPDATE SET leader = excluded.leader, host = excluded.host, port = excluded.port,
		username = excluded.username, password = excluded.password, created_at = excluded.created_at, updated_at = excluded.updated_at`,
		f.AddonID, f.Leader, f.Host, f.Port, f.Username, f.Password, f.CreatedAt, f.UpdatedAt)
	return err
}

// FollowOf returns the leader an add-on follows; NotFound when it follows none.
func (q Q) FollowOf(ctx context.Context, addonID string) (Follow, error) {
	var f Follow
	err := q.get(ctx, &f, `SELECT * FROM follows WHERE addon_id = ?`, addonID)
	return f, notFound(err, "the add-on follows no leader")
}

// Follows lists every follower.
func (q Q) Follows(ctx context.Context) ([]Follow, error) {
	var out []Follow
	return out, q.sel(ctx, &out, `SELECT * FROM follows ORDER BY addon_id`)
}

// DeleteFollow forgets an add-on's leader, and its password with it.
func (q Q) DeleteFollow(ctx context.Context, addonID string) error {
	return q.execOne(ctx, "follow", `DELETE FROM follows WHERE addon_id = ?`, addonID)
}

// NodeAt returns the node listening on address:port, whichever add-on owns it.
func (q Q) NodeAt(ctx context.Context, address string, port int) (Node, error) {
	var n Node
	err := q.get(ctx, &n, `SELECT * FROM nodes WHERE address = ? AND port = ? ORDER BY created_at LIMIT 1`, address, port)
	return n, notFound(err, "no node at %s:%d", address, port)
}
