package pairs

import (
	"context"
	"fmt"
	"larder/broker/lead"
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
	b      *Pairs
	lookup nodeLookup // the store; a test makes it fail
	log    logrus.FieldLogger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	nudge  chan struct{} // run a tick now (an observer reported a node down)

}

func newReconciler(b *Pairs) *reconciler {
	ctx, cancel := context.WithCancel(context.Background())
	return &reconciler{b: b, lookup: b.store, log: b.log.WithField("loop", "reconcile"), ctx: ctx, cancel: cancel, nudge: make(chan struct{}, 1)}
}

// Start runs the loop until Close.
func (r *reconciler) Start() {
	r.b.coord.Start()
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
			case <-r.nudge:
			}
			r.tick(r.ctx)
		}
	}()
}

// Close stops the loop and waits for it.
func (r *reconciler) Close() {
	r.cancel()
	r.wg.Wait()
}

// tick is one round: every broker keeps up with its hosts' reachability, and the coordinator alone decides on
// what it sees (orphans, roles, standbys, failovers), fenced by its lease.
func (r *reconciler) tick(ctx context.Context) {
	statuses := r.observeHosts(ctx)
	lead.Run(r.b.cfg.Lead, ctx, func(ctx context.Context) { r.decide(ctx, statuses) })
}

// observeHosts asks every host for its status and notes which answer.
func (r *reconciler) observeHosts(ctx context.Context) map[string]provisioner.HostStatus {
	statuses := map[string]provisioner.HostStatus{}
	for _, h := range r.b.hosts.All() {
		sctx, cancel := context.WithTimeout(ctx, r.b.cfg.ReconcileInterval)
		st, err := h.Status(sctx)
		cancel()
		up := err == nil
		if up {
			statuses[h.Name()] = st
			r.b.hosts.NoteStatus(st)
		}
		if r.b.hosts.Observe(h.Name(), up, r.b.coord.Clock().Now()) {
			r.log.WithField("host", h.Name()).WithField("up", up).Info("host reachability changed")
			if up {
				r.repush(h.Name())
			}
		}
	}
	return statuses
}

// decide brings the pairs to what the store records, given the hosts'
// statuses.
func (r *reconciler) decide(ctx context.Context, statuses map[string]provisioner.HostStatus) {
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
	ops, err := r.b.store.UnfinishedOperations(ctx)
	if err != nil {
		r.log.WithError(err).Warn("list operations")
		return
	}
	busy := map[string]bool{} // add-ons an operation is changing: it owns their nodes
	for _, op := range ops {
		busy[op.AddonID] = true
	}
	settled := nodes[:0:0]
	for _, n := range nodes {
		if !busy[n.AddonID] {
			settled = append(settled, n)
		}
	}
	r.settleRoles(ctx, statuses, settled)
	for addonID, ns := range byAddon {
		r.checkAddon(ctx, addonID, ns, statuses, busy[addonID])
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
		h, ok := r.b.hosts.Get(name)
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

func (r *reconciler) checkAddon(ctx context.Context, addonID string, nodes []store.Node, statuses map[string]provisioner.HostStatus, busy bool) {
	a, err := r.b.store.AddonByID(ctx, addonID)
	if err != nil || a.State != api.StateProvisioned {
		return
	}
	for _, n := range nodes {
		st, up := statuses[n.Host]
		if !up || r.b.hosts.IsPending(n.Host) {
			continue // a host still being adopted at start is not readopted over it
		}
		supervised := false
		for _, ns := range st.Nodes {
			if ns.ID == n.ID && ns.ID != "" {
				supervised = ns.State != "failed"
			}
		}
		if !supervised && n.State != store.NodeFailed && n.State != store.NodeStarting && !r.b.coord.Rebuilding(a.ID) && !r.b.coord.Failing(a.ID) && !busy {
			// Its agent restarted and lost track of it: take it back (not
			// the primary a failover has just stopped, nor a node an
			// operation owns).
			r.readopt(ctx, a, n)
		}
	}
	r.b.coord.CheckPrimary(ctx, a, nodes, statuses)
	_, standby, ok := pair(nodes)
	if r.b.coord.Rebuilding(a.ID) || r.b.coord.Failing(a.ID) || busy || !r.b.coord.RebuildDue(a.ID) {
		return
	}
	reason := ""
	down := r.b.hosts.DownFor(standby.Host, r.b.coord.Clock().Now())
	switch {
	case !ok:
		// A failed rebuild, or a failover whose new standby did not come
		// up, leaves the primary alone; its plan says it has a standby.
		if _, hasPrimary := primaryNode(nodes); !hasPrimary || !r.b.planHasStandby(a) {
			return
		}
		reason = "its plan has a standby and it has none"
	case standby.State == store.NodeFailed:
		reason = "the standby keeps crashing"
	case down > 0 && down >= r.b.cfg.StandbyGrace:
		reason = fmt.Sprintf("the standby's host %s has been unreachable for %v", standby.Host, down.Round(time.Second))
	default:
		return
	}
	r.startRebuild(ctx, a, standby, reason)
}

func (r *reconciler) readopt(ctx context.Context, a store.Addon, n store.Node) {
	nodes, specs, err := r.b.nodes.SpecsOf(ctx, r.b.store, a)
	if err != nil {
		return
	}
	for i := range nodes {
		if nodes[i].ID != n.ID {
			continue
		}
		pn, err := r.b.hosts.Of(n).Adopt(ctx, specs[i])
		if err != nil {
			r.log.WithError(err).WithField("node", n.Name).Warn("re-adopt node")
			return
		}
		r.log.WithField("node", n.Name).Info("re-adopted node after its host restarted")
		r.b.store.UpdateNodeRuntime(ctx, n.ID, pn.Addr, pn.Dir, pn.PID, store.NodeRunning)
	}
}

// Nudge asks for a tick as soon as the loop is free, without waiting for the
// ticker: a verdict can turn when a report arrives.
func (r *reconciler) Nudge() {
	select {
	case r.nudge <- struct{}{}:
	default:
	}
}
