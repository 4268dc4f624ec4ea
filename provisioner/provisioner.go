// Package provisioner runs Valkey/Redis nodes: it finds the engine, renders each
// node's config and ACL files, starts nodes as detached processes that outlive the
// broker, re-adopts them after a broker restart, supervises them (restart in place
// with backoff, crash-loop detection) and reads their live figures.
//
// It never decides *when* to fail over; the broker and the ha package do.
package provisioner

import (
	"context"
	"net"
	"strconv"
	"time"
)

// User is an engine ACL user.
type User struct {
	Name     string
	Password string
}

// Well-known user names on every node.
const (
	AdminUser    = "larder-admin" // full rights, used by larder only
	CustomerUser = "default"      // the app's user, denied the admin commands
)

// CustomerACL is the rule set of the customer's user: everything except the
// admin command group, with the harmless introspection commands given back.
// `config`, `shutdown`, `replicaof`, `acl`, `debug`, `save`, … answer NOPERM.
// `client pause` and `client unpause` stay denied: larder owns pauses (a
// switchover's, the lease's fence), and a paused node must mean one of those.
const CustomerACL = "~* &* +@all -@admin +client -client|pause -client|unpause +latency +slowlog +monitor +lastsave"

// ReplUser is the engine user a standby authenticates to its primary with;
// ReplACL is all it may do.
const (
	ReplUser = "larder-repl"
	ReplACL  = "-@all +psync +replconf +ping"
	// MonitorUser is what HA observers probe with: PING, ROLE and INFO, nothing else.
	MonitorUser = "larder-monitor"
	MonitorACL  = "-@all +ping +role +info"
)

// NodeSpec is everything a host needs to run one node. The broker builds it from
// the store; the host keeps a copy to restart the node in place.
type NodeSpec struct {
	ID   string // the node's id in the store (stable across restarts)
	Name string // human name, used for the directory and log fields: "redis-curved-41235-1"
	Port int    // recorded in the store before the node is started

	MaxMemoryBytes int64
	MaxClients     int  // the customer's connections; larder reserves a few on top
	Persistence    bool // appendonly yes + appendfsync everysec

	MaxMemoryPolicy      string
	Timeout              int    // seconds; 0 = idle forever
	NotifyKeyspaceEvents string // "" = disabled

	Admin    User
	Customer User
	// CustomerAlt is a second password the customer's user accepts while
	// a rotation is under way ("" otherwise), so the password an app holds
	// works on every node at every step, whatever a restart finds.
	CustomerAlt string
	// ExtraUsers get the customer's rights under their own names and passwords
	// (one per Open Service Broker binding), so each can be revoked alone.
	ExtraUsers []User

	// Replication, for HA pairs. Repl is the user a standby authenticates
	// with (present on both nodes, since roles swap). ReplicaOf makes the node
	// a standby of that endpoint. FallbackReplicaOf, set on a pair's primary,
	// names its standby: a primary that would restart with no data (its AOF
	// gone) comes back as a replica of it instead, and the host reports
	// EventRejoinedAsReplica, so an empty node never serves as primary while
	// its standby holds the data.
	Repl              User
	Monitor           User // observers' read-only user; none when Name is empty
	ReplicaOf         *Endpoint
	FallbackReplicaOf *Endpoint
	// Paired marks both nodes of an HA pair (whatever the plan's
	// persistence), so the replication link has a connection of its own.
	Paired bool

	// Leader, on the primary of an add-on that follows a server outside
	// larder (redis:follow), makes it a read-only replica of that server,
	// authenticating as LeaderUser (Name "": the password alone). A
	// restart in place comes back following it.
	Leader     *Endpoint
	LeaderUser User

	// Epoch is the add-on's epoch the spec's role was decided under. A host
	// keeps the newest epoch it applied a role under, in the node's
	// directory, and refuses role changes (SetRole, Reconfigure, Adopt)
	// carrying an older one: a coordinator that lost a race, or woke up
	// late, cannot undo a newer decision.
	Epoch int64
}

// Endpoint is a node's network address.
type Endpoint struct {
	Addr string
	Port int
}

// String renders host:port.
func (e Endpoint) String() string { return net.JoinHostPort(e.Addr, strconv.Itoa(e.Port)) }

// reservedClients is how many connections a node accepts on top of its
// plan's limit (spec.MaxClients: maxclients is the sum), chosen so that the
// app can open exactly the plan's limit and never locks larder out:
//
//   - 1 for larder's held connection (heldConn), opened before the node is
//     handed to the supervisor and kept: supervision and every host-side
//     admin command (Info, Reconfigure, DisconnectUser, the lease) share it;
//   - 1 more on a node that replicates, for the replication link: on a
//     pair's primary (Paired, FallbackReplicaOf) the standby is one of its
//     clients, and on the standby (ReplicaOf) or a follower (Leader) the link
//     to its primary is one. An app cannot take it while the link is up.
//
// Nothing else is reserved, since anything more would be free for the app
// to take. The transient connections larder makes from elsewhere are
// refused by a full node with "max number of clients reached": an
// observer's probe counts that as an answer (the node is alive), and the
// broker's direct calls (Target: replication, promotion, switchover,
// DisconnectClients) fail with a message saying the node is full. A
// connection larder loses (CLIENT KILL by the app) is re-dialled at once.
func reservedClients(spec NodeSpec) int {
	if spec.Paired || spec.ReplicaOf != nil || spec.FallbackReplicaOf != nil || spec.Leader != nil {
		return 2
	}
	return 1
}

// Node is where a running node lives.
type Node struct {
	ID   string
	Addr string // the address clients use, e.g. 127.0.0.1
	Port int
	Dir  string
	PID  int
}

// NodeInfo is the live figures of a node, read through the admin user.
type NodeInfo struct {
	Role             string // "master" or "slave", as the engine says
	Version          string
	UsedMemoryBytes  int64
	MaxMemoryBytes   int64
	ConnectedClients int
	MaxClients       int
	AOFEnabled       bool
	UptimeSeconds    int64
}

// EventKind is what a host reports about a node it supervises.
type EventKind string

// Event kinds.
const (
	EventExited    EventKind = "exited"    // the process died (crash, kill -9)
	EventHung      EventKind = "hung"      // it stopped answering PING and was killed
	EventRestarted EventKind = "restarted" // it was restarted in place and answers again
	EventFailed    EventKind = "failed"    // crash loop: the host gave up restarting it
	// EventUnresponsive: a node without persistence is stuck past the hang
	// window; it is killed only after the longer NoPersistenceHangTimeout,
	// since its restart loses its data. EventResponsive: it came back by
	// itself, nothing was restarted.
	EventUnresponsive EventKind = "unresponsive"
	EventResponsive   EventKind = "responsive"
	// EventRejoinedAsReplica: a primary whose data was gone was restarted as a
	// replica of its FallbackReplicaOf; the broker swaps the pair's roles.
	EventRejoinedAsReplica EventKind = "rejoined_as_replica"
	// EventPaused: the host paused the node's writes (see Pause); EventResumed:
	// it lifted that pause.
	EventPaused  EventKind = "paused"
	EventResumed EventKind = "resumed"
)

// Event is reported by a host's supervisor.
type Event struct {
	NodeID  string
	Kind    EventKind
	PID     int    // the new pid after a restart, else the last known one
	Message string // human text, never a secret
	At      time.Time
}

// Host runs nodes on one machine (or network namespace). The embedded default
// is a local host inside the broker's process; remote hosts come later.
type Host interface {
	// Name identifies the host in the store ("local").
	Name() string
	// Addr is the address nodes on this host bind to and clients dial.
	Addr() string
	// Engine is the engine this host runs.
	Engine() Engine
	// PortFree reports whether port can be bound on this host right now. The
	// broker records a port in the store first, then checks it here, outside
	// any store transaction: for an agent it is a network call, bounded by
	// ctx. An error means the host could not tell.
	PortFree(ctx context.Context, port int) (bool, error)
	// Start writes the node's directory, config and ACL files (atomically) and
	// starts it as a detached process, returning once the node answers PING as
	// the admin user. The node is then supervised.
	Start(ctx context.Context, spec NodeSpec) (Node, error)
	// Adopt takes a node started earlier (possibly by a previous broker) under
	// supervision: a running node (pidfile + PING) is kept as is; a missing one
	// is restarted in place from its directory.
	Adopt(ctx context.Context, spec NodeSpec) (Node, error)
	// Stop stops supervising the node and stops its process (SIGTERM, then a
	// deadline, then SIGKILL). Its directory stays.
	Stop(ctx context.Context, nodeID string) error
	// Remove stops the node if needed and deletes its directory: for what a
	// user asked to delete.
	Remove(ctx context.Context, spec NodeSpec) error
	// Quarantine stops the node if needed and moves its directory to the
	// host's quarantine, deleted after a retention (LocalOptions): for nodes
	// larder itself concluded it no longer needs (orphans).
	Quarantine(ctx context.Context, spec NodeSpec) error
	// Info reads the node's live figures through the admin user.
	Info(ctx context.Context, spec NodeSpec) (NodeInfo, error)
	// Reconfigure applies spec's settings and users to the running node without
	// a restart, and keeps them for later restarts.
	Reconfigure(ctx context.Context, spec NodeSpec) error
	// DisconnectUser closes every connection of an engine user.
	DisconnectUser(ctx context.Context, spec NodeSpec, user string) error
	// SetRole makes the running node what spec says under spec.Epoch: a
	// replica of spec.ReplicaOf (or a follower of spec.Leader), or a primary.
	// It is refused with a Conflict when spec.Epoch is older than the epoch
	// the host holds for the node. Once applied, the host holds spec.Epoch,
	// restarts the node in that role, and lifts a write pause it holds on
	// the node (the broker, in contact again, has decided).
	SetRole(ctx context.Context, spec NodeSpec) error
	// Status reports whether the host answers, and the nodes it supervises.
	Status(ctx context.Context) (HostStatus, error)
	// Close stops supervision; the nodes keep running.
	Close(ctx context.Context) error
}

// HostStatus is what a host reports about itself.
type HostStatus struct {
	Name   string       `json:"name"`
	Addr   string       `json:"addr"`
	Engine Engine       `json:"engine"`
	Nodes  []NodeStatus `json:"nodes"`
}

// NodeStatus is one supervised node as its host sees it.
type NodeStatus struct {
	ID     string    `json:"id"`
	Name   string    `json:"name"`
	Port   int       `json:"port"`
	PID    int       `json:"pid"`
	State  string    `json:"state"` // running, down (restart due), failed (crash loop), starting
	LastOK time.Time `json:"last_ok"`
	// Epoch is the newest epoch the host applied a role under (0: none yet).
	Epoch int64 `json:"epoch"`
	// Pause is the write pause the host holds on the node, if any.
	Pause *Pause `json:"pause,omitempty"`
}

// Engine is the server binary nodes run.
type Engine struct {
	Name    string // "valkey" or "redis"
	Path    string // absolute path of valkey-server or redis-server
	Version string // e.g. "8.0.2", read from the binary
}
