package store

import "time"

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
