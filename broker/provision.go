package broker

import (
	"context"
	"fmt"
	"time"

	"larder/api"
	"larder/broker/attach"
	"larder/broker/hostset"
	"larder/broker/jobs"
	"larder/broker/osbsvc"
	"larder/catalog"
	"larder/engine"
	"larder/fault"
	"larder/provisioner"
	"larder/store"
)

// claimNodes records the nodes a new add-on on plan p needs (a primary, and a
// standby for HA plans) on the hosts placement picks.
func (b *Nodes) claimNodes(ctx context.Context, tx store.Tx, a store.Addon, p *catalog.Plan) error {
	roles := []string{store.RolePrimary}
	if p.HA {
		roles = append(roles, store.RoleStandby)
	}
	hosts, err := b.hostReg.placeHosts(ctx, tx, len(roles))
	if err != nil {
		return err
	}
	for i, role := range roles {
		if _, err := b.claimNode(ctx, tx, a, role, hosts[i]); err != nil {
			return err
		}
	}
	return nil
}

// claimNode records a node for a on host in tx, with the lowest port of the
// range no node holds there: the port is in the store before any process
// binds it, and the (host, port) unique key stops two brokers from sharing
// one. Nothing here leaves the process: the host checks the port once the
// transaction is over (checkPort).
func (b *Nodes) claimNode(ctx context.Context, tx store.Tx, a store.Addon, role, hostName string) (store.Node, error) {
	host, ok := b.hosts.Get(hostName)
	if !ok {
		return store.Node{}, fault.E(fault.Unavailable, "host %s is not connected", hostName)
	}
	id := store.NewID()
	n := store.Node{ID: id, AddonID: a.ID, Name: a.Name + "-" + id[:6], Role: role, Host: hostName,
		Address: host.Addr(), State: store.NodeStarting, Epoch: a.Epoch}
	return n, b.claimPort(ctx, tx, &n, nil, func(p int) (bool, error) {
		n.Port = p
		return tx.ClaimNode(ctx, &n)
	})
}

// claimPort offers take the free ports of the range on n's host, lowest
// first and except those in skip, until take claims one; n.Port is then the
// port claimed.
func (b *Nodes) claimPort(ctx context.Context, q store.Q, n *store.Node, skip map[int]bool, take func(port int) (bool, error)) error {
	b.portMu.Lock()
	defer b.portMu.Unlock()
	used, err := q.UsedPorts(ctx, n.Host, n.Address)
	if err != nil {
		return err
	}
	taken := make(map[int]bool, len(used))
	for _, p := range used {
		taken[p] = true
	}
	for p := b.cfg.PortMin; p <= b.cfg.PortMax; p++ {
		if taken[p] || skip[p] {
			continue
		}
		ok, err := take(p)
		if err != nil {
			return err
		}
		if ok {
			n.Port = p
			return nil
		}
	}
	return fault.E(fault.Unavailable, "no free port left in %d-%d on host %s", b.cfg.PortMin, b.cfg.PortMax, n.Host)
}

// portCheckTimeout bounds one port check on a host.
const portCheckTimeout = 3 * time.Second

// maxPortMoves bounds how many taken ports a new node skips before giving up.
const maxPortMoves = 20

// checkPort asks n's host, outside any transaction and within
// portCheckTimeout, whether n's port can be bound. A port something outside
// larder holds is given up for the next free one (a short write of its own);
// a host that does not answer fails the check. It returns n as recorded.
func (b *Nodes) checkPort(ctx context.Context, n store.Node) (store.Node, error) {
	h := b.hosts.Of(n)
	tried := map[int]bool{}
	for range maxPortMoves {
		cctx, cancel := context.WithTimeout(ctx, portCheckTimeout)
		free, err := h.PortFree(cctx, n.Port)
		cancel()
		if err != nil {
			return n, fault.Wrap(fault.Unavailable, err, fmt.Sprintf("host %s did not answer whether port %d is free", n.Host, n.Port))
		}
		if free {
			return n, nil
		}
		tried[n.Port] = true
		b.log.WithFields(map[string]any{"node": n.Name, "host": n.Host, "port": n.Port}).Info("port in use outside larder; moving the node to another")
		id := n.ID
		if err := b.claimPort(ctx, b.store, &n, tried, func(p int) (bool, error) {
			return b.store.MoveNodePort(ctx, id, p)
		}); err != nil {
			return n, err
		}
	}
	return n, fault.E(fault.Unavailable, "host %s: %d ports in a row are in use outside larder", n.Host, maxPortMoves)
}

// checkPorts is checkPort for every node of nodes that was never started.
func (b *Nodes) checkPorts(ctx context.Context, nodes []store.Node) error {
	for i, n := range nodes {
		if n.State != store.NodeStarting {
			continue
		}
		var err error
		if nodes[i], err = b.checkPort(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// PlanOf returns the catalog plan an add-on runs on.
func (b *Nodes) PlanOf(a store.Addon) (*catalog.Plan, error) {
	svc, err := b.cfg.Catalog.Service(a.Service)
	if err != nil {
		return nil, err
	}
	return svc.Plan(a.Plan)
}

// nodeSpec builds what the host needs to run node n of add-on a, under the
// epoch a was read at.
func nodeSpec(a store.Addon, p *catalog.Plan, n store.Node) provisioner.NodeSpec {
	return provisioner.NodeSpec{
		ID: n.ID, Name: n.Name, Port: n.Port, Epoch: a.Epoch,
		MaxMemoryBytes: p.MaxMemoryBytes, MaxClients: p.MaxClients, Persistence: p.Persistence,
		MaxMemoryPolicy: a.MaxMemoryPolicy, Timeout: a.Timeout, NotifyKeyspaceEvents: a.NotifyKeyspaceEvents,
		Admin:    engine.User{Name: engine.AdminUser, Password: a.AdminPassword},
		Customer: engine.User{Name: a.CustomerUser, Password: a.CustomerPassword}, CustomerAlt: a.CustomerPasswordAlt,
	}
}

// InfoSpec is the spec a host reads node n's figures with: nodeSpec with
// the replication user (so its connection is not counted as the app's),
// built with no store read (the metrics sampler needs one per node each
// round). It is not a spec to start or reconfigure a node with.
func (b *Nodes) InfoSpec(a store.Addon, p *catalog.Plan, n store.Node) provisioner.NodeSpec {
	spec := nodeSpec(a, p, n)
	if a.ReplPassword != "" {
		spec.Repl = engine.User{Name: engine.ReplUser, Password: a.ReplPassword}
	}
	return spec
}

// SpecsOf returns the add-on's nodes with their specs, under its current
// epoch. The epoch is read before the roles: a promotion committed in between
// gives specs with the new roles under the old epoch (applied, or refused by
// hosts that hold the new one), never the old roles under the new epoch.
func (b *Nodes) SpecsOf(ctx context.Context, q store.Q, a store.Addon) ([]store.Node, []provisioner.NodeSpec, error) {
	epoch, err := q.AddonEpoch(ctx, a.ID)
	if err != nil {
		return nil, nil, err
	}
	a.Epoch = epoch
	nodes, err := q.NodesOfAddon(ctx, a.ID)
	if err != nil {
		return nil, nil, err
	}
	specs, err := b.NodeSpecs(ctx, q, a, nodes)
	return nodes, specs, err
}

// NodeSpecs builds the specs of nodes as add-on a (its plan, settings and
// every user, bindings included) wants them. It is the one place specs are
// made, so a restart, a settings change and a binding all render the same files.
// In a pair, the standby replicates from the primary, and the primary names
// the standby as where to rejoin if its own data is ever gone.
func (b *Nodes) NodeSpecs(ctx context.Context, q store.Q, a store.Addon, nodes []store.Node) ([]provisioner.NodeSpec, error) {
	p, err := b.PlanOf(a)
	if err != nil {
		return nil, err
	}
	users, err := b.extraUsers(ctx, q, a.ID)
	if err != nil {
		return nil, err
	}
	var primary, standby *engine.Endpoint
	for _, n := range nodes {
		e := &engine.Endpoint{Addr: n.Address, Port: n.Port}
		switch n.Role {
		case store.RolePrimary:
			primary = e
		case store.RoleStandby:
			standby = e
		}
	}
	specs := make([]provisioner.NodeSpec, len(nodes))
	for i, n := range nodes {
		specs[i] = nodeSpec(a, p, n)
		specs[i].ExtraUsers = users
		if a.ReplPassword != "" {
			specs[i].Repl = engine.User{Name: engine.ReplUser, Password: a.ReplPassword}
		}
		if b.cfg.MonitorPassword != "" {
			specs[i].Monitor = engine.User{Name: engine.MonitorUser, Password: b.cfg.MonitorPassword}
		}
		specs[i].Paired = primary != nil && standby != nil
		switch {
		case n.Role == store.RoleStandby && primary != nil:
			specs[i].ReplicaOf = primary
		case n.Role == store.RolePrimary && standby != nil && p.Persistence:
			specs[i].FallbackReplicaOf = standby
		}
	}
	if err := addLeader(ctx, q, a.ID, nodes, specs); err != nil {
		return nil, err
	}
	return specs, nil
}

// extraUsers lists the engine users an add-on has besides the customer's
// (Open Service Broker bindings).
func (b *Nodes) extraUsers(ctx context.Context, q store.Q, addonID string) ([]engine.User, error) {
	return osbsvc.BindingUsers(ctx, q, addonID)
}

// ProvisionStep starts an add-on's nodes and marks it provisioned. On failure
// it removes everything the create recorded or started: no process, port,
// directory or row is left behind. resume adopts nodes a previous broker may
// have started already.
func (b *Nodes) ProvisionStep(addonID string, resume bool) jobs.Step {
	return func(ctx context.Context, progress func(string)) (err error) {
		a, err := b.store.AddonByID(ctx, addonID)
		if err != nil {
			return err
		}
		var specs []provisioner.NodeSpec
		attempted := 0 // nodes a host was asked to start: the rest ran nowhere
		if resume {
			attempted = -1 // a previous broker may have started any of them
		}
		ok := false
		defer func() {
			if !ok && !jobs.Interrupted(err) {
				b.rollbackCreate(a, specs, attempted, err)
			}
		}()
		if !resume {
			nodes, err := b.store.NodesOfAddon(ctx, a.ID)
			if err != nil {
				return err
			}
			progress("checking ports")
			if err := b.checkPorts(ctx, nodes); err != nil {
				return err
			}
		}
		nodes, specs, err := b.SpecsOf(ctx, b.store, a)
		if err != nil {
			return err
		}
		for i, n := range nodes {
			progress(fmt.Sprintf("starting %s node on %s port %d", n.Role, n.Host, n.Port))
			h := b.hosts.Of(n)
			start := h.Start
			if resume {
				start = h.Adopt
			} else {
				attempted = i + 1
			}
			pn, err := start(ctx, specs[i])
			if err != nil {
				return fault.Wrap(fault.Unavailable, err, fmt.Sprintf("start %s node of %s on %s", n.Role, a.Name, n.Host))
			}
			if err := b.store.UpdateNodeRuntime(ctx, n.ID, pn.Addr, pn.Dir, pn.PID, startedState(n)); err != nil {
				return err
			}
		}
		if err := b.waitStandbys(ctx, a, nodes, progress); err != nil {
			return err
		}
		if err := b.addons.forkIfAsked(ctx, a, progress); err != nil {
			return err
		}
		if err := b.backups.RestoreIfAsked(ctx, a, progress); err != nil {
			return err
		}
		eng := b.hosts.Of(nodes[0]).Engine()
		err = b.store.InTx(ctx, func(tx store.Tx) error {
			if err := tx.SetAddonEngine(ctx, a.ID, eng.Name, eng.Version); err != nil {
				return err
			}
			if err := tx.SetAddonState(ctx, a.ID, api.StateProvisioned, ""); err != nil {
				return err
			}
			return tx.AddEvent(ctx, a.ID, a.Name, "addon.provisioned", fmt.Sprintf("%s:%s available on %s %s", a.Service, a.Plan, eng.Name, eng.Version))
		})
		if err != nil {
			return err
		}
		ok = true
		return nil
	}
}

// rollbackCreate undoes a failed create: the first attempted nodes (all of
// them when attempted < 0) removed from their hosts, rows deleted.
func (b *Nodes) rollbackCreate(a store.Addon, specs []provisioner.NodeSpec, attempted int, cause error) {
	ctx := context.Background()
	log := b.log.WithField("addon", a.Name)
	nodes, _ := b.store.NodesOfAddon(ctx, a.ID)
	if attempted >= 0 && attempted < len(specs) {
		specs = specs[:attempted]
	}
	for i, s := range specs {
		h := hostset.Unknown("")
		if i < len(nodes) {
			h = b.hosts.Of(nodes[i])
		}
		if err := h.Remove(ctx, s); err != nil {
			log.WithError(err).WithField("node", s.Name).Error("remove node of failed add-on")
		}
	}
	err := b.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.DeleteAddon(ctx, a.ID); err != nil && fault.KindOf(err) != fault.NotFound {
			return err
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "addon.create_failed", fault.Message(cause))
	})
	if err != nil {
		log.WithError(err).Error("delete failed add-on")
	}
}

// DeprovisionStep stops and removes an add-on's nodes, then its rows.
func (b *Nodes) DeprovisionStep(addonID string) jobs.Step {
	return func(ctx context.Context, progress func(string)) error {
		a, err := b.store.AddonByID(ctx, addonID)
		if err != nil {
			return err
		}
		nodes, specs, err := b.SpecsOf(ctx, b.store, a)
		if err != nil {
			return err
		}
		for i, n := range nodes {
			progress(fmt.Sprintf("stopping %s node", n.Role))
			if err := b.hosts.Of(n).Remove(ctx, specs[i]); err != nil {
				if !b.hosts.IsUp(n.Host) {
					// Its host is gone: the agent removes the orphan when it returns.
					b.log.WithError(err).WithField("node", n.Name).Warn("host unreachable; node left for orphan cleanup")
					continue
				}
				return fault.Wrap(fault.Unavailable, err, fmt.Sprintf("remove %s node of %s", n.Role, a.Name))
			}
		}
		return b.store.InTx(ctx, func(tx store.Tx) error {
			if err := tx.DeleteAddon(ctx, a.ID); err != nil {
				return err
			}
			return tx.AddEvent(ctx, a.ID, a.Name, "addon.destroyed", "nodes stopped and data deleted")
		})
	}
}

// syncTimeout bounds how long a new standby may take to finish its first sync.
const syncTimeout = 5 * time.Minute

// waitStandbys waits until every standby of a is an in-sync replica of its
// primary: an HA add-on is provisioned only once its standby holds the data.
func (b *Nodes) waitStandbys(ctx context.Context, a store.Addon, nodes []store.Node, progress func(string)) error {
	primary, ok := primaryNode(nodes)
	if !ok {
		return nil
	}
	for _, n := range nodes {
		if n.Role != store.RoleStandby {
			continue
		}
		progress("waiting for the standby on " + n.Host + " to sync")
		sctx, cancel := context.WithTimeout(ctx, syncTimeout)
		err := engine.WaitInSync(sctx, attach.Target(a, n), engine.Endpoint{Addr: primary.Address, Port: primary.Port})
		if err == nil {
			err = engine.WaitOnline(sctx, attach.Target(a, primary), engine.Endpoint{Addr: n.Address, Port: n.Port})
		}
		cancel()
		if err != nil {
			return err
		}
		// Only now does it hold the data: from here on it may be promoted.
		if err := b.store.SetNodeState(ctx, n.ID, store.NodeRunning, 0); err != nil {
			return err
		}
	}
	return nil
}

// startedState is a node's state once its process answers: a standby is
// syncing until its first sync is done (and may not be promoted before).
func startedState(n store.Node) string {
	if n.Role == store.RoleStandby {
		return store.NodeSyncing
	}
	return store.NodeRunning
}
