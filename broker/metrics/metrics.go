// Package metrics is the broker's sampler of its nodes' figures: every
// interval it reads every node's INFO through the node's host (each node
// under a deadline of its own, many at once, so a slow node never delays the
// others), turns counters into rates, and folds the samples into the store at
// three steps (tiers): the finest (10 s) kept 6 hours, 5 minutes kept a week,
// 1 hour kept 30 days, older points pruned. It keeps the latest sample of
// each node in memory for the Prometheus endpoint (no INFO per scrape), reads
// an add-on's series back for the API (Series), and holds the broker's and HA
// pairs' counters (Counters). Its clock is injected, so the roll-ups are
// tested in virtual time.
package metrics

import (
	"context"
	"larder/broker/lead"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"larder/catalog"
	"larder/ha/coord"
	"larder/provisioner"
	"larder/store"
)

// Config sets the sampler up.
type Config struct {
	// Interval is how often every node is sampled; default 10s. 0 or less
	// with Disabled set samples nothing.
	Interval time.Duration
	// Disabled turns sampling off (the API then answers with no points).
	Disabled bool
	// Timeout bounds one node's reading; default the smaller of 2s and the
	// interval.
	Timeout time.Duration
	// Parallel is how many nodes are read at once; default 32.
	Parallel int
	// Clock is the sampler's time; default the wall clock.
	Clock coord.Clock
	// Lead gates the sampling rounds: only the coordinator samples (nil:
	// every round runs).
	Lead lead.Gate
}

// Deps are the parts of the broker the sampler uses.
type Deps struct {
	Store store.Store
	Hosts Hosts
	Nodes Nodes
	Log   logrus.FieldLogger
}

// Hosts gives the host a node runs on (broker/hostset).
type Hosts interface {
	Of(n store.Node) provisioner.Host
}

// Nodes is what the sampler asks of the broker's node placement: the spec
// a host reads a node's figures with (its name, port and larder's users:
// built from the add-on alone, with no store read, as every round needs one
// per node), and an add-on's plan (its limits).
type Nodes interface {
	InfoSpec(a store.Addon, p *catalog.Plan, n store.Node) provisioner.NodeSpec
	PlanOf(a store.Addon) (*catalog.Plan, error)
}

// Tier is one step of the stored series and how long its points are kept.
type Tier struct {
	Step, Keep time.Duration
}

// TiersFor returns the tiers for a sampling interval: the finest step is the
// interval in whole seconds (1 s to 10 s), kept 6 hours; then 5 minutes for
// a week and 1 hour for 30 days.
func TiersFor(interval time.Duration) []Tier {
	fine := min(max(interval.Truncate(time.Second), time.Second), 10*time.Second)
	return []Tier{{fine, 6 * time.Hour}, {5 * time.Minute, 7 * 24 * time.Hour}, {time.Hour, 30 * 24 * time.Hour}}
}

// pruneEvery is how often old points are deleted.
const pruneEvery = time.Minute

// Sampler samples every node each interval and keeps the series.
type Sampler struct {
	cfg      Config
	tiers    []Tier
	store    store.Store
	hosts    Hosts
	nodes    Nodes
	log      logrus.FieldLogger
	counters *Counters

	mu        sync.Mutex
	prev      map[string]reading // by node id: the counters the next rates start from
	latest    map[string]Latest  // by node id
	lastPrune time.Time
	rounds    uint64
	failures  uint64 // node readings that failed
	roundTook time.Duration

	stop chan struct{}
	done chan struct{}
}

// New returns a sampler; Start runs it.
func New(cfg Config, d Deps) *Sampler {
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = min(2*time.Second, cfg.Interval)
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 32
	}
	if cfg.Clock == nil {
		cfg.Clock = coord.Real()
	}
	return &Sampler{cfg: cfg, tiers: TiersFor(cfg.Interval), store: d.Store, hosts: d.Hosts, nodes: d.Nodes,
		log: d.Log.WithField("component", "metrics"), counters: NewCounters(),
		prev: map[string]reading{}, latest: map[string]Latest{}}
}

// Counters are the broker's and HA pairs' counters.
func (s *Sampler) Counters() *Counters { return s.counters }

// Tiers are the steps the series are kept at, finest first.
func (s *Sampler) Tiers() []Tier { return s.tiers }

// Start samples every interval until Close (unless disabled).
func (s *Sampler) Start() {
	if s.cfg.Disabled || s.stop != nil {
		return
	}
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go s.loop()
}

// Close stops sampling and waits for a round under way.
func (s *Sampler) Close() {
	if s.stop == nil {
		return
	}
	close(s.stop)
	<-s.done
}

func (s *Sampler) loop() {
	defer close(s.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-s.done:
		}
	}()
	for {
		t := s.cfg.Clock.NewTimer(s.cfg.Interval)
		select {
		case <-s.stop:
			t.Stop()
			return
		case <-t.C():
		}
		lead.Run(s.cfg.Lead, ctx, func(ctx context.Context) {
			if err := s.Round(ctx); err != nil && ctx.Err() == nil {
				s.log.WithError(err).Warn("metrics round")
			}
		})
	}
}

// Stats tell how the sampler itself does: rounds run, node readings that
// failed, and how long the last round took.
type Stats struct {
	Rounds, Failures uint64
	LastRound        time.Duration
}

// Stats returns the sampler's own figures.
func (s *Sampler) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Rounds: s.rounds, Failures: s.failures, LastRound: s.roundTook}
}
