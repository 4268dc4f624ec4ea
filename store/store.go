// Package store is larder's state as the rest of the code sees it: the Store
// interface (with its transactions), the records it keeps (apps, config vars,
// add-ons, attachments, nodes, operations, events, hosts, forks, follows, OSB
// instances and bindings, backups and their schedules, add-ons' edge
// endpoints, the dashboard's sessions) and the rules every implementation keeps. It holds no SQL and no
// business rules: store/sqlite is the default implementation, store/postgres
// the one several brokers share, and store/storetest is the conformance
// suite any implementation must pass.
//
// Errors are fault kinds: a missing record is fault.NotFound, a taken name or
// port, a stale epoch or a duplicate id is fault.Conflict.
package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Store is an open store. Its repository methods (Q) each run on their own;
// InTx is the one way to run several in one transaction.
type Store interface {
	Q
	ChangeRepo
	MetricRepo
	LeaseRepo
	ReportRepo
	SessionRepo
	// OnCommit registers fn, called after every commit (of a transaction, or
	// of a write run on its own) once readers can see it: the change feed's
	// wake-up. fn must be quick and must not write.
	OnCommit(fn func())
	// InTx runs fn in a transaction, committing when it returns nil and
	// rolling back otherwise.
	InTx(ctx context.Context, fn func(tx Tx) error) error
	// Close releases the store.
	Close() error
}

// RemoteCommits is a Store whose OnCommit hooks also run for the commits of
// other brokers on the same store (PostgreSQL's LISTEN/NOTIFY), and its
// OnReport hooks for their reports: a waiter on the change feed, or a
// reader of the reports, then needs no look at the store for them.
type RemoteCommits interface {
	// RemoteCommits reports whether other brokers' commits run the hooks.
	RemoteCommits() bool
}

// Tx is a transaction: its repositories see and change only its snapshot.
type Tx interface {
	Q
	// RequireLease fails the transaction (a Conflict, with nothing
	// written) unless token is the coordinator lease's current one: a
	// coordinator that lost its lease — paused past it, say — cannot write
	// once another began a tenure. It holds the lease row until the
	// transaction ends, so no new tenure begins meanwhile. InTx calls it
	// first when its context carries a token (WithLease).
	RequireLease(ctx context.Context, token int64) error
}

// Q is the repository: every read and write of a record, the same inside a
// transaction (Tx) and outside one (Store). Functions that only read or
// write take a Q, so they work in either.
//
// Q has a method per query (about 80): it is the whole persistence surface
// of the broker, split by record into the interfaces below so that an
// implementation (or a reader) can take it one record at a time.
type Q interface {
	AppRepo
	AddonRepo
	AttachmentRepo
	NodeRepo
	HostRepo
	OperationRepo
	ForkRepo
	OSBRepo
	BackupRepo
	EdgeRepo
}

// AppRepo holds apps and the config vars users set on them.
type AppRepo interface {
	// CreateApp inserts an app; a taken name is a Conflict.
	CreateApp(ctx context.Context, name string) (App, error)
	// EnsureApp returns the named app, creating it when it is missing. Two
	// callers racing to create it both get the one row: a taken name is
	// no error here, so it is safe inside a transaction.
	EnsureApp(ctx context.Context, name string) (App, error)
	AppByName(ctx context.Context, name string) (App, error)
	// Apps lists every app by name.
	Apps(ctx context.Context) ([]App, error)
	// DeleteApp removes an app with its user config vars and attachments.
	DeleteApp(ctx context.Context, id string) error
	// UserVars returns the vars users set on an app (not the add-on ones).
	UserVars(ctx context.Context, appID string) (map[string]string, error)
	SetUserVar(ctx context.Context, appID, name, value string) error
	// UnsetUserVar removes one user var; a missing var is not an error.
	UnsetUserVar(ctx context.Context, appID, name string) error
}

// AddonRepo holds add-ons, their settings, credentials and epoch.
type AddonRepo interface {
	// CreateAddon inserts an add-on (ID, CreatedAt, UpdatedAt and Epoch 1
	// are filled in when unset); a taken name is a Conflict.
	CreateAddon(ctx context.Context, a *Addon) error
	AddonByID(ctx context.Context, id string) (Addon, error)
	AddonByName(ctx context.Context, name string) (Addon, error)
	// Addons lists every add-on, by name.
	Addons(ctx context.Context) ([]Addon, error)
	// AddonsOfApp lists add-ons owned by or attached to an app, by name.
	AddonsOfApp(ctx context.Context, appID string) ([]Addon, error)
	// ListedAddons lists, by name, what a listing shows of the add-ons
	// AddonsOfApp(appID) lists, or of every add-on when appID is "": each
	// add-on without its credentials and epoch (left empty), which makes
	// reading 10 000 of them a third faster. Never use one to act on.
	ListedAddons(ctx context.Context, appID string) ([]Addon, error)
	CountOwnedAddons(ctx context.Context, appID string) (int, error)
	SetAddonState(ctx context.Context, id, state, reason string) error
	SetAddonEngine(ctx context.Context, id, engine, version string) error
	// DeleteAddon removes an add-on with its attachments, nodes, fork and
	// follow.
	DeleteAddon(ctx context.Context, id string) error
	UpdateAddonSettings(ctx context.Context, id, policy string, timeout int, notify string) error
	// SetCustomerPasswords records the customer's password and the second
	// one its nodes also accept while a rotation is under way ("" for none).
	SetCustomerPasswords(ctx context.Context, id, password, alt string) error
	SetAddonPlan(ctx context.Context, id, plan string) error
	// HandOverAddon gives an add-on that belongs to app from (a started
	// spare) to app to under name, as created now. It is a compare-and-set on
	// the owner: false, and nothing changed, when the add-on no longer
	// belongs to from (another request took it first). A taken name is a
	// Conflict.
	HandOverAddon(ctx context.Context, id, from, to, name string) (bool, error)
	// AdvanceEpoch moves an add-on's epoch from read, the epoch its caller
	// read before deciding on a change of roles, to read+1 and returns it. It
	// is a compare-and-set: when another writer moved the epoch first,
	// nothing changes and the answer is a Conflict, so of two promotions
	// decided on the same state exactly one is recorded.
	AdvanceEpoch(ctx context.Context, id string, read int64) (int64, error)
	AddonEpoch(ctx context.Context, id string) (int64, error)
}

// AttachmentRepo holds the names add-ons have on apps.
type AttachmentRepo interface {
	// CreateAttachment inserts an attachment; a name already used on the
	// app is a Conflict.
	CreateAttachment(ctx context.Context, at *Attachment) error
	// AttachmentsOfApp lists an app's attachments, by name.
	AttachmentsOfApp(ctx context.Context, appID string) ([]Attachment, error)
	// AttachmentsOfAddon lists an add-on's attachments on every app, by app
	// then name.
	AttachmentsOfAddon(ctx context.Context, addonID string) ([]Attachment, error)
	// AttachmentsOfAddons lists, in one query, the attachments on every app
	// of the add-ons AddonsOfApp(appID) lists, or of every add-on when appID
	// is "": grouped by add-on, each add-on's as AttachmentsOfAddon lists
	// them (a listing of many add-ons asks once, not once per add-on).
	AttachmentsOfAddons(ctx context.Context, appID string) ([]Attachment, error)
	Attachments(ctx context.Context) ([]Attachment, error)
	DeleteAttachment(ctx context.Context, id string) error
	DeleteAttachmentsOfAddon(ctx context.Context, addonID string) error
}

// NodeRepo holds engine processes and the (host, port) each one claims.
type NodeRepo interface {
	// CreateNode inserts a node, claiming its (host, port); a port another
	// node holds is a Conflict.
	CreateNode(ctx context.Context, n *Node) error
	// ClaimNode inserts a node unless its (host, port) is taken, and reports
	// whether it did. A taken port is no error, so a caller can try the next
	// port inside one transaction (a failed statement would abort the whole
	// transaction on PostgreSQL).
	ClaimNode(ctx context.Context, n *Node) (bool, error)
	// MoveNodePort gives a node another port on its host unless another node
	// holds that one there, and reports whether it did.
	MoveNodePort(ctx context.Context, id string, port int) (bool, error)
	// UsedPorts lists the ports claimed on a host, or by any node on the same
	// address (several hosts may share one), ascending.
	UsedPorts(ctx context.Context, host, address string) ([]int, error)
	NodeByID(ctx context.Context, id string) (Node, error)
	NodeByName(ctx context.Context, name string) (Node, error)
	// NodeAt returns the node listening on address:port, whichever add-on
	// owns it.
	NodeAt(ctx context.Context, address string, port int) (Node, error)
	// NodesOfAddon lists an add-on's nodes, primary first.
	NodesOfAddon(ctx context.Context, addonID string) ([]Node, error)
	NodesOnHost(ctx context.Context, host string) ([]Node, error)
	AllNodes(ctx context.Context) ([]Node, error)
	// NodeCounts returns how many nodes each host runs.
	NodeCounts(ctx context.Context) (map[string]int, error)
	UpdateNodeRuntime(ctx context.Context, id, address, dir string, pid int, state string) error
	// SetNodeState changes a node's state (and pid when pid > 0).
	SetNodeState(ctx context.Context, id, state string, pid int) error
	DeleteNode(ctx context.Context, id string) error
	// SetNodeRole records a node's role with the epoch it was decided in,
	// which must be newer than the one its role was last written under: an
	// older (or the same) epoch is a Conflict and changes nothing.
	SetNodeRole(ctx context.Context, id, role string, epoch int64) error
}

// HostRepo holds the agents nodes are placed on.
type HostRepo interface {
	// UpsertHost records an agent (a restarted agent registers again with
	// its new URL or token).
	UpsertHost(ctx context.Context, h *Host) error
	Hosts(ctx context.Context) ([]Host, error)
	HostByName(ctx context.Context, name string) (Host, error)
	SetHostDraining(ctx context.Context, name string, draining bool) error
	// SetHostCursor records how far the broker has read a host's events.
	SetHostCursor(ctx context.Context, name, boot string, seq int64) error
}

// OperationRepo holds async work, its leases, and add-ons' event history.
type OperationRepo interface {
	// CreateOperation inserts an operation, with the lease its Owner and
	// LeaseUntil give (none when Owner is "").
	CreateOperation(ctx context.Context, op *Operation) error
	OperationByID(ctx context.Context, id string) (Operation, error)
	UpdateOperation(ctx context.Context, id, state, progress, errMsg string) error
	// UpdateOwnedOperation sets id's state, progress and error only while
	// owner holds it, in the same statement, and reports whether it did: a
	// runner whose broker lost the operation (paused past its lease, or cut
	// from the store while renewing it) and another broker took over never
	// records progress or a result over the new owner's run.
	UpdateOwnedOperation(ctx context.Context, id, owner, state, progress, errMsg string) (bool, error)
	// SetOperationStep records the point an operation has reached and its
	// params as they now are, only while owner holds it, in the same
	// statement, and reports whether it did: in a transaction, a step not
	// recorded takes back what the transaction did with it (a node a run
	// that lost its operation claimed).
	SetOperationStep(ctx context.Context, id, owner, step, params string) (bool, error)
	// UnfinishedOperations lists operations not yet succeeded or failed,
	// oldest first.
	UnfinishedOperations(ctx context.Context) ([]Operation, error)
	UnfinishedOperationsOf(ctx context.Context, addonID string) ([]Operation, error)

	// ClaimOperation makes owner the holder of the unfinished operation id
	// until now+ttl when no one holds it (never leased, released, or its
	// lease ended before now), and reports whether it did. A live lease is
	// refused whoever holds it, owner included: a claim is how a broker
	// takes over work no one runs, never a second run of work under way.
	ClaimOperation(ctx context.Context, id, owner string, now time.Time, ttl time.Duration) (bool, error)
	// RenewOperation extends owner's lease on id to now+ttl and reports
	// whether owner still held it (false: another broker took it over).
	RenewOperation(ctx context.Context, id, owner string, now time.Time, ttl time.Duration) (bool, error)
	// ReleaseOperation gives up owner's lease on id, so that another broker
	// can take the operation over at once; a lease owner lost is left alone.
	ReleaseOperation(ctx context.Context, id, owner string) error

	// AddEvent appends an event to an add-on's history.
	AddEvent(ctx context.Context, addonID, addonName, kind, message string) error
	// EventsOfAddon lists an add-on's events, oldest first.
	EventsOfAddon(ctx context.Context, addonID string) ([]Event, error)
}

// ForkRepo holds where add-ons' data comes from: forks and follows.
type ForkRepo interface {
	// CreateFork records the source of a new add-on; a second one is a
	// Conflict.
	CreateFork(ctx context.Context, f *Fork) error
	// ForkOf returns an add-on's fork; NotFound when it was not forked.
	ForkOf(ctx context.Context, addonID string) (Fork, error)
	UpdateForkProgress(ctx context.Context, addonID string, p ForkProgress) error
	// FinishFork records a fork as done and forgets the source's credentials.
	FinishFork(ctx context.Context, addonID string, p ForkProgress) error
	// SetFollow records (or replaces) the leader an add-on follows.
	SetFollow(ctx context.Context, f *Follow) error
	// FollowOf returns the leader an add-on follows; NotFound when it
	// follows none.
	FollowOf(ctx context.Context, addonID string) (Follow, error)
	Follows(ctx context.Context) ([]Follow, error)
	DeleteFollow(ctx context.Context, addonID string) error
}

// OSBRepo holds Open Service Broker instances and bindings.
type OSBRepo interface {
	// CreateOSBInstance inserts an instance; an id already present is a
	// Conflict.
	CreateOSBInstance(ctx context.Context, in *OSBInstance) error
	// OSBInstanceByID returns one instance, whatever its state.
	OSBInstanceByID(ctx context.Context, id string) (OSBInstance, error)
	OSBInstancesOfAddon(ctx context.Context, addonID string) ([]OSBInstance, error)
	SetOSBInstanceOperation(ctx context.Context, id, opID, kind string) error
	SetOSBInstanceRequest(ctx context.Context, id, planID, parameters, context string) error
	// MarkOSBInstanceDeleted records that an instance's deletion finished at
	// at, with the deletion of every binding it still had.
	MarkOSBInstanceDeleted(ctx context.Context, id string, at time.Time) error
	// DeleteOSBInstance removes an instance row and the binding rows it
	// left, so its id can be used again; live bindings are kept.
	DeleteOSBInstance(ctx context.Context, id string) error
	// ForgetOSB reduces instances and bindings deleted before cutoff to
	// their ids.
	ForgetOSB(ctx context.Context, cutoff time.Time) error
	// CreateOSBBinding inserts a binding; an id already present, or the
	// user of another live binding of the add-on, is a Conflict.
	CreateOSBBinding(ctx context.Context, bd *OSBBinding) error
	OSBBindingByID(ctx context.Context, id string) (OSBBinding, error)
	// ActiveOSBBindingsOfAddon lists an add-on's live bindings, oldest first.
	ActiveOSBBindingsOfAddon(ctx context.Context, addonID string) ([]OSBBinding, error)
	// MarkOSBBindingDeleted records a binding's deletion at at and drops its
	// password; a binding not live is NotFound.
	MarkOSBBindingDeleted(ctx context.Context, id string, at time.Time) error
	// RestoreOSBBinding puts back a binding whose deletion could not be
	// carried out, password included.
	RestoreOSBBinding(ctx context.Context, bd OSBBinding) error
	DeleteOSBBinding(ctx context.Context, id string) error
}

// NewID returns a random UUID (version 4).
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Change is one numbered entry of the change feed: something an app can see
// changed (its config vars, an attachment, an add-on it owns or has
// attached, that add-on's nodes, operations or events). The store records it
// in the transaction that made the change, whoever made it; it says what
// changed, not to what.
type Change struct {
	Seq       int64     `db:"seq"`
	AppID     string    `db:"app_id"`   // app-level changes
	AddonID   string    `db:"addon_id"` // add-on changes
	AddonName string    `db:"addon_name"`
	Kind      string    `db:"kind"`    // config, attachment, addon, node, operation, event, backup, app
	Subject   string    `db:"subject"` // an operation or event id, a var or attachment name
	At        time.Time `db:"at"`
}

// ChangeRepo reads the change feed. Sequence numbers grow in commit order.
type ChangeRepo interface {
	// AppChanges returns up to limit changes after cursor that the app can
	// see, and the cursor to read from next: past every change up to the
	// feed's head, the app's or not, when fewer than limit came back. reset
	// says changes after cursor were pruned: the reader must read the state
	// again. A cursor ahead of the head is Invalid. An add-on's changes after
	// its rows are deleted (its destroy operation ending, its last event)
	// stay its owning app's.
	AppChanges(ctx context.Context, appID string, cursor int64, limit int) (changes []Change, next int64, reset bool, err error)
	// Changes returns up to limit changes of every app and add-on after
	// cursor, and the cursor to read from next, with AppChanges' rules
	// (reset, a cursor ahead of the head). The edge follows it.
	Changes(ctx context.Context, cursor int64, limit int) (changes []Change, next int64, reset bool, err error)
	// ChangeHead is the seq of the latest change, 0 when there is none.
	ChangeHead(ctx context.Context) (int64, error)
	// PruneChanges drops the changes recorded before t and returns how many.
	PruneChanges(ctx context.Context, before time.Time) (int64, error)
}
