package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/engine"
	"larder/provisioner"
	"larder/store"
)

// Labels name a node for Prometheus.
type Labels struct {
	Addon, App, Plan, Role, Host, Node string
}

// Latest is a node's latest sample: what /metrics exposes.
type Latest struct {
	Labels
	At time.Time
	// Up says the node answered at At; the other figures are from its last
	// answer (zero before any).
	Up               bool
	MemoryUsedBytes  float64
	MemoryLimitBytes float64
	Clients          float64
	ClientsLimit     float64
	ReplOffset       float64
	ReplLagBytes     float64
	PersistenceOK    bool
	// Rates over the last interval; HasRates is false until a node has
	// answered twice in a row (they need two readings).
	HasRates                                            bool
	CPUCores, Ops, Hits, Misses, Evictions, ExpiredRate float64
}

// HitRatio is hits over lookups in the last interval, and whether there were
// any.
func (l Latest) HitRatio() (float64, bool) {
	if l.Hits+l.Misses == 0 {
		return 0, false
	}
	return l.Hits / (l.Hits + l.Misses), true
}

// reading is one node's counters at a time, the start of the next rates.
type reading struct {
	at    time.Time
	stats provisioner.NodeInfo
}

// target is one node to sample, with what labels and limits it has.
type target struct {
	addon store.Addon
	node  store.Node
	spec  provisioner.NodeSpec
	plan  string
	mem   float64 // the plan's limits
	cli   float64
}

// Latest returns the latest sample of every node sampled in the last round.
func (s *Sampler) Latest() []Latest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Latest, 0, len(s.latest))
	for _, l := range s.latest {
		out = append(out, l)
	}
	return out
}

// Round samples every node once, stores the points and prunes old ones
// (every minute). The loop calls it each interval; tests call it directly
// with a fake clock.
func (s *Sampler) Round(ctx context.Context) error {
	start := time.Now()
	targets, err := s.targets(ctx)
	if err != nil {
		return err
	}
	now := s.cfg.Clock.Now()
	infos := make([]provisioner.NodeInfo, len(targets))
	errs := make([]error, len(targets))
	sem := make(chan struct{}, s.cfg.Parallel)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			nctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
			defer cancel()
			infos[i], errs[i] = s.hosts.Of(t.node).Info(nctx, t.spec)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	points := s.fold(targets, infos, errs, now)
	if err := s.store.AddMetricPoints(ctx, points); err != nil {
		return err
	}
	s.prune(ctx, now)
	s.mu.Lock()
	s.rounds++
	s.roundTook = time.Since(start)
	s.mu.Unlock()
	s.log.WithFields(logrus.Fields{"nodes": len(targets), "points": len(points), "ms": time.Since(start).Milliseconds()}).Debug("metrics round")
	return nil
}

// targets lists every node of every provisioned add-on that has an address.
func (s *Sampler) targets(ctx context.Context) ([]target, error) {
	addons, err := s.store.Addons(ctx)
	if err != nil {
		return nil, err
	}
	all, err := s.store.AllNodes(ctx)
	if err != nil {
		return nil, err
	}
	byAddon := map[string][]store.Node{}
	for _, n := range all {
		if n.Address != "" && n.State != store.NodeStarting {
			byAddon[n.AddonID] = append(byAddon[n.AddonID], n)
		}
	}
	var out []target
	for _, a := range addons {
		nodes := byAddon[a.ID]
		if a.State != api.StateProvisioned || len(nodes) == 0 {
			continue
		}
		p, err := s.nodes.PlanOf(a)
		if err != nil {
			continue // a plan gone from the catalog: nothing to compare with
		}
		for _, n := range nodes {
			out = append(out, target{addon: a, node: n, spec: s.nodes.InfoSpec(a, p, n), plan: a.Service + ":" + a.Plan,
				mem: float64(p.MaxMemoryBytes), cli: float64(p.MaxClients)})
		}
	}
	return out, nil
}

// fold turns one round's readings into points of every tier and the latest
// samples. A node's rates need its previous reading: the first answer of a
// node (or the first after its counters went back, a restart) only primes
// them and stores no point.
func (s *Sampler) fold(targets []target, infos []provisioner.NodeInfo, errs []error, now time.Time) []store.MetricPoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := make(map[string]bool, len(targets))
	var points []store.MetricPoint
	for i, t := range targets {
		id := t.node.ID
		seen[id] = true
		l := s.latest[id]
		l.Labels = Labels{Addon: t.addon.Name, App: t.addon.AppName, Plan: t.plan, Role: t.node.Role, Host: t.node.Host, Node: t.node.Name}
		l.At, l.Up, l.HasRates = now, errs[i] == nil, false
		l.MemoryLimitBytes, l.ClientsLimit = t.mem, t.cli
		if errs[i] != nil {
			s.failures++
			delete(s.prev, id) // a gap: the next rates start afresh
			s.latest[id] = l
			continue
		}
		in := infos[i]
		l.MemoryUsedBytes, l.Clients = float64(in.UsedMemoryBytes), float64(in.ConnectedClients)
		l.ReplOffset, l.ReplLagBytes, l.PersistenceOK = float64(in.ReplOffset), float64(in.ReplLagBytes), in.Stats.PersistenceOK
		prev, ok := s.prev[id]
		s.prev[id] = reading{now, in}
		if dt := now.Sub(prev.at).Seconds(); ok && dt > 0 && !wentBack(prev.stats.Stats, in.Stats) {
			p, c := prev.stats.Stats, in.Stats
			l.HasRates = true
			l.CPUCores = (c.CPUSeconds - p.CPUSeconds) / dt
			l.Ops = float64(c.Commands-p.Commands) / dt
			l.Hits = float64(c.KeyspaceHits-p.KeyspaceHits) / dt
			l.Misses = float64(c.KeyspaceMisses-p.KeyspaceMisses) / dt
			l.Evictions = float64(c.EvictedKeys-p.EvictedKeys) / dt
			l.ExpiredRate = float64(c.ExpiredKeys-p.ExpiredKeys) / dt
			for _, tier := range s.tiers {
				points = append(points, pointOf(t, l, tier.Step, now))
			}
		}
		s.latest[id] = l
	}
	for id := range s.latest {
		if !seen[id] {
			delete(s.latest, id)
			delete(s.prev, id)
		}
	}
	return points
}

// wentBack reports whether a counter decreased: the process restarted, and
// the difference is no rate.
func wentBack(p, c engine.Stats) bool {
	return c.CPUSeconds < p.CPUSeconds || c.Commands < p.Commands || c.KeyspaceHits < p.KeyspaceHits ||
		c.KeyspaceMisses < p.KeyspaceMisses || c.EvictedKeys < p.EvictedKeys || c.ExpiredKeys < p.ExpiredKeys
}

// pointOf is sample l of target t as one point of the tier of step.
func pointOf(t target, l Latest, step time.Duration, now time.Time) store.MetricPoint {
	st := int64(step / time.Second)
	at := now.Unix() - now.Unix()%st
	fails := 0.0
	if !l.PersistenceOK {
		fails = 1
	}
	return store.MetricPoint{AddonID: t.addon.ID, NodeID: t.node.ID, Role: t.node.Role, Step: st, At: at, Count: 1,
		MemoryUsed: l.MemoryUsedBytes, MemoryPeak: l.MemoryUsedBytes, MemoryLimit: l.MemoryLimitBytes,
		CPU: l.CPUCores, Clients: l.Clients, ClientsPeak: l.Clients, ClientsLimit: l.ClientsLimit,
		Ops: l.Ops, Hits: l.Hits, Misses: l.Misses, Evicted: l.Evictions, Expired: l.ExpiredRate,
		ReplLag: l.ReplLagBytes, ReplOffset: l.ReplOffset, PersistFails: fails}
}

// prune deletes each tier's points past its retention, once a minute.
func (s *Sampler) prune(ctx context.Context, now time.Time) {
	s.mu.Lock()
	due := now.Sub(s.lastPrune) >= pruneEvery
	if due {
		s.lastPrune = now
	}
	s.mu.Unlock()
	if !due {
		return
	}
	for _, t := range s.tiers {
		if _, err := s.store.PruneMetricPoints(ctx, int64(t.Step/time.Second), now.Add(-t.Keep).Unix()); err != nil {
			s.log.WithError(err).Warn("prune metric points")
			return
		}
	}
}
