package broker

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/provisioner"
	"larder/store"
)

// reconciler keeps HA pairs whole. Every ReconcileInterval it asks each host
// for its status and then, for each HA add-on: re-adopts nodes a restarted
// agent no longer supervises, and builds a new standby when the standby has
// failed or its host has been unreachable for StandbyGrace. It also removes
// nodes a returning host still runs but the store no longer knows (orphans).
// It never touches a primary: deciding a primary is lost is the HA monitor's job.
type reconciler struct {
	b      *Broker
	log    logrus.FieldLogger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	nudge  chan struct{} // run a tick now (an observer reported a node down)

	mu         sync.Mutex
	rebuilding map[string]bool      // add-on id → a standby rebuild runs
	failing    map[string]bool      // add-on id → a failover runs
	logged     map[string]time.Time // add-on id → last rate-limited warning
}

func newReconciler(b *Broker) *reconciler {
	ctx, cancel := context.WithCancel(context.Background())
	return &reconciler{b: b, log: b.log.WithField("loop", "reconcile"), ctx: ctx, cancel: cancel, nudge: make(chan struct{}, 1),
		rebuilding: map[string]bool{}, failing: map[string]bool{}, logged: map[string]time.Time{}}
}

// Start runs the loop until Close.
func (r *reconciler) Start() {
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
			r.b.hosts.noteStatus(st)
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
	r.settleRoles(ctx, statuses, nodes)
	for addonID, ns := range byAddon {
		r.checkAddon(ctx, addonID, ns, statuses)
	}
}

// removeOrphans removes nodes a host runs that the store does not know: the
// standby of a pair rebuilt elsewhere while its host was away.
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
			if _, err := r.b.store.NodeByName(ctx, ns.Name); err == nil {
				continue
			}
			r.log.WithFields(logrus.Fields{"host": name, "node": ns.Name}).Info("removing orphan node")
			id := ns.ID
			if id == "" {
				id = ns.Name // an unsupervised directory: the host finds it by name
			}
			if err := h.Remove(ctx, provisioner.NodeSpec{ID: id, Name: ns.Name, Port: ns.Port}); err != nil {
				r.log.WithError(err).WithField("node", ns.Name).Warn("remove orphan node")
			}
		}
	}
}

func (r *reconciler) checkAddon(ctx context.Context, addonID string, nodes []store.Node, statuses map[string]provisioner.HostStatus) {
	a, err := r.b.store.AddonByID(ctx, addonID)
	if err != nil || a.State != api.StateProvisioned {
		return
	}
	for _, n := range nodes {
		st, up := statuses[n.Host]
		if !up {
			continue
		}
		supervised := false
		for _, ns := range st.Nodes {
			if ns.ID == n.ID && ns.ID != "" {
				supervised = ns.State != "failed"
			}
		}
		if !supervised && n.State != store.NodeFailed && !r.isRebuilding(a.ID) && !r.isFailing(a.ID) {
			// Its agent restarted and lost track of it: take it back (not
			// the primary a failover has just stopped).
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
// is in sync, then forgets the old one and removes it if its host answers.
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
			if err := b.hostFor(old).Remove(ctx, oldSpecs[0]); err != nil {
				b.log.WithError(err).WithField("node", old.Name).Warn("remove old standby")
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
