// Package api holds the JSON wire types of the broker's HTTP API and a Go client
// for it. The CLI and the HA monitors use this package; they never import the
// broker's internals.
package api

import "time"

// App is a named application with config vars.
type App struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// AppCreate is the body of POST /apps.
type AppCreate struct {
	Name string `json:"name"`
}

// Ref names a resource by id and name.
type Ref struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Add-on states, as Heroku names them.
const (
	StateProvisioning   = "provisioning"
	StateProvisioned    = "provisioned"
	StateDeprovisioning = "deprovisioning"
	StateDeprovisioned  = "deprovisioned"
	StateFailed         = "failed"
)

// Settings are the customer-tunable engine settings of an add-on.
type Settings struct {
	MaxMemoryPolicy      string `json:"maxmemory_policy"`
	Timeout              int    `json:"timeout"`
	NotifyKeyspaceEvents string `json:"notify_keyspace_events"`
}

// Addon is a provisioned (or provisioning) instance of a service plan.
type Addon struct {
	ID            string       `json:"id"`
	Name          string       `json:"name"`
	Service       string       `json:"service"`
	Plan          string       `json:"plan"` // "service:plan"
	App           Ref          `json:"app"`  // the owning (billing) app
	State         string       `json:"state"`
	StateReason   string       `json:"state_reason,omitempty"`
	ConfigVars    []string     `json:"config_vars"` // var names on the owning app
	Attachments   []Attachment `json:"attachments"`
	Settings      Settings     `json:"settings"`
	Engine        string       `json:"engine,omitempty"`
	EngineVersion string       `json:"engine_version,omitempty"`
	CreatedAt     time.Time    `json:"created_at"`
	UpdatedAt     time.Time    `json:"updated_at"`
	// WritesPaused, when set, says a host holds the add-on's writes paused and
	// why: "writes paused since T: lease expired (…)".
	WritesPaused string `json:"writes_paused,omitempty"`
}

// The views of an add-on listing (GET /addons, GET /apps/{app}/addons,
// ?view=): the whole add-on (the default), or a summary.
const (
	ViewFull    = "full"
	ViewSummary = "summary"
)

// AddonSummary is what a listing's table shows of an add-on
// (?view=summary): a sixth of Addon's bytes, and nothing to parse but
// strings, so a listing of many add-ons reaches a terminal quickly. As the
// tables show them, an app's listing has the add-ons' attachments, the
// listing of every add-on does not.
type AddonSummary struct {
	Name        string              `json:"name"`
	Service     string              `json:"service"`
	Plan        string              `json:"plan"` // "service:plan"
	App         string              `json:"app"`  // the owning app's name
	State       string              `json:"state"`
	Attachments []AttachmentSummary `json:"attachments,omitempty"`
}

// AttachmentSummary is an attachment in an AddonSummary: its name, on app.
type AttachmentSummary struct {
	Name string `json:"name"`
	App  string `json:"app"`
}

// Summary is what a summary listing of app's add-ons (of every add-on when
// app is "") shows of a.
func (a Addon) Summary(app string) AddonSummary {
	out := AddonSummary{Name: a.Name, Service: a.Service, Plan: a.Plan, App: a.App.Name, State: a.State}
	if app == "" {
		return out
	}
	out.Attachments = make([]AttachmentSummary, len(a.Attachments))
	for i, at := range a.Attachments {
		out.Attachments[i] = AttachmentSummary{Name: at.Name, App: at.App.Name}
	}
	return out
}

// Summaries is what a summary listing of app's add-ons (of every add-on
// when app is "") shows of addons.
func Summaries(addons []Addon, app string) []AddonSummary {
	out := make([]AddonSummary, len(addons))
	for i, a := range addons {
		out[i] = a.Summary(app)
	}
	return out
}

// Attachment gives an app config vars for an add-on under a name (the var prefix).
type Attachment struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Addon      Ref       `json:"addon"`
	App        Ref       `json:"app"`
	ConfigVars []string  `json:"config_vars"`
	CreatedAt  time.Time `json:"created_at"`
}

// AddonCreate is the body of POST /apps/{app}/addons.
type AddonCreate struct {
	Plan       string            `json:"plan"`                 // "larder-redis:mini"
	Name       string            `json:"name,omitempty"`       // add-on name; generated when empty
	Attachment string            `json:"attachment,omitempty"` // attachment name (--as)
	Config     map[string]string `json:"config,omitempty"`     // provider options: maxmemory_policy, …
}

// AddonDestroy is the body of DELETE /apps/{app}/addons/{addon}.
type AddonDestroy struct {
	Confirm string `json:"confirm,omitempty"` // the owning app's name
	Force   bool   `json:"force,omitempty"`   // destroy even while attached to other apps
}

// AddonResult answers a request that started work on an add-on.
type AddonResult struct {
	Addon     Addon      `json:"addon"`
	Operation *Operation `json:"operation,omitempty"`
	Message   string     `json:"message,omitempty"`
}

// Operation states.
const (
	OpPending   = "pending"
	OpRunning   = "running"
	OpSucceeded = "succeeded"
	OpFailed    = "failed"
)

// Operation is long-running work on an add-on that can be polled.
type Operation struct {
	ID        string    `json:"id"`
	AddonID   string    `json:"addon_id"`
	AddonName string    `json:"addon_name"`
	Kind      string    `json:"kind"` // provision, deprovision, …
	State     string    `json:"state"`
	Progress  string    `json:"progress,omitempty"`
	Error     string    `json:"error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Done reports whether the operation has finished, successfully or not.
func (o *Operation) Done() bool { return o.State == OpSucceeded || o.State == OpFailed }

// Plan is one plan of a service, as listed by addons:plans.
type Plan struct {
	Name           string `json:"name"` // "service:plan"
	HumanName      string `json:"human_name"`
	Description    string `json:"description"`
	MaxMemoryBytes int64  `json:"maxmemory_bytes"`
	MaxClients     int    `json:"max_clients"`
	Persistence    bool   `json:"persistence"`
	HA             bool   `json:"ha"`
	PriceCents     int    `json:"price_cents"`
	Default        bool   `json:"default"`
}

// Service is an add-on service, as listed by addons:services.
type Service struct {
	Name        string `json:"name"`
	HumanName   string `json:"human_name"`
	Description string `json:"description"`
}

// RedisInfo is what redis:info shows: stored facts plus live figures read from the node.
type RedisInfo struct {
	Addon            Ref       `json:"addon"`
	App              Ref       `json:"app"`
	ConfigVars       []string  `json:"config_vars"`
	Plan             string    `json:"plan"`
	Status           string    `json:"status"`
	CreatedAt        time.Time `json:"created_at"`
	Engine           string    `json:"engine"`
	Version          string    `json:"version"`
	Settings         Settings  `json:"settings"`
	Persistence      string    `json:"persistence"` // "AOF" or "None"
	HAStatus         string    `json:"ha_status"`
	MemoryUsedBytes  int64     `json:"memory_used_bytes"`
	MemoryLimitBytes int64     `json:"memory_limit_bytes"`
	Clients          int       `json:"clients"`
	ClientsLimit     int       `json:"clients_limit"`
	Live             bool      `json:"live"`                    // false when the node could not be read
	LiveError        string    `json:"live_error,omitempty"`    // why, when it could not
	HA               *HAInfo   `json:"ha,omitempty"`            // HA plans only
	WritesPaused     string    `json:"writes_paused,omitempty"` // as in Addon; Status says it too

	// Where the data comes from: a fork's source and progress, a follower's leader and link.
	Fork   *ForkInfo   `json:"fork,omitempty"`
	Follow *FollowInfo `json:"follow,omitempty"`
}

// HAInfo is the state of an HA add-on's pair.
type HAInfo struct {
	PrimaryHost   string `json:"primary_host"`
	StandbyHost   string `json:"standby_host"`
	SharesHost    bool   `json:"shares_host"` // primary and standby on one host: no protection from its loss
	LinkUp        bool   `json:"link_up"`
	InSync        bool   `json:"in_sync"`
	LagBytes      int64  `json:"lag_bytes"`
	LagSeconds    int    `json:"lag_seconds"`
	LastIOSeconds int    `json:"last_io_seconds_ago"` // since the standby last heard from the primary
	Rebuilding    bool   `json:"rebuilding"`
	Epoch         int64  `json:"epoch"`
	// Unreachable names the nodes redis:info could not reach in time.
	Unreachable []string `json:"unreachable,omitempty"`
	// Decision warns when too few observer locations vote for any failover
	// to be decided ("HA cannot decide: 1 of 3 locations voting").
	Decision string `json:"decision,omitempty"`
}

// ConfigVars is an app's full set of config vars.
type ConfigVars map[string]string

// ConfigPatch sets vars (non-nil value) and unsets them (nil value).
type ConfigPatch map[string]*string

// Error is the body of every error response.
type Error struct {
	ID      string `json:"id"`
	Message string `json:"message"`
}

// Event is one line of an add-on's history (restarts, failovers, creation).
type Event struct {
	ID        int64     `json:"id"`
	AddonID   string    `json:"addon_id"`
	AddonName string    `json:"addon_name"`
	Kind      string    `json:"kind"`
	Message   string    `json:"message"`
	CreatedAt time.Time `json:"created_at"`
}

// AttachmentCreate is the body of POST /addon-attachments: share an add-on with an app.
type AttachmentCreate struct {
	Addon   string `json:"addon"`             // add-on name, APP::ATTACHMENT, or an attachment name on App
	App     string `json:"app"`               // the app that gets the vars
	Name    string `json:"name,omitempty"`    // attachment name (--as); colored default when empty
	Confirm string `json:"confirm,omitempty"` // App's name: replace an attachment already using Name
}

// Promote is the body of POST /apps/{app}/redis/promote.
type Promote struct {
	Addon string `json:"addon"`
}

// PromoteResult says what promote changed.
type PromoteResult struct {
	Addon    Ref    `json:"addon"`              // now the app's REDIS
	Previous *Ref   `json:"previous,omitempty"` // the add-on that was REDIS
	Alias    string `json:"alias,omitempty"`    // the attachment Previous keeps (e.g. LARDER_REDIS_AMBER)
}

// SettingsPatch changes an add-on's settings; nil fields are left as they are.
type SettingsPatch struct {
	MaxMemoryPolicy      *string `json:"maxmemory_policy,omitempty"`
	Timeout              *int    `json:"timeout,omitempty"`
	NotifyKeyspaceEvents *string `json:"notify_keyspace_events,omitempty"`
}

// Credentials is an add-on's connection URLs for the customer user: plain
// and TLS (rediss://, to the edge's TLS port), with the CA that signed the
// edge's certificate when it is larder's own (clients pass it as --cacert).
type Credentials struct {
	Addon  Ref    `json:"addon"`
	URL    string `json:"url"`
	TLSURL string `json:"tls_url,omitempty"`
	CAPath string `json:"ca_path,omitempty"` // the CA's file on the edge's machine
	CACert string `json:"ca_cert,omitempty"` // the CA certificate (PEM), for clients elsewhere
}

// WaitStatus answers redis:wait.
type WaitStatus struct {
	Waiting bool   `json:"waiting"`
	Message string `json:"message"`
}

// AddonUpdate is the body of PATCH /apps/{app}/addons/{addon}: a plan change.
type AddonUpdate struct {
	Plan string `json:"plan"` // "larder-redis:premium-0" (or just "premium-0")
}

// HostRegister is the body of POST /hosts: an agent announcing itself.
type HostRegister struct {
	Name  string `json:"name"`
	URL   string `json:"url"`
	Token string `json:"token"`
}

// Host is one host nodes run on, as `larder hosts` lists it.
type Host struct {
	Name   string `json:"name"`
	URL    string `json:"url,omitempty"`
	Addr   string `json:"addr,omitempty"`
	Engine string `json:"engine,omitempty"`
	State  string `json:"state"` // up, unreachable, or "not used (--no-local-nodes)"; ", adopting its nodes (pending)" while a starting broker adopts them; ", draining" appended when draining
	Nodes  int    `json:"nodes"`
	// Spares counts the nodes among Nodes that are started spares, ready to
	// be handed over by addons:create (larder broker --spares).
	Spares int  `json:"spares"`
	Local  bool `json:"local"`
	// Draining: no new node is placed on the host (hosts:drain) until
	// hosts:undrain.
	Draining bool `json:"draining"`
}

// DrainResult answers hosts:drain: the switchovers started, and the add-ons
// whose primary could not move, each as "NAME: why".
type DrainResult struct {
	Host       string      `json:"host"`
	Operations []Operation `json:"operations"`
	Skipped    []string    `json:"skipped,omitempty"`
}

// MonitorTarget is a node an HA observer probes.
type MonitorTarget struct {
	NodeID string `json:"node_id"`
	Addon  string `json:"addon"`
	Role   string `json:"role"`
	Host   string `json:"host"`
	Addr   string `json:"addr"`
	Port   int    `json:"port"`
	// The read-only engine user observers probe ROLE and INFO with.
	MonitorUser     string `json:"monitor_user,omitempty"`
	MonitorPassword string `json:"monitor_password,omitempty"`
	// The node's host agent, whose health endpoint observers probe ("" for
	// the broker's own host).
	AgentURL string `json:"agent_url,omitempty"`
}

// NodeObservation is what one observer saw of one node in one probe round.
type NodeObservation struct {
	NodeID    string `json:"node_id"`
	Up        bool   `json:"up"`
	LatencyMS int64  `json:"latency_ms"`
	Error     string `json:"error,omitempty"`
	Role      string `json:"role,omitempty"`     // from ROLE: master or slave
	Offset    int64  `json:"offset,omitempty"`   // replication offset, from INFO
	AgentUp   *bool  `json:"agent_up,omitempty"` // its host agent answered; nil when not probed
	// When the probe sent the request that decided (the connection attempt
	// or the PING) and when it ended, in ms before the report was sent (0
	// from observers that do not say).
	StartedAgoMS int64 `json:"started_ago_ms,omitempty"`
	EndedAgoMS   int64 `json:"ended_ago_ms,omitempty"`
}

// MonitorReport is one probe round of one observer.
type MonitorReport struct {
	Location string            `json:"location"`
	Observer string            `json:"observer"`
	Stalled  bool              `json:"stalled"` // its loop stalled recently: do not count its votes
	Nodes    []NodeObservation `json:"nodes"`
}

// MonitorLocation is one location as `larder monitors` lists it.
type MonitorLocation struct {
	Location   string            `json:"location"`
	Observers  []string          `json:"observers"`
	LastReport time.Time         `json:"last_report"`
	Stalled    bool              `json:"stalled"`
	Up         int               `json:"nodes_up"`
	Down       []string          `json:"nodes_down"`
	Roles      map[string]string `json:"roles"`       // node id → role it reported (ROLE)
	AgentsDown []string          `json:"agents_down"` // node ids whose host agent did not answer
	Voting     bool              `json:"voting"`      // its reports are fresh enough to vote, and it has not stalled
	AgeMS      int64             `json:"age_ms"`      // how old its last report is, by the broker's clock
	Quorum     int               `json:"quorum"`      // voting locations a failover decision needs now (the same on every row)
}

// EdgeAccess is who may connect to an add-on through the edge.
type EdgeAccess struct {
	Addon Ref `json:"addon"`
	// Allowlist is the CIDRs clients may connect from. When the owner has
	// set none it lists the default (loopback and private networks) and
	// Default is true.
	Allowlist []string `json:"allowlist"`
	Default   bool     `json:"default"`
	TLSOnly   bool     `json:"tls_only"` // plain connections are refused
}

// EdgeAccessPatch changes an add-on's access: CIDRs (or single addresses)
// to add and remove, and TLS-only when set. The first addition to a
// default list starts from the default, so allowing one network does not
// cut off the private networks.
type EdgeAccessPatch struct {
	Add     []string `json:"add,omitempty"`
	Remove  []string `json:"remove,omitempty"`
	TLSOnly *bool    `json:"tls_only,omitempty"`
}

// Broker is one of the brokers sharing the store (GET /brokers): every one
// serves the API; the Coordinator runs the coordinating loops (HA
// decisions, operations other brokers left, schedules) under the
// coordinator lease.
type Broker struct {
	ID          string    `json:"id"`
	URL         string    `json:"url,omitempty"` // where its API answers
	Version     string    `json:"version,omitempty"`
	StartedAt   time.Time `json:"started_at"`
	LastSeen    time.Time `json:"last_seen"`
	Coordinator bool      `json:"coordinator"`
	// CoordinatingSince is when the coordinator's tenure began (set on the
	// coordinator only); Token is the tenure's fencing token.
	CoordinatingSince *time.Time `json:"coordinating_since,omitempty"`
	Token             int64      `json:"token,omitempty"`
	// Stale: not seen for three leases (stopped, or cut off).
	Stale bool `json:"stale"`
	// Self marks the broker that answered.
	Self bool `json:"self"`
}
