// Package broker is larder's orchestration core, with no HTTP in it: the
// rules and the operations behind the Heroku-style API (broker/httpapi) and
// the Open Service Broker API (broker/osb). One *Broker exposes its services
// by idea — Apps (broker/apps: apps, config vars, attachments), Addons
// (create, destroy, upgrade, fork, follow), Settings (broker/settings:
// settings, credentials, redis:info), Hosts (the host registry, adoption),
// OSB (broker/osbsvc: instances and bindings), Changes (broker/changes: the
// change feed) and Pairs (broker/pairs: HA — observers' reports, failover,
// switchover, standby rebuilds) and Backups (broker/backups: capture,
// schedules, retention, restore). This package holds the add-ons, the hosts
// and the nodes under them (placement, ports, specs, starts and standbys),
// and wires the rest: each service in a sub-package gets only the parts it
// uses — the store, the hosts (broker/hostset), the job runner with the
// per-add-on locks (broker/jobs) — and reaches Addons and Nodes through
// small interfaces of its own, so none imports this package. The store is
// the single source of truth; a restarted broker re-adopts the nodes it
// finds there and resumes unfinished operations (each service registers how
// its kinds resume).
package broker

import (
	"context"
	"crypto/subtle"
	"fmt"
	"larder/broker/lead"
	"larder/provisioner/agent"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"larder/broker/apps"
	"larder/broker/attach"
	"larder/broker/backups"
	"larder/broker/changes"
	"larder/broker/hostset"
	"larder/broker/jobs"
	"larder/broker/logs"
	"larder/broker/metrics"
	"larder/broker/osbsvc"
	"larder/broker/pairs"
	"larder/broker/settings"
	"larder/broker/spares"
	"larder/catalog"
	"larder/ha/coord"
	"larder/provisioner"
	"larder/store"
)

// Config is how an operator sets a broker up.
type Config struct {
	Catalog *catalog.Catalog
	Token   string // the admin API token
	// MetricsToken is the token Prometheus scrapes /metrics with: it opens
	// nothing else. "" leaves /metrics to the admin token.
	MetricsToken string
	VarPrefix    string // prefix of colored attachment names, default "LARDER_REDIS"
	PortMin      int    // node port range, inclusive
	PortMax      int
	Log          logrus.FieldLogger

	// NoLocalNodes keeps new nodes off the broker's own host, for deployments
	// (and tests) where every node runs on an agent.
	NoLocalNodes bool
	// NewRemoteHost connects to a registered agent; nil means agents cannot
	// register.
	NewRemoteHost func(h store.Host, events agent.EventReader) (provisioner.Host, error)
	// ReconcileInterval is how often HA pairs are checked and standbys
	// rebuilt; default 1s.
	ReconcileInterval time.Duration
	// StandbyGrace is how long a standby may be unreachable or failed before
	// a new one is built; default 5s.
	StandbyGrace time.Duration

	// FailoverWindow is how long a quorum of observer locations must see a
	// primary down before it is failed over; default 10s.
	FailoverWindow time.Duration
	// MinQuorum is the fewest locations that can declare a primary down; default 2.
	MinQuorum int
	// MonitorFresh: a location whose last report is older does not vote; default 3s.
	MonitorFresh time.Duration
	// Lease is the agents' lease (larder agent --lease); default 5s.
	Lease time.Duration

	// ID is the broker's identity in the store: the owner of the operations
	// it runs. Brokers sharing a store need distinct ones; one restarted on
	// its data dir keeps its own, so it takes its operations back at once.
	// Default: random, for this process only.
	ID string
	// OperationLease is how long an operation stays this broker's without a
	// renewal (renewed every third of it); another broker on the store
	// takes over an operation whose lease ended. Default 15s.
	OperationLease time.Duration
	// CoordinatorLease is how long the coordinator lease lasts without a
	// renewal (renewed every third of it): of the brokers on the store, the
	// one holding it runs the coordinating loops. Default 10s.
	CoordinatorLease time.Duration
	// URL and Version are what `larder brokers` shows of this broker.
	URL, Version string

	OSB osbsvc.Config // the Open Service Broker API (/v2)

	Edge EdgeConfig // where URLs point: the edge's host and port range

	// MonitorPassword is the password of the read-only engine user HA
	// observers probe nodes with (the same on every node).
	MonitorPassword string

	// MaxWaiters caps the requests one API token may have waiting on the
	// change feed at once (long-polls and streams); default 2048, and four
	// times as many in all.
	MaxWaiters int

	// Spares is how many started add-ons of each single-node plan the broker
	// keeps ready (package broker/spares), so that creating one needs no
	// engine start; 0, the default here, keeps none (`larder broker
	// --spares` sets 1).
	Spares int

	// CrashAt names a point where the broker exits at once (fault injection
	// for tests of recovery from the store, like Sentinel's SIMULATE-FAILURE).
	CrashAt string
	// HoldAt names a point where the broker waits while the file
	// HoldDir/held-POINT exists (fault injection: tests start two
	// coordinators' role changes at the same instant).
	HoldAt, HoldDir string

	// Clock is the HA coordinator's time, the backup scheduler's and the
	// metrics sampler's; default the wall clock.
	Clock coord.Clock

	// Backups sets the backup service up (its Clock and Log default to
	// the broker's); without a Target, backups are off.
	Backups backups.Config

	// Metrics sets the sampler of the nodes' figures up (its interval, per
	// node deadline); its Clock is Clock.
	Metrics metrics.Config
}

// DefaultVarPrefix gives LARDER_REDIS_CYAN_URL; an operator leaving Heroku can
// set HEROKU_REDIS to keep the names their apps already read.
const DefaultVarPrefix = "LARDER_REDIS"

// Broker is the orchestration core: one value the API adapters (httpapi,
// osb) and the daemon hold, exposing its services by idea. The services in
// this package (Addons, Hosts, and Nodes under them) share the core's
// dependencies; those in sub-packages (apps, settings, osbsvc, pairs) are
// given only the parts they use, and reach Addons and Nodes through small
// interfaces of their own.
type Broker struct {
	*core
	Apps     *apps.Apps         // apps, config vars, attachments, events
	Addons   *Addons            // add-ons: create, destroy, upgrade, fork, follow
	Settings *settings.Settings // settings, credentials, redis:info, wait
	Hosts    *Hosts             // the host registry: register, list, drain, adoption
	OSB      *osbsvc.Service    // the Open Service Broker instance and binding operations
	Changes  *changes.Feed      // the change feed: operation and app waits
	Logs     *logs.Logs         // apps' logs: nodes' lines and events, read or tailed
	Pairs    *pairs.Pairs       // HA pairs: observers' reports, failover, switchover, rebuilds
	Backups  *backups.Service   // backups: capture, schedules, retention, restore
	Metrics  *metrics.Sampler   // the nodes' sampled figures, and the broker's counters
}

// core holds what the services of this package share: the store, the
// hosts, the job runner (with the per-add-on locks) and the services
// themselves, so each can ask another.
type core struct {
	cfg       Config
	store     store.Store
	hosts     *hostset.Set
	localName string
	log       logrus.FieldLogger
	jobs      *jobs.Runner
	spares    *spares.Pool  // started add-ons ready to hand over
	lead      *lead.Elector // the coordinator lease: the gate of the coordinating loops
	started   atomic.Bool   // Start resumed the operations

	portMu sync.Mutex // serialises port choice within this process

	// The agents' nodes are adopted in the background at start; Close
	// ends and waits for that.
	adoptCtx    context.Context
	adoptCancel context.CancelFunc
	adopting    sync.WaitGroup

	addons  *Addons
	nodes   *Nodes
	hostReg *Hosts
	events  *hostEvents // reads the agents' events while this broker coordinates
	pairs   *pairs.Pairs
	backups *backups.Service
}

// Addons creates, destroys, upgrades, forks and follows add-ons.
type Addons struct{ *core }

// Nodes claims ports and hosts for an add-on's nodes, starts and stops them
// (the provision and deprovision steps), adds or drops standbys and brings
// running nodes to what the store records.
type Nodes struct{ *core }

// Hosts is the registry of hosts: agents register, are listed, drained and
// undrained; their nodes are adopted at start.
type Hosts struct{ *core }

// Kinds of the operations this package's services start, and resume after
// a broker restart (see jobs.Register).
const (
	opProvision   = "provision"
	opDeprovision = "deprovision"
	opPlanChange  = "plan_change"
)

// pair and primaryNode read an add-on's roles from its nodes.
var (
	pair        = coord.Pair
	primaryNode = coord.PrimaryNode
)

// New builds a broker over an open store and its own in-process host. Call
// Start before serving.
func New(cfg Config, st store.Store, local provisioner.Host) (*Broker, error) {
	if cfg.Catalog == nil {
		cfg.Catalog = catalog.Builtin()
	}
	if err := cfg.Catalog.Validate(); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	if cfg.VarPrefix == "" {
		cfg.VarPrefix = DefaultVarPrefix
	}
	if !attach.ValidAttachmentName(cfg.VarPrefix) {
		return nil, fmt.Errorf("var prefix %q: use uppercase letters, digits and underscores", cfg.VarPrefix)
	}
	if cfg.PortMin == 0 && cfg.PortMax == 0 {
		cfg.PortMin, cfg.PortMax = 21000, 21999
	}
	if cfg.PortMin < 1024 || cfg.PortMax > 65535 || cfg.PortMin > cfg.PortMax {
		return nil, fmt.Errorf("port range %d-%d: want 1024 <= min <= max <= 65535", cfg.PortMin, cfg.PortMax)
	}
	if err := cfg.Edge.validate(); err != nil {
		return nil, err
	}
	if cfg.Token == "" {
		return nil, fmt.Errorf("an API token is required")
	}
	if cfg.Log == nil {
		cfg.Log = logrus.StandardLogger()
	}
	if cfg.ReconcileInterval <= 0 {
		cfg.ReconcileInterval = time.Second
	}
	if cfg.StandbyGrace <= 0 {
		cfg.StandbyGrace = 5 * time.Second
	}
	if cfg.FailoverWindow <= 0 {
		cfg.FailoverWindow = 10 * time.Second
	}
	if cfg.MinQuorum <= 0 {
		cfg.MinQuorum = 2
	}
	if cfg.MonitorFresh <= 0 {
		cfg.MonitorFresh = 3 * time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 5 * time.Second
	}
	if cfg.ID == "" {
		cfg.ID = store.NewID()
	}
	if cfg.OperationLease <= 0 {
		cfg.OperationLease = 15 * time.Second
	}
	if cfg.CoordinatorLease <= 0 {
		cfg.CoordinatorLease = 10 * time.Second
	}
	if cfg.MaxWaiters <= 0 {
		cfg.MaxWaiters = 2048
	}
	c := &core{cfg: cfg, store: st, hosts: hostset.New(local), localName: local.Name(), log: cfg.Log.WithField("component", "broker")}
	c.lead = lead.New(lead.Config{Store: st, Self: store.BrokerInfo{ID: cfg.ID, URL: cfg.URL, Version: cfg.Version},
		Lease: cfg.CoordinatorLease, Log: c.log, OnLead: c.onLead})
	cfg.Metrics.Clock, cfg.Metrics.Lead = cfg.Clock, c.lead
	c.cfg = cfg
	sampler := metrics.New(cfg.Metrics, metrics.Deps{Store: st, Hosts: c.hosts, Nodes: &Nodes{c}, Log: c.log})
	counters := sampler.Counters()
	c.jobs = jobs.New(jobs.Config{Log: c.log, Store: st, Owner: cfg.ID, Lease: cfg.OperationLease, Retry: cfg.ReconcileInterval,
		Points: jobs.Points{CrashAt: cfg.CrashAt, HoldAt: cfg.HoldAt, HoldDir: cfg.HoldDir}, Finished: counters.Operation})
	c.adoptCtx, c.adoptCancel = context.WithCancel(context.Background())
	c.addons, c.nodes, c.hostReg = &Addons{c}, &Nodes{c}, &Hosts{c}
	c.events = newHostEvents(c.hostReg, c.lead)
	c.pairs = pairs.New(pairs.Config{LocalHost: c.localName, ReconcileInterval: cfg.ReconcileInterval, StandbyGrace: cfg.StandbyGrace,
		FailoverWindow: cfg.FailoverWindow, MinQuorum: cfg.MinQuorum, MonitorFresh: cfg.MonitorFresh, Lease: cfg.Lease,
		MonitorPassword: cfg.MonitorPassword, Clock: cfg.Clock, Lead: c.lead},
		pairs.Deps{Store: st, Hosts: c.hosts, Jobs: c.jobs, Nodes: c.nodes, Follow: c.addons, Log: c.log, Counters: counters})
	sets := settings.New(settings.Deps{Store: st, Hosts: c.hosts, Jobs: c.jobs, Log: c.log, Nodes: c.nodes, Pairs: c.pairs, Sources: c.addons,
		CA: settings.CA{Path: cfg.Edge.CAPath, PEM: cfg.Edge.CACert}})
	b := &Broker{core: c, Apps: apps.New(st, c.log, cfg.VarPrefix), Addons: c.addons, Settings: sets, Hosts: c.hostReg,
		OSB:     osbsvc.New(cfg.OSB, osbsvc.Deps{Store: st, Hosts: c.hosts, Jobs: c.jobs, Log: c.log, Addons: c.addons, Nodes: c.nodes, Settings: sets}),
		Changes: changes.New(st, c.log, cfg.MaxWaiters, c.lead), Pairs: c.pairs, Metrics: sampler}
	b.Logs = logs.New(logs.Deps{Store: st, Hosts: c.hosts, Nodes: c.nodes, Feed: b.Changes, Log: c.log})
	c.jobs.Register(opProvision, jobs.Kind{Resume: func(op store.Operation) jobs.Step { return c.nodes.ProvisionStep(op.AddonID, true) }})
	c.jobs.Register(opDeprovision, jobs.Kind{Resume: func(op store.Operation) jobs.Step { return c.nodes.DeprovisionStep(op.AddonID) }, DoneIfGone: true})
	c.jobs.Register(opPlanChange, jobs.Kind{Resume: func(op store.Operation) jobs.Step { return c.addons.planChangeStep(op, true) }})
	var err error
	if c.spares, err = spares.New(spares.Config{Count: cfg.Spares, Catalog: cfg.Catalog, Store: st, Addons: c.addons, Log: c.log, Lead: c.lead}); err != nil {
		return nil, err
	}
	c.backups = newBackups(c)
	b.Backups = c.backups
	for _, kind := range []string{backups.OpCapture, backups.OpRestore} {
		c.jobs.Register(kind, jobs.Kind{Resume: func(op store.Operation) jobs.Step { step, _ := c.backups.Resume(op); return step }})
	}
	return b, nil
}

// Start re-adopts the nodes recorded in the store and resumes unfinished
// operations. Nodes keep serving throughout: adoption never restarts a node that
// answers. It returns once the broker's own nodes are adopted: agents are
// connected to and their nodes adopted in the background, so an unreachable
// host keeps no one from the API.
func (b *Broker) Start(ctx context.Context) error {
	if err := b.lead.Start(ctx); err != nil {
		return fmt.Errorf("register the broker: %w", err)
	}
	if err := b.nodes.assignEdges(ctx); err != nil {
		return fmt.Errorf("assign edge ports: %w", err)
	}
	agents, err := b.connectHosts(ctx)
	if err != nil {
		return fmt.Errorf("connect hosts: %w", err)
	}
	if err := b.hostReg.adoptNodes(ctx, agents); err != nil {
		return fmt.Errorf("adopt nodes: %w", err)
	}
	if err := b.backups.Prepare(ctx); err != nil {
		return fmt.Errorf("prepare backups: %w", err)
	}
	if err := b.jobs.Resume(ctx, true); err != nil {
		return fmt.Errorf("resume operations: %w", err)
	}
	b.jobs.KeepLeases(b.takeOver)
	b.pairs.Start()
	b.spares.Start()
	b.Metrics.Start()
	b.backups.Start()
	b.started.Store(true)
	return nil
}

// connectHosts records the local host and returns the registered agents to
// connect to (adoptNodes does, in the background).
func (b *Broker) connectHosts(ctx context.Context) ([]store.Host, error) {
	hosts, err := b.store.Hosts(ctx)
	if err != nil {
		return nil, err
	}
	var agents []store.Host
	for _, h := range hosts {
		if h.Name == b.localName {
			continue
		}
		if b.cfg.NewRemoteHost == nil {
			b.log.WithField("host", h.Name).Warn("registered host ignored: this broker cannot reach agents")
			continue
		}
		agents = append(agents, h)
	}
	return agents, b.store.UpsertHost(ctx, &store.Host{Name: b.localName, URL: "local", Token: "-"})
}

// Close waits for running jobs (bounded by ctx). Nodes keep running: they are
// separate processes that a later broker re-adopts.
func (b *Broker) Close(ctx context.Context) error {
	b.StopWaiters()
	b.Metrics.Close()
	b.backups.Close()
	b.spares.Close()
	// Adoption first: it may hand a returning host to the pairs (Repush).
	b.adoptCancel()
	b.adopting.Wait()
	b.pairs.Close()
	b.lead.Close(ctx)
	err := b.jobs.Close(ctx)
	for _, h := range b.hosts.All() {
		if h.Name() != b.localName {
			h.Close(ctx)
		}
	}
	return err
}

// StopWaiters ends every wait on the change feed at once (they answer that
// the broker is stopping), so a shutdown is not held by long-polls.
func (b *Broker) StopWaiters() { b.Changes.Close() }

// Stopping reports whether the broker is shutting down (StopWaiters was
// called): its API marks its answers so that clients move to another broker.
func (b *Broker) Stopping() bool { return b.Changes.Closed() }

// Catalog is the plan catalog the broker offers.
func (b *Broker) Catalog() *catalog.Catalog { return b.cfg.Catalog }

// Store is the broker's store, for the API adapters' reads.
func (b *Broker) Store() store.Store { return b.store }

// Log is the broker's logger, for its API adapters.
func (b *Broker) Log() logrus.FieldLogger { return b.log }

// MetricsTokenMatches reports, in constant time, whether t is the metrics
// token (never true when none is set).
func (b *Broker) MetricsTokenMatches(t string) bool {
	return b.cfg.MetricsToken != "" && subtle.ConstantTimeCompare([]byte(t), []byte(b.cfg.MetricsToken)) == 1
}

// TokenMatches reports, in constant time, whether t is the admin API token.
func (b *Broker) TokenMatches(t string) bool {
	return subtle.ConstantTimeCompare([]byte(t), []byte(b.cfg.Token)) == 1
}
