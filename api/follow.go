package api

import (
	"context"
	"net/http"
	"time"
)

// ForkInfo is where a forked add-on's data came from, and how far the fork
// is while it runs. Source never carries a password.
type ForkInfo struct {
	Source     string     `json:"source"` // redis://user:***@host:port, or the larder add-on
	State      string     `json:"state"`  // pending, syncing, copying, done
	Method     string     `json:"method,omitempty"`
	Reason     string     `json:"reason,omitempty"` // why the copy fallback was used
	BytesDone  int64      `json:"bytes_done"`
	BytesTotal int64      `json:"bytes_total"`
	KeysDone   int64      `json:"keys_done"`
	KeysTotal  int64      `json:"keys_total"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// Fork methods.
const (
	ForkMethodSync = "sync" // replication (REPLICAOF until in sync, then REPLICAOF NO ONE)
	ForkMethodCopy = "copy" // SCAN + DUMP/RESTORE, where the source refuses SYNC/PSYNC
)

// FollowInfo is the link of an add-on that follows an external leader.
type FollowInfo struct {
	Leader           string    `json:"leader"` // redis://user:***@host:port
	Since            time.Time `json:"since"`
	Live             bool      `json:"live"` // false when the node could not be read
	LinkUp           bool      `json:"link_up"`
	SyncInProgress   bool      `json:"sync_in_progress"`
	LastIOSecondsAgo int       `json:"last_io_seconds_ago"` // since the leader was last heard from
	LinkDownSeconds  int       `json:"link_down_seconds"`   // how long the link has been down
	LagBytes         int64     `json:"lag_bytes"`           // -1 when the leader could not be asked
	Error            string    `json:"error,omitempty"`     // why the figures are missing
	Role             string    `json:"role,omitempty"`      // the primary's role as the engine says
}

// FollowRequest is the body of POST /apps/{app}/redis/{addon}/follow.
type FollowRequest struct {
	URL     string `json:"url"`               // redis://USER:PASSWORD@HOST:PORT
	Confirm string `json:"confirm,omitempty"` // the owning app: following replaces the add-on's data
}

// FollowResult answers follow and unfollow.
type FollowResult struct {
	Addon   Ref         `json:"addon"`
	Follow  *FollowInfo `json:"follow,omitempty"` // nil after unfollow
	Message string      `json:"message"`
}

// Follow makes the add-on ref names a read-only follower of the leader at req.URL.
func (c *Client) Follow(ctx context.Context, app, ref string, req FollowRequest) (FollowResult, error) {
	var out FollowResult
	return out, c.Do(ctx, http.MethodPost, redisPath(app, ref, "/follow"), req, &out)
}

// Unfollow stops the add-on ref names following its leader: it becomes an
// independent primary with the data it has.
func (c *Client) Unfollow(ctx context.Context, app, ref string) (FollowResult, error) {
	var out FollowResult
	return out, c.Do(ctx, http.MethodDelete, redisPath(app, ref, "/follow"), nil, &out)
}
