package pairs

import (
	"context"
	"fmt"
	"strings"

	"larder/api"
	"larder/broker/attach"
	"larder/engine"
	"larder/fault"
	"larder/ha"
	"larder/store"
)

// monitorTargets lists every node of every settled add-on, for observers.
func (b *Pairs) MonitorTargets(ctx context.Context) ([]api.MonitorTarget, error) {
	nodes, err := b.store.AllNodes(ctx)
	if err != nil {
		return nil, err
	}
	agents := map[string]string{}
	if hosts, err := b.store.Hosts(ctx); err == nil {
		for _, h := range hosts {
			if h.Name != b.cfg.LocalHost {
				agents[h.Name] = h.URL
			}
		}
	}
	// Observers refresh their targets from this list every round.
	b.retainStored(nodes)
	out := []api.MonitorTarget{}
	for _, n := range nodes {
		if n.Address == "" || n.State == store.NodeStarting {
			continue
		}
		t := api.MonitorTarget{NodeID: n.ID, Addon: strings.TrimSuffix(n.Name, "-"+n.ID[:6]), Role: n.Role, Host: n.Host,
			Addr: n.Address, Port: n.Port, AgentURL: agents[n.Host]}
		if b.cfg.MonitorPassword != "" {
			t.MonitorUser, t.MonitorPassword = engine.MonitorUser, b.cfg.MonitorPassword
		}
		out = append(out, t)
	}
	return out, nil
}

// retainStored makes the tracker forget the nodes that left the store, so
// a removed node lingers in no location's down list — on any broker, the
// ones observers ask for their targets or not.
func (b *Pairs) retainStored(nodes []store.Node) {
	inStore := map[string]bool{}
	for _, n := range nodes {
		inStore[n.ID] = true
	}
	b.tracker.Retain(func(id string) bool { return inStore[id] })
}

// ListMonitors is every location as this broker's tracker sees it, which
// folds every broker's reports: the same on every broker.
func (b *Pairs) ListMonitors(ctx context.Context) ([]ha.LocationStatus, error) {
	nodes, err := b.store.AllNodes(ctx)
	if err != nil {
		return nil, err
	}
	b.retainStored(nodes)
	return b.tracker.Locations(b.coord.Clock().Now(), b.rules()), nil
}

// rules are the failover decision's parameters.
func (b *Pairs) rules() ha.Rules {
	return ha.Rules{Window: b.cfg.FailoverWindow, Fresh: b.cfg.MonitorFresh, MinQuorum: b.cfg.MinQuorum}
}

// finishFailover follows a recorded failover: the new primary resumes
// following an external leader, the old one is removed if its host answers,
// and a new standby is built.
func (b *Pairs) finishFailover(ctx context.Context, a store.Addon, primary store.Node, progress func(string)) error {
	// A follower of an external leader stays one: the promoted node follows
	// the leader as the old primary did (the promotion made it independent).
	if _, err := b.store.FollowOf(ctx, a.ID); err == nil {
		if err := b.follow.ApplyFollow(ctx, a); err != nil {
			b.log.WithError(err).WithField("addon", a.Name).Warn("new primary could not resume following its leader")
		}
	}
	if b.hosts.IsUp(primary.Host) {
		if specs, err := b.nodes.NodeSpecs(ctx, b.store, a, []store.Node{primary}); err == nil {
			b.hosts.Of(primary).Remove(ctx, specs[0])
		}
	}
	progress("building a new standby")
	if _, err := b.nodes.AddStandby(ctx, a, progress, primary.Host); err != nil {
		b.store.AddEvent(ctx, a.ID, a.Name, "standby.rebuild_failed", fault.Message(err))
		return err
	}
	return b.store.AddEvent(ctx, a.ID, a.Name, "standby.rebuilt", "new standby in sync after the failover")
}

// resumeFailover finishes or rolls back a failover a previous broker left
// unfinished. The store tells which: a failover is recorded (the standby made
// primary, the old primary gone) before any node changes role. Recorded, it
// is finished: the new primary is confirmed through its host under the
// add-on's epoch, and a standby is built (or the one a previous broker began
// building is replaced). Not recorded, the nodes are as they were, and it is
// rolled back: the observers decide afresh. A standby a host promoted by
// itself (a primary that came back without its data) is recorded as primary.
// Never two primaries.
func (b *Pairs) resumeFailover(ctx context.Context, addonID string, progress func(string)) error {
	unlock := b.jobs.Lock(addonID)
	defer unlock()
	a, err := b.store.AddonByID(ctx, addonID)
	if err != nil {
		return err
	}
	nodes, err := b.store.NodesOfAddon(ctx, a.ID)
	if err != nil {
		return err
	}
	primary, standby, ok := pair(nodes)
	switch {
	case !ok && primary.ID == "":
		return nil
	case !ok || standby.State != store.NodeRunning:
		// Recorded; the new standby was never claimed, or was claimed but
		// never finished its sync: it is built again from a clean slate.
		progress("confirming the new primary on " + primary.Host)
		if err := b.applyRoles(ctx, a, primary.ID); err != nil {
			return err
		}
		if ok {
			if err := b.nodes.DropNode(ctx, a, standby); err != nil {
				return err
			}
		}
		progress("building a new standby")
		if _, err := b.nodes.AddStandby(ctx, a, progress); err != nil {
			b.store.AddEvent(ctx, a.ID, a.Name, "standby.rebuild_failed", fault.Message(err))
			return err
		}
		return b.store.AddEvent(ctx, a.ID, a.Name, "standby.rebuilt", "new standby in sync after the failover (completed after a broker restart)")
	}
	sr, err := engine.Replication(ctx, attach.Target(a, standby))
	if err == nil && sr.Role == "master" {
		return b.coord.CompleteFailover(ctx, a, primary, standby,
			fmt.Sprintf("failover completed after a broker restart: %s on %s is primary; %s on %s was lost", standby.Name, standby.Host, primary.Name, primary.Host), progress)
	}
	b.store.AddEvent(ctx, a.ID, a.Name, "failover.rolled_back", "the broker stopped before recording the promotion; nothing changed, the observers decide again")
	return fault.E(fault.Conflict, "failover of %s rolled back: the broker stopped before the promotion", a.Name)
}
