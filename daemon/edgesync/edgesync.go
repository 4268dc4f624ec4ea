// Package edgesync keeps an edge's routes (package edge) equal to the
// store: for every add-on with edge ports, a route from those ports to its
// primary under the primary's epoch, with its allowlist, TLS-only setting
// and its plan's connection limit. It applies the whole state at start
// (Edge.Apply), then follows the store's change feed and sets or removes
// the route of each add-on that changed (Edge.Set, Edge.Remove).
//
// In the broker's process, every commit of the store wakes it
// (store.OnCommit): nothing waits on a timer. `larder edge` runs in a
// process of its own, where no commit can wake it, so it looks at the
// feed's head every Poll, as the broker does for other brokers' commits.
// Either way it reads the feed from its cursor, so no change is missed,
// and a cursor the feed pruned past makes it apply the whole state again.
//
// The edge never forwards to an older epoch: it refuses a route older than
// the one it holds (edge.ErrStaleEpoch), so a late read cannot send
// clients back to a demoted node.
package edgesync

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/catalog"
	"larder/edge"
	"larder/fault"
	"larder/ha/coord"
	"larder/internal/backoff"
	"larder/store"
)

// Config sets a Syncer up.
type Config struct {
	Store   store.Store
	Catalog *catalog.Catalog // the plans' connection limits
	Edge    *edge.Edge
	// Listen is the address the edge's listeners bind (the ports are the
	// add-ons' own, from the store), e.g. 127.0.0.1.
	Listen string
	// TLS says the edge has a certificate: routes get their TLS port.
	TLS bool
	// Poll, when set, is how often the feed's head is looked at (a process
	// that does not share the store's commits); zero: woken by the store's
	// commits only.
	Poll time.Duration
	Log  logrus.FieldLogger
}

// Syncer follows the store into the edge until Close.
type Syncer struct {
	cfg    Config
	log    logrus.FieldLogger
	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	cursor int64
	held   map[string]edge.Route // the routes given to the edge, by add-on id
	// failed holds the add-ons whose route the edge refused (a port it
	// could not open: another process holds it); they are tried again.
	failed map[string]bool
}

// feedBatch bounds one read of the feed; retryRefused is how often routes
// the edge refused are tried again.
const (
	feedBatch    = 500
	retryRefused = 2 * time.Second
)

// Start applies the store's whole state to the edge and follows the feed
// from there. It fails only when the store cannot be read; a route the
// edge refuses (a port it cannot open) is logged, and the others serve.
func Start(ctx context.Context, cfg Config) (*Syncer, error) {
	if cfg.Log == nil {
		cfg.Log = logrus.StandardLogger()
	}
	s := &Syncer{cfg: cfg, log: cfg.Log, wake: make(chan struct{}, 1), done: make(chan struct{}), held: map[string]edge.Route{}, failed: map[string]bool{}}
	if cfg.Poll == 0 {
		cfg.Store.OnCommit(s.Wake)
	}
	if err := s.applyAll(ctx); err != nil {
		return nil, err
	}
	lctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.loop(lctx)
	return s, nil
}

// Wake says the store changed; the syncer reads the feed. It never blocks.
func (s *Syncer) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Close stops following the store; the edge keeps its routes.
func (s *Syncer) Close() {
	s.cancel()
	<-s.done
}

// Cursor is how far the syncer has read the feed: every change up to it
// is in the edge.
func (s *Syncer) Cursor() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cursor
}

func (s *Syncer) loop(ctx context.Context) {
	defer close(s.done)
	var tick <-chan time.Time
	if s.cfg.Poll > 0 {
		t := time.NewTicker(s.cfg.Poll)
		defer t.Stop()
		tick = t.C
	}
	retry := backoff.New(100*time.Millisecond, 5*time.Second)
	var again <-chan time.Time   // set while a failed read waits to be tried again
	var refused <-chan time.Time // set while refused routes wait to be tried again
	for {
		if refused == nil && s.refused() {
			refused = time.After(retryRefused)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-tick:
		case <-again:
		case <-refused:
			refused = nil
			s.retryRefused(ctx)
			continue
		}
		if err := s.follow(ctx); err != nil && ctx.Err() == nil {
			s.log.WithError(err).Warn("edge: read the change feed")
			again = time.After(retry.Next())
			continue
		}
		again = nil
		retry.Reset()
	}
}

// follow reads the feed from the cursor and updates the route of every
// add-on that changed.
func (s *Syncer) follow(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		cs, next, reset, err := s.cfg.Store.Changes(ctx, s.cursor, feedBatch)
		if err != nil {
			return err
		}
		if reset {
			s.log.Info("edge: the change feed was pruned past its cursor; applying the whole state again")
			return s.applyAllLocked(ctx)
		}
		seen := map[string]bool{}
		for _, c := range cs {
			if c.AddonID == "" || seen[c.AddonID] || (c.Kind != "addon" && c.Kind != "node") {
				continue
			}
			seen[c.AddonID] = true
			if err := s.sync(ctx, c.AddonID); err != nil {
				return err
			}
		}
		s.cursor = next
		if len(cs) < feedBatch {
			return nil
		}
	}
}

func (s *Syncer) refused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.failed) > 0
}

// retryRefused sets again the routes the edge refused.
func (s *Syncer) retryRefused(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.failed {
		if err := s.sync(ctx, id); err != nil {
			s.log.WithError(err).Warn("edge: read the store")
			return
		}
	}
}

// applyAll gives the edge the store's whole state.
func (s *Syncer) applyAll(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applyAllLocked(ctx)
}

func (s *Syncer) applyAllLocked(ctx context.Context) error {
	head, err := s.cfg.Store.ChangeHead(ctx) // read first: what follows is at least this new
	if err != nil {
		return err
	}
	edges, err := s.cfg.Store.Edges(ctx)
	if err != nil {
		return err
	}
	var routes []edge.Route
	for _, e := range edges {
		r, ok, err := s.route(ctx, e)
		if err != nil {
			return err
		}
		if ok {
			routes = append(routes, s.keepBackend(r))
		}
	}
	err = s.cfg.Edge.Apply(routes)
	if err != nil && !errors.Is(err, edge.ErrStaleEpoch) {
		// Apply changes nothing on such an error: set the routes one by
		// one, so one port the edge cannot open leaves the others serving.
		s.log.WithError(err).Warn("edge: applying every route at once failed; setting them one by one")
		for _, r := range routes {
			s.set(r)
		}
	} else {
		s.logStale(err)
		for _, r := range routes {
			s.held[r.ID] = r
		}
	}
	for id := range s.held {
		if !contains(routes, id) {
			delete(s.held, id)
			s.remove(id)
		}
	}
	s.cursor = head
	return nil
}

// sync sets or removes one add-on's route as the store now says.
func (s *Syncer) sync(ctx context.Context, addonID string) error {
	e, err := s.cfg.Store.EdgeOf(ctx, addonID)
	if fault.KindOf(err) == fault.NotFound {
		s.dropRoute(addonID)
		return nil
	}
	if err != nil {
		return err
	}
	r, ok, err := s.route(ctx, e)
	if err != nil {
		return err
	}
	if !ok {
		s.dropRoute(addonID)
		return nil
	}
	s.set(r)
	return nil
}

// route builds an add-on's route from the store; ok is false when the
// add-on is gone or being destroyed, or its ports are not all claimed.
func (s *Syncer) route(ctx context.Context, e store.Edge) (edge.Route, bool, error) {
	if !e.Claimed() {
		return edge.Route{}, false, nil
	}
	a, err := s.cfg.Store.AddonByID(ctx, e.AddonID)
	if fault.KindOf(err) == fault.NotFound {
		return edge.Route{}, false, nil
	}
	if err != nil {
		return edge.Route{}, false, err
	}
	if a.State == api.StateDeprovisioning || a.State == api.StateDeprovisioned {
		return edge.Route{}, false, nil
	}
	nodes, err := s.cfg.Store.NodesOfAddon(ctx, a.ID)
	if err != nil {
		return edge.Route{}, false, err
	}
	r := edge.Route{ID: a.ID, Plain: net.JoinHostPort(s.cfg.Listen, strconv.Itoa(e.Port)), TLSOnly: e.TLSOnly}
	if s.cfg.TLS {
		r.TLS = net.JoinHostPort(s.cfg.Listen, strconv.Itoa(e.TLSPort))
	}
	// A primary's port is final once it runs (a new node may still move
	// off a port something else holds); a failed or fenced one keeps its
	// place until a promotion names another under a newer epoch.
	if n, ok := coord.PrimaryNode(nodes); ok && (n.State == store.NodeRunning || a.State != api.StateProvisioning) {
		r.Backend, r.Epoch = net.JoinHostPort(n.Address, strconv.Itoa(n.Port)), n.Epoch
	}
	if allow, err := edge.ParseAllowlist(e.Allowlist); err != nil {
		s.log.WithError(err).WithField("addon", a.Name).Error("edge: the stored allowlist does not parse; the route keeps its last one")
		if held, ok := s.held[a.ID]; ok {
			r.Allow = held.Allow
		} else {
			return edge.Route{}, false, nil
		}
	} else {
		r.Allow = allow
	}
	if _, p, err := s.cfg.Catalog.Resolve(a.Service + ":" + a.Plan); err == nil {
		r.MaxConns = p.MaxClients
	}
	return r, true, nil
}

// set gives the edge r.
func (s *Syncer) set(r edge.Route) {
	r = s.keepBackend(r)
	err := s.cfg.Edge.Set(r)
	switch {
	case err == nil:
		s.held[r.ID] = r
		delete(s.failed, r.ID)
	case errors.Is(err, edge.ErrStaleEpoch):
		s.logStale(err)
	default:
		if !s.failed[r.ID] {
			s.log.WithError(err).WithField("addon", r.ID).Warn("edge: route refused; trying again")
		}
		s.failed[r.ID] = true
	}
}

// keepBackend gives a route without a backend the one held for it: no
// primary to name is no reason to stop trying the last one.
func (s *Syncer) keepBackend(r edge.Route) edge.Route {
	if held, ok := s.held[r.ID]; ok && r.Backend == "" {
		r.Backend, r.Epoch = held.Backend, held.Epoch
	}
	return r
}

func (s *Syncer) dropRoute(id string) {
	delete(s.failed, id)
	if _, ok := s.held[id]; ok {
		delete(s.held, id)
		s.remove(id)
	}
}

func (s *Syncer) remove(id string) {
	if err := s.cfg.Edge.Remove(id); err != nil && fault.KindOf(err) != fault.NotFound {
		s.log.WithError(err).WithField("addon", id).Warn("edge: remove route")
	}
}

func (s *Syncer) logStale(err error) {
	if err != nil {
		s.log.WithError(err).Info("edge: kept a route newer than the store's read")
	}
}

func contains(routes []edge.Route, id string) bool {
	for _, r := range routes {
		if r.ID == id {
			return true
		}
	}
	return false
}
