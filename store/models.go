package store

import "time"

// App is an application that holds config vars and add-ons.
type App struct {
	ID        string    `db:"id"`
	Name      string    `db:"name"`
	CreatedAt time.Time `db:"created_at"`
}

// Addon is one add-on instance. Passwords live here and nowhere else.
type Addon struct {
	ID                   string    `db:"id"`
	Name                 string    `db:"name"`
	Service              string    `db:"service"`
	Plan                 string    `db:"plan"` // short plan name, e.g. "mini"
	AppID                string    `db:"app_id"`
	AppName              string    `db:"app_name"` // joined, read-only
	State                string    `db:"state"`
	StateReason          string    `db:"state_reason"`
	MaxMemoryPolicy      string    `db:"maxmemory_policy"`
	Timeout              int       `db:"timeout"`
	NotifyKeyspaceEvents string    `db:"notify_keyspace_events"`
	Engine               string    `db:"engine"`
	EngineVersion        string    `db:"engine_version"`
	AdminPassword        string    `db:"admin_password"`
	CustomerUser         string    `db:"customer_user"`
	CustomerPassword     string    `db:"customer_password"`
	Epoch                int64     `db:"epoch"`
	CreatedAt            time.Time `db:"created_at"`
	UpdatedAt            time.Time `db:"updated_at"`
	ReplPassword         string    `db:"repl_password"`
	// CustomerPasswordAlt is also accepted for the customer's user while a
	// credential rotation is under way; "" otherwise.
	CustomerPasswordAlt string `db:"customer_password_alt"`
}

// Host is an agent the broker places nodes on.
type Host struct {
	Name      string    `db:"name"`
	URL       string    `db:"url"`
	Token     string    `db:"token"`
	Draining  bool      `db:"draining"`
	CreatedAt time.Time `db:"created_at"`
	UpdatedAt time.Time `db:"updated_at"`
	EventBoot string    `db:"event_boot"` // the agent's event stream, as far as the broker has read it
	EventSeq  int64     `db:"event_seq"`
}

// Attachment names an add-on on an app.
type Attachment struct {
	ID        string    `db:"id"`
	AddonID   string    `db:"addon_id"`
	AppID     string    `db:"app_id"`
	Name      string    `db:"name"`
	CreatedAt time.Time `db:"created_at"`
	AddonName string    `db:"addon_name"` // joined, read-only
	AppName   string    `db:"app_name"`   // joined, read-only
}

// Node roles and states.
const (
	RolePrimary = "primary"
	RoleStandby = "standby"

	NodeStarting = "starting"
	NodeSyncing  = "syncing" // a standby started but not yet through its first sync
	NodeRunning  = "running"
	NodeFailed   = "failed"
	NodeStopped  = "stopped"
)

// Node is one engine process of an add-on.
type Node struct {
	ID        string    `db:"id"`
	AddonID   string    `db:"addon_id"`
	Name      string    `db:"name"`
	Role      string    `db:"role"`
	Host      string    `db:"host"`
	Address   string    `db:"address"`
	Port      int       `db:"port"`
	Dir       string    `db:"dir"`
	PID       int       `db:"pid"`
	State     string    `db:"state"`
	Epoch     int64     `db:"epoch"`
	CreatedAt time.Time `db:"created_at"`
	UpdatedAt time.Time `db:"updated_at"`
}

// Operation is async work on an add-on.
type Operation struct {
	ID        string    `db:"id"`
	AddonID   string    `db:"addon_id"`
	AddonName string    `db:"addon_name"`
	Kind      string    `db:"kind"`
	State     string    `db:"state"`
	Progress  string    `db:"progress"`
	Error     string    `db:"error"`
	CreatedAt time.Time `db:"created_at"`
	UpdatedAt time.Time `db:"updated_at"`
	// Params is what the operation was asked to do and has built so far
	// (JSON, shaped by its kind); Step is the last point it made durable.
	Params string `db:"params"`
	Step   string `db:"step"`
	// Owner is the broker that runs the operation, until LeaseUntil; ""
	// when no broker holds it (see OperationRepo.ClaimOperation).
	Owner      string    `db:"owner"`
	LeaseUntil time.Time `db:"lease_until"`
}

// Event is one line of an add-on's history.
type Event struct {
	ID        int64     `db:"id"`
	AddonID   string    `db:"addon_id"`
	AddonName string    `db:"addon_name"`
	Kind      string    `db:"kind"`
	Message   string    `db:"message"`
	CreatedAt time.Time `db:"created_at"`
}
