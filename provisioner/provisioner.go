// Package provisioner is the contract between larder and the machines that
// run its nodes: the Host interface every host driver implements (local
// processes in provisioner/local, a remote agent in provisioner/agent), and
// the types they share (NodeSpec, Node, NodeInfo, Event, HostStatus).
// What one Valkey/Redis process is and how it is talked to lives in package
// engine.
//
// It never decides *when* to fail over; the broker and the ha package do.
package provisioner

import (
	"context"
	"time"

	"larder/engine"
)

// NodeSpec is everything a host needs to run one node. The broker builds it
// from the store; the host keeps a copy to restart the node in place. It is
// the engine's Spec, since the engine renders a node's files from it.
type NodeSpec = engine.Spec

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
	// Stats are the counters and health flags metrics sample (an agent
	// older than them reports zeros).
	Stats engine.Stats
	// ReplOffset is the node's replication offset; ReplLagBytes, on a
	// primary, how far its furthest replica is behind it.
	ReplOffset   int64
	ReplLagBytes int64
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
	Engine() engine.Engine
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
	// Logs reads the node's own log (the engine's, engine.LogFile) as
	// req says: whole lines after an offset, bounded, every password of
	// spec redacted; with nothing new it waits up to req.Wait for a line
	// (within ctx) instead of answering at once.
	Logs(ctx context.Context, spec NodeSpec, req LogRequest) (LogChunk, error)
	// Status reports whether the host answers, and the nodes it supervises.
	Status(ctx context.Context) (HostStatus, error)
	// Close stops supervision; the nodes keep running.
	Close(ctx context.Context) error
}

// LogChunk is what a read of a node's log found: its lines and the offset
// to read from next.
type LogChunk = engine.LogChunk

// LogRequest is a read of a node's log.
type LogRequest struct {
	// From is an offset a previous read returned (LogChunk.Next); negative
	// reads the log's last Max bytes.
	From int64 `json:"from"`
	// Max bounds the bytes read; zero or more than MaxLogRead is MaxLogRead.
	Max int `json:"max"`
	// Wait is how long to wait for a line when there is none after From
	// (at most MaxLogWait); zero answers at once.
	Wait time.Duration `json:"wait"`
}

// Bounds of one read of a node's log.
const (
	MaxLogRead = 256 << 10
	MaxLogWait = 30 * time.Second
)

// Bounded is r with Max and Wait brought within the bounds.
func (r LogRequest) Bounded() LogRequest {
	if r.Max <= 0 || r.Max > MaxLogRead {
		r.Max = MaxLogRead
	}
	r.Wait = min(max(r.Wait, 0), MaxLogWait)
	return r
}

// HostStatus is what a host reports about itself.
type HostStatus struct {
	Name   string        `json:"name"`
	Addr   string        `json:"addr"`
	Engine engine.Engine `json:"engine"`
	Nodes  []NodeStatus  `json:"nodes"`
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
