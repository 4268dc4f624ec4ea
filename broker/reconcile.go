package broker

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/fault"
	"larder/provisioner"
	"larder/store"
)

// reconciler keeps HA pairs whole. Every ReconcileInterval it asks each host
// for its status and then, for each HA add-on: re-adopts nodes a restarted
// agent no longer supervises, and builds a new standby when the standby has
// failed or its host has been unreachable for StandbyGrace. It also
// quarantines nodes a returning host still runs but the store positively
// does not know (orphans).
// It never touches a primary: deciding a primary is lost is the HA monitor's job.
type reconciler struct {
	b      *Broker
	lookup nodeLookup // the store; a test makes it fail
	log    logrus.FieldLogger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	nudge  chan struct{} // run a tick now (an observer reported a node down)

	mu         sync.Mutex
	rebuilding map[string]bool      // add-on id → a standby rebuild runs
	failing    map[string]bool      // add-on id → a failover runs
	logged     map[string]time.Time // add-on id → last rate-limited warning

	started  time.Time // when the loop started
	decision *string   // the observers' last decision warning ("" when they can decide); nil before the first
}

func newReconciler(b *Broker) *reconciler {
	ctx, cancel := context.WithCancel(context.Background())
	return &reconciler{b: b, lookup: b.store, log: b.log.WithField("loop", "reconcile"), ctx: ctx, cancel: cancel, nudge: make(chan struct{}, 1),
		rebuilding: map[string]bool{}, failing: map[string]bool{}, logged: map[string]time.Time{}}
}

// Start runs the loop until Close.
func (r *reconciler) Start() {
	r.started = time.Now()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(r.b.cfg.ReconcileInterval)
		defer t.Stop()
		for {
			select {
			case <-r.ctx.Done():
				return
			case <-t.C:
				r.tick()
			case <-r.nudge:
				r.tick()
			}
		}
	}()
}

// Close stops the loop and waits for it.
func (r *reconciler) Close() {
	r.cancel()
	r.wg.Wait()
}

func (r *reconciler) tick() {
	ctx := r.ctx
	statuses := map[string]provisioner.HostStatus{}
	for _, h := range r.b.hosts.all() {
		sctx, cancel := context.WithTimeout(ctx, r.b.cfg.ReconcileInterval)
		st, err := h.Status(sctx)
		cancel()
		up := err == nil
		if up {
			statuses[h.Name()] = st
		}
		if r.b.hosts.observe(h.Name(), up, time.Now()) {
			r.log.WithField("host", h.Name()).WithField("up", up).Info("host reachability changed")
		}
		if rh, ok := h.(interface {
			Cursor() provisioner.EventCursor
		}); ok {
			cur := rh.Cursor()
			if err := r.b.store.SetHostCursor(ctx, h.Name(), cur.Boot, int64(cur.Seq)); err != nil {
				r.log.WithError(err).Warn("record event cursor")
			}
		}
	}
	nodes, err := r.b.store.AllNodes(ctx)
	if err != nil {
		r.log.WithError(err).Warn("list nodes")
		return
	}
	known := map[string]bool{} // node ids and names
	byAddon := map[string][]store.Node{}
	for _, n := range nodes {
		known[n.ID], known[n.Name] = true, true
		byAddon[n.AddonID] = append(byAddon[n.AddonID], n)
	}
	r.removeOrphans(ctx, statuses, known)
	r.noteDecision(ctx, byAddon)
	for addonID, ns := range byAddon {
		r.checkAddon(ctx, addonID, ns, statuses)
	}
}

// nodeLookup answers whether the store knows a node.
type nodeLookup interface {
	NodeByName(ctx context.Context, name string) (store.Node, error)
	NodeByID(ctx context.Context, id string) (store.Node, error)
}

// removeOrphans quarantines nodes a host runs that the store does not know:
// the standby of a pair rebuilt elsewhere while its host was away. Only the
// store's positive answer that it holds no such node makes one an orphan; a
// failed lookup (SQLITE_BUSY, a closed store) proves nothing and leaves the
// node alone. Even then its directory is moved to the host's quarantine, not
// deleted: if larder was wrong, the data is still there.
func (r *reconciler) removeOrphans(ctx context.Context, statuses map[string]provisioner.HostStatus, known map[string]bool) {
	for name, st := range statuses {
		h, ok := r.b.hosts.get(name)
		if !ok {
			continue
		}
		for _, ns := range st.Nodes {
			if known[ns.ID] || known[ns.Name] {
				continue
			}
			// A node claimed after the store was read is known next tick; only
			// nodes unknown right now are orphans.
			log := r.log.WithFields(logrus.Fields{"host": name, "node": ns.Name})
			orphan, err := r.isOrphan(ctx, ns)
			if err != nil {
				log.WithError(err).Warn("cannot tell whether a node is an orphan; leaving it")
				continue
			}
			if !orphan {
				continue
			}
			log.Warn("quarantining orphan node: the store does not know it")
			id := ns.ID
			if id == "" {
				id = ns.Name // an unsupervised directory: the host finds it by name
			}
			if err := h.Quarantine(ctx, provisioner.NodeSpec{ID: id, Name: ns.Name, Port: ns.Port}); err != nil {
				log.WithError(err).Warn("quarantine orphan node")
			}
		}
	}
}

// isOrphan reports whether the store positively holds no node of ns's name
// (nor of its id, when the host knows one); any other answer is an error.
func (r *reconciler) isOrphan(ctx context.Context, ns provisioner.NodeStatus) (bool, error) {
	_, err := r.lookup.NodeByName(ctx, ns.Name)
	if ns.ID != "" && fault.KindOf(err) == fault.NotFound {
		_, err = r.lookup.NodeByID(ctx, ns.ID)
	}
	switch {
	case err == nil:
		return false, nil
	case fault.KindOf(err) == fault.NotFound:
		return true, nil
	}
	return false, err
}

func (r *reconciler) checkAddon(ctx context.Context, addonID string, nodes []store.Node, statuses map[string]provisioner.HostStatus) {
	a, err := r.b.store.AddonByID(ctx, addonID)
	if err != nil || a.State != api.StateProvisioned {
		return
	}
	for _, n := range nodes {
		st, up := statuses[n.Host]
		if !up || r.b.hosts.isPending(n.Host) {
			continue // a host still being adopted at start is not readopted over it
		}
		supervised := false
		for _, ns := range st.Nodes {
			if ns.ID == n.ID && ns.ID != "" {
				supervised = ns.State != "failed"
			}
		}
		if !supervised && n.State != store.NodeFailed && !r.isRebuilding(a.ID) {
			// Its agent restarted and lost track of it: take it back.
			r.readopt(ctx, a, n)
		}
	}
	r.checkPrimary(ctx, a, nodes, statuses)
	_, standby, ok := pair(nodes)
	if !ok || r.isRebuilding(a.ID) || r.isFailing(a.ID) {
		return
	}
	reason := ""
	down := r.b.hosts.downFor(standby.Host, time.Now())
	switch {
	case standby.State == store.NodeFailed:
		reason = "the standby keeps crashing"
	case down > 0 && down >= r.b.cfg.StandbyGrace:
		reason = fmt.Sprintf("the standby's host %s has been unreachable for %v", standby.Host, down.Round(time.Second))
	default:
		return
	}
	r.startRebuild(ctx, a, standby, reason)
}

func (r *reconciler) isRebuilding(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rebuilding[id]
}

func (r *reconciler) readopt(ctx context.Context, a store.Addon, n store.Node) {
	nodes, specs, err := r.b.specsOf(ctx, r.b.store.Q, a)
	if err != nil {
		return
	}
	for i := range nodes {
		if nodes[i].ID != n.ID {
			continue
		}
		pn, err := r.b.hostFor(n).Adopt(ctx, specs[i])
		if err != nil {
			r.log.WithError(err).WithField("node", n.Name).Warn("re-adopt node")
			return
		}
		r.log.WithField("node", n.Name).Info("re-adopted node after its host restarted")
		r.b.store.UpdateNodeRuntime(ctx, n.ID, pn.Addr, pn.Dir, pn.PID, store.NodeRunning)
	}
}

// startRebuild replaces a's standby with a new one, as an operation.
func (r *reconciler) startRebuild(ctx context.Context, a store.Addon, old store.Node, reason string) {
	r.mu.Lock()
	r.rebuilding[a.ID] = true
	r.mu.Unlock()
	op := store.Operation{AddonID: a.ID, AddonName: a.Name, Kind: "standby_rebuild", State: api.OpPending}
	err := r.b.store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.CreateOperation(ctx, &op); err != nil {
			return err
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "standby.rebuild", "building a new standby: "+reason)
	})
	if err != nil {
		r.log.WithError(err).Error("record standby rebuild")
		r.done(a.ID)
		return
	}
	r.log.WithField("addon", a.Name).Warn("building a new standby: " + reason)
	r.b.jobs.Run(r.b.store, op, func(ctx context.Context, progress func(string)) error {
		defer r.done(a.ID)
		return r.b.rebuildStandby(ctx, a.ID, old, progress)
	})
}

func (r *reconciler) done(id string) {
	r.mu.Lock()
	delete(r.rebuilding, id)
	r.mu.Unlock()
}

// rebuildStandby builds a new standby on the best host other than the
// primary's and the old standby's (if any other can take it), waits until it
// is in sync, then forgets the old one and quarantines it if its host answers.
func (b *Broker) rebuildStandby(ctx context.Context, addonID string, old store.Node, progress func(string)) error {
	unlock := b.locks.lock(addonID)
	defer unlock()
	a, err := b.store.AddonByID(ctx, addonID)
	if err != nil {
		return err
	}
	// The old standby leaves the store first: a pair has one standby at a time,
	// and its node is an orphan for the reconciler once its host returns.
	if err := b.store.DeleteNode(ctx, old.ID); err != nil {
		return err
	}
	nn, err := b.addStandby(ctx, a, progress, old.Host)
	if err != nil {
		return err
	}
	if b.hosts.isUp(old.Host) {
		if oldSpecs, err := b.nodeSpecs(ctx, b.store.Q, a, []store.Node{old}); err == nil {
			// Quarantined, not deleted: larder's own decision, like an orphan's.
			if err := b.hostFor(old).Quarantine(ctx, oldSpecs[0]); err != nil {
				b.log.WithError(err).WithField("node", old.Name).Warn("quarantine old standby")
			}
		}
	}
	return b.store.AddEvent(ctx, a.ID, a.Name, "standby.rebuilt",
		fmt.Sprintf("new standby %s on %s in sync with the primary", nn.Name, nn.Host))
}

// Nudge asks for a tick as soon as the loop is free, without waiting for the
// ticker: a verdict can turn when a report arrives.
func (r *reconciler) Nudge() {
	select {
	case r.nudge <- struct{}{}:
	default:
	}
}
