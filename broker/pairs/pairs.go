// Package pairs is the broker's glue of HA pairs: it records the observers'
// reports in the store and folds every broker's into the failover decision
// (package ha), gives the coordinator (package ha/coord) the broker's hosts
// and its steps on nodes, and runs the reconciler that keeps pairs whole —
// settling roles hosts report behind the store, re-adopting nodes,
// quarantining orphans, rebuilding standbys.
// It runs switchovers (redis:failover, hosts:drain) and standby rebuilds as
// operations, and answers redis:info's HA part. It reaches the broker's
// node placement through Nodes, never the broker itself.
package pairs

import (
	"context"
	"larder/broker/lead"
	"time"

	"github.com/sirupsen/logrus"

	"larder/broker/hostset"
	"larder/broker/jobs"
	"larder/broker/metrics"
	"larder/catalog"
	"larder/ha"
	"larder/ha/coord"
	"larder/provisioner"
	"larder/store"
)

// Config is what the broker's operator set that pairs use (see
// broker.Config, whose defaults are filled in).
type Config struct {
	BrokerID          string // the broker's id in the store: it records the reports it receives under it
	LocalHost         string // the broker's own host
	ReconcileInterval time.Duration
	StandbyGrace      time.Duration
	FailoverWindow    time.Duration
	MinQuorum         int
	MonitorFresh      time.Duration
	Lease             time.Duration // the agents' lease
	MonitorPassword   string
	Clock             coord.Clock
	// Lead gates the reconciler's rounds: only the coordinator reconciles
	// and fails over, its writes fenced by the lease (nil: every round runs).
	Lead lead.Gate
}

// Deps are the parts of the broker pairs work with.
type Deps struct {
	Store  store.Store
	Hosts  *hostset.Set
	Jobs   *jobs.Runner
	Nodes  Nodes
	Follow Follower
	Log    logrus.FieldLogger
	// Counters count failovers, switchovers and the observers' votes (nil:
	// none).
	Counters *metrics.Counters
}

// Nodes is what pairs ask of the broker's node placement: node specs as the
// store has them, plans, and standbys claimed, started and dropped.
type Nodes interface {
	SpecsOf(ctx context.Context, q store.Q, a store.Addon) ([]store.Node, []provisioner.NodeSpec, error)
	NodeSpecs(ctx context.Context, q store.Q, a store.Addon, nodes []store.Node) ([]provisioner.NodeSpec, error)
	PlanOf(a store.Addon) (*catalog.Plan, error)
	ClaimStandby(ctx context.Context, a store.Addon, kind string, record func(tx store.Tx, n store.Node) error, avoid ...string) (store.Node, error)
	StartStandby(ctx context.Context, a store.Addon, nn store.Node, kind string, progress func(string)) error
	AddStandby(ctx context.Context, a store.Addon, progress func(string), avoid ...string) (store.Node, error)
	DropNode(ctx context.Context, a store.Addon, n store.Node) error
}

// Follower makes a following add-on's primary match the store
// (redis:follow): a promoted standby resumes following the leader.
type Follower interface {
	ApplyFollow(ctx context.Context, a store.Addon) error
}

// Pairs is the glue of HA pairs: observers' reports, failover, switchover,
// standby rebuilds, role fencing and node agreement.
type Pairs struct {
	cfg     Config
	store   store.Store
	hosts   *hostset.Set
	jobs    *jobs.Runner
	nodes   Nodes
	follow  Follower
	log     logrus.FieldLogger
	count   *metrics.Counters
	tracker *ha.Tracker
	coord   *coord.Coordinator // HA decisions: failover, fencing, rebuild backoff
	recon   *reconciler
	votes   *votes // the observers' reports, shared through the store
}

// Operation kinds pairs run, and resume after a broker restart.
const (
	opSwitchover = "switchover"
	opRebuild    = "standby_rebuild"
	opFailover   = "failover"
)

// New returns the pairs of a broker and registers how their operations
// resume. Start runs the reconciler.
func New(cfg Config, d Deps) *Pairs {
	b := &Pairs{cfg: cfg, store: d.Store, hosts: d.Hosts, jobs: d.Jobs, nodes: d.Nodes, follow: d.Follow, log: d.Log, count: d.Counters,
		tracker: ha.NewTracker(cfg.MonitorFresh)}
	b.coord = newCoordinator(b)
	b.recon = newReconciler(b)
	b.votes = newVotes(b)
	d.Jobs.Register(opSwitchover, jobs.Kind{Resume: func(op store.Operation) jobs.Step { return b.switchoverStep(op, true) }})
	d.Jobs.Register(opRebuild, jobs.Kind{Resume: func(op store.Operation) jobs.Step { return b.recon.rebuildJob(op, true) }})
	d.Jobs.Register(opFailover, jobs.Kind{Resume: func(op store.Operation) jobs.Step {
		id := op.AddonID
		// No second failover of it starts while this one is finished or
		// rolled back.
		done := b.coord.Hold(id)
		return func(ctx context.Context, progress func(string)) error {
			defer done()
			return b.resumeFailover(ctx, id, progress)
		}
	}})
	return b
}

// Start runs the coordinator and the reconciler until Close.
func (b *Pairs) Start() { b.recon.Start() }

// Nudge asks the reconciler for a round now (this broker began
// coordinating, say).
func (b *Pairs) Nudge() { b.recon.Nudge() }

// Close stops the reconciler and the reading of the reports, and waits
// for them.
func (b *Pairs) Close() {
	b.recon.Close()
	b.votes.close()
}

// Repush makes every node on host agree with the store again: it missed
// what changed while it was away.
func (b *Pairs) Repush(host string) { b.recon.repush(host) }

// Rebuilding reports whether a standby of add-on id is being built.
func (b *Pairs) Rebuilding(id string) bool { return b.coord.Rebuilding(id) }
