package engine

import (
	"net"
	"strconv"
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

// Spec is everything a host needs to run one node. The broker builds it from
// the store; the host keeps a copy to restart the node in place.
type Spec struct {
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

// ReservedClients is how many connections a node accepts on top of its
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
func ReservedClients(spec Spec) int {
	if spec.Paired || spec.ReplicaOf != nil || spec.FallbackReplicaOf != nil || spec.Leader != nil {
		return 2
	}
	return 1
}
