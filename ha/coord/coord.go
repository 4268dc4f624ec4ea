// Package coord takes larder's HA decisions and runs their state machine:
// when a lost primary is failed over (the observers' verdict, its host's own
// word, the lease wait that fences it, the decision taken again just before
// the promotion), how a role change decided under an epoch loses to a newer
// one (superseded), how long a failed standby rebuild waits before the next,
// when the observers' ability to decide changes, and which nodes the
// reconciler brings back to their recorded roles.
//
// It reads time only through an injected Clock, so its tests run in virtual
// time, and talks to the rest of larder through small interfaces: the store,
// the hosts, and the broker's actions on nodes (Actions). The broker builds a
// Coordinator and calls it from its reconciler loop and its operations.
package coord

import (
	"context"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"larder/engine"
	"larder/ha"
	"larder/internal/ratelog"
	"larder/provisioner"
	"larder/store"
)

// Events is the sink of what the coordinator decided (a rollback, a
// superseded change); a role commit records its event in its own
// transaction instead.
type Events interface {
	AddEvent(ctx context.Context, addonID, addonName, kind, message string) error
}

// Store is what the coordinator reads and records (store.Store has it).
type Store interface {
	Events
	AddonByID(ctx context.Context, id string) (store.Addon, error)
	AddonEpoch(ctx context.Context, id string) (int64, error)
	NodesOfAddon(ctx context.Context, addonID string) ([]store.Node, error)
	InTx(ctx context.Context, fn func(tx store.Tx) error) error
}

// Hosts is what the broker last saw of its hosts, and the calls that reach
// them.
type Hosts interface {
	// Up reports whether host answered the last status round.
	Up(host string) bool
	// LastContact is when host last answered; ok is false if it never has.
	LastContact(host string) (t time.Time, ok bool)
	// Status asks host for its nodes.
	Status(ctx context.Context, host string) (provisioner.HostStatus, error)
	// Stop stops node n on its host.
	Stop(ctx context.Context, n store.Node) error
}

// Actions are the broker's steps on an add-on's nodes that a failover needs.
type Actions interface {
	// Replication asks node n of a for its replication state.
	Replication(ctx context.Context, a store.Addon, n store.Node) (engine.ReplInfo, error)
	// Lock takes add-on id's lock; the returned func releases it.
	Lock(id string) func()
	// ApplyRoles brings the nodes named by ids, in that order, to the roles
	// the store records, through their hosts.
	ApplyRoles(ctx context.Context, a store.Addon, ids ...string) error
	// AfterFailover follows a recorded failover on the nodes: the old
	// primary removed if its host answers, a new standby built.
	AfterFailover(ctx context.Context, a store.Addon, old store.Node, progress func(string)) error
	// StartFailover records a failover operation of a with its detection
	// event and runs job as that operation.
	StartFailover(ctx context.Context, a store.Addon, detect string, job func(ctx context.Context, progress func(string)) error) error
	// CrashPoint is a fault-injection point (the broker's --crash-at).
	CrashPoint(name string)
}

// Config sets a Coordinator up.
type Config struct {
	Clock   Clock // default Real()
	Tracker *ha.Tracker
	Rules   ha.Rules
	// Lease is the agents' lease: a cut-off agent pauses its primaries by
	// itself within it.
	Lease time.Duration
	// LocalHost names the broker's own host: a node on it that cannot be
	// stopped is not running.
	LocalHost string
	// StatusTimeout bounds a host status call; ProbeTimeout a node's
	// replication check.
	StatusTimeout, ProbeTimeout time.Duration
	// Interval is the reconciler's: the observers get Rules.Fresh plus one
	// interval after the start before their decision is noted.
	Interval time.Duration
	// StandbyGrace is the first wait after a failed standby rebuild.
	StandbyGrace time.Duration

	Store   Store
	Hosts   Hosts
	Actions Actions
	Log     logrus.FieldLogger
}

// Coordinator holds the HA decisions' state: which add-ons a failover or a
// standby rebuild runs on, the rebuild backoff, and the observers' last
// decision warning. It is safe for concurrent use.
type Coordinator struct {
	cfg    Config
	clock  Clock
	log    logrus.FieldLogger
	logged *ratelog.Limiter

	mu         sync.Mutex
	failing    map[string]bool // add-on id → a failover runs
	rebuilding map[string]bool // add-on id → a standby rebuild runs
	// Standby rebuilds that failed, per add-on id: how many in a row, and
	// when the next may start.
	rebuildFails map[string]int
	rebuildAt    map[string]time.Time
	started      time.Time
	decision     *string // the observers' last warning ("" when they can decide); nil before the first
}

// New returns a coordinator; call Start when its loop starts.
func New(cfg Config) *Coordinator {
	if cfg.Clock == nil {
		cfg.Clock = Real()
	}
	if cfg.Log == nil {
		cfg.Log = logrus.StandardLogger()
	}
	return &Coordinator{cfg: cfg, clock: cfg.Clock, log: cfg.Log.WithField("component", "coord"),
		logged: ratelog.New(time.Minute, cfg.Clock.Now), failing: map[string]bool{}, rebuilding: map[string]bool{},
		rebuildFails: map[string]int{}, rebuildAt: map[string]time.Time{}}
}

// Start marks when the reconciler loop started.
func (c *Coordinator) Start() {
	c.mu.Lock()
	c.started = c.clock.Now()
	c.mu.Unlock()
}

// Clock is the coordinator's clock.
func (c *Coordinator) Clock() Clock { return c.clock }

// Rules are the failover decision's parameters.
func (c *Coordinator) Rules() ha.Rules { return c.cfg.Rules }

// Failing reports whether a failover of add-on id runs.
func (c *Coordinator) Failing(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failing[id]
}

// Hold marks a failover of add-on id as running until the returned func is
// called: no other starts meanwhile, and its nodes' roles are left alone.
func (c *Coordinator) Hold(id string) func() {
	c.mu.Lock()
	c.failing[id] = true
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		delete(c.failing, id)
		c.mu.Unlock()
	}
}

// LogOnce logs msg for add-on id at most once a minute.
func (c *Coordinator) LogOnce(id, msg string) {
	c.logged.Log(c.log.WithField("addon", id), id, logrus.WarnLevel, msg)
}
