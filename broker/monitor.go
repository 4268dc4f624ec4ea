package broker

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"larder/api"
	"larder/engine"
	"larder/fault"
	"larder/ha"
	"larder/provisioner"
	"larder/store"

	"github.com/sirupsen/logrus"
)

// monitorTargets lists every node of every settled add-on, for observers.
func (b *Broker) monitorTargets(r *http.Request) (int, any, error) {
	ctx := r.Context()
	nodes, err := b.store.AllNodes(ctx)
	if err != nil {
		return 0, nil, err
	}
	agents := map[string]string{}
	if hosts, err := b.store.Hosts(ctx); err == nil {
		for _, h := range hosts {
			if h.Name != b.localName {
				agents[h.Name] = h.URL
			}
		}
	}
	// Observers refresh their targets from this list every round; the
	// tracker forgets the nodes that left it, so a removed node lingers in
	// no location's down list.
	inStore := map[string]bool{}
	for _, n := range nodes {
		inStore[n.ID] = true
	}
	b.tracker.Retain(func(id string) bool { return inStore[id] })
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
	return http.StatusOK, out, nil
}

// monitorReport records one observer's probe round.
func (b *Broker) monitorReport(r *http.Request) (int, any, error) {
	var rep api.MonitorReport
	if err := decodeBody(r, &rep, false); err != nil {
		return 0, nil, err
	}
	if rep.Location == "" || rep.Observer == "" {
		return 0, nil, fault.E(fault.Invalid, "a report needs its location and observer")
	}
	b.tracker.Record(rep, time.Now())
	for _, o := range rep.Nodes {
		if !o.Up {
			b.recon.Nudge()
			break
		}
	}
	return http.StatusNoContent, nil, nil
}

func (b *Broker) listMonitors(r *http.Request) (int, any, error) {
	return http.StatusOK, b.tracker.Locations(time.Now(), b.rules()), nil
}

// rules are the failover decision's parameters.
func (b *Broker) rules() ha.Rules {
	return ha.Rules{Window: b.cfg.FailoverWindow, Fresh: b.cfg.MonitorFresh, MinQuorum: b.cfg.MinQuorum}
}

// checkPrimary decides whether an HA add-on's primary is lost and, if so,
// starts exactly one failover. A primary its host is restarting in place is
// not lost: only a quorum of locations seeing it down for the whole window,
// with its host unable to restart it (unreachable, or given up on it), is.
func (r *reconciler) checkPrimary(ctx context.Context, a store.Addon, nodes []store.Node, statuses map[string]provisioner.HostStatus) {
	primary, ok := primaryNode(nodes)
	if !ok || r.isFailing(a.ID) || a.State != api.StateProvisioned {
		return
	}
	v := r.b.tracker.Verdict(primary.ID, time.Now(), r.b.rules())
	if !v.Down {
		return
	}
	st, up := statuses[primary.Host]
	if why := hostHasIt(primary, v, st, up); why != "" {
		if !up {
			r.logOnce(a.ID, "primary down but "+why+"; holding the failover")
		}
		return
	}
	r.startFailover(ctx, a, primary, v)
}

func (r *reconciler) isFailing(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failing[id]
}

// hold marks a failover of add-on id as running until the returned func is
// called: no other starts meanwhile, and its nodes' roles are left alone.
func (r *reconciler) hold(id string) func() {
	r.mu.Lock()
	r.failing[id] = true
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		delete(r.failing, id)
		r.mu.Unlock()
	}
}

func (r *reconciler) startFailover(ctx context.Context, a store.Addon, primary store.Node, v ha.Verdict) {
	done := r.hold(a.ID)
	detected := time.Now()
	op := store.Operation{AddonID: a.ID, AddonName: a.Name, Kind: "failover", State: api.OpPending}
	r.b.jobs.lease(&op)
	err := r.b.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateOperation(ctx, &op); err != nil {
			return err
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "failover.detect", fmt.Sprintf("primary %s on %s unreachable from %s (quorum %d of %s): first failed probe %s, last answer before it %s",
			primary.Name, primary.Host, strings.Join(v.DownAt, ", "), v.Quorum, strings.Join(v.Voting, ", "),
			v.DownSince.UTC().Format(time.RFC3339Nano), stamp(v.LastAnswer, time.RFC3339Nano)))
	})
	if err != nil {
		r.log.WithError(err).Error("record failover")
		done()
		return
	}
	r.log.WithField("addon", a.Name).Warn("primary lost; failing over")
	r.b.jobs.Run(r.b.store, op, func(ctx context.Context, progress func(string)) error {
		defer done()
		return r.b.failoverPrimary(ctx, a.ID, primary.ID, a.Epoch, v, detected, progress)
	})
}

// failoverPrimary replaces a lost primary, decided under epoch on verdict v:
// check the standby, fence the old primary, take the decision again on fresh
// evidence if the fence did not stop it, record the standby as primary under
// a new epoch (every attached app's vars follow in that commit; a
// coordinator that changed the roles since epoch wins, and this one stops),
// promote it through its host, record detection and recovery times, then
// build a new standby.
func (b *Broker) failoverPrimary(ctx context.Context, addonID, primaryID string, epoch int64, v ha.Verdict, detected time.Time, progress func(string)) error {
	a, err := b.store.AddonByID(ctx, addonID)
	if err != nil {
		return err
	}
	if a.Epoch != epoch {
		return b.superseded(ctx, a, "failover", epoch)
	}
	primary, standby, err := b.promotable(ctx, a, primaryID)
	if err != nil || primary.ID == "" {
		return err
	}
	// A standby rebuild may hold the add-on's lock while it waits on the lost
	// primary; it fails once the primary is fenced and gone.
	unlock := b.locks.lock(addonID)
	defer unlock()
	// The epoch first, then the roles: the commit below is a compare-and-set
	// on this epoch.
	if a, err = b.store.AddonByID(ctx, addonID); err != nil {
		return err
	}
	if a.Epoch != epoch {
		return b.superseded(ctx, a, "failover", epoch)
	}
	if primary, standby, err = b.promotable(ctx, a, primaryID); err != nil || primary.ID == "" {
		return err
	}
	progress("fencing the old primary on " + primary.Host)
	stopped, err := b.fence(ctx, a, primary)
	if err != nil {
		return err
	}
	b.crashPoint("failover.fenced")
	if !stopped {
		// The outage may have ended during the lease wait.
		if why := b.stillLost(ctx, primary); why != "" {
			msg := fmt.Sprintf("failover of %s rolled back before the promotion: %s; nothing was promoted", primary.Name, why)
			b.store.AddEvent(ctx, a.ID, a.Name, "failover.rolled_back", msg)
			b.log.WithField("addon", a.Name).Warn(msg)
			return fault.E(fault.Conflict, "%s", msg)
		}
	}
	progress("promoting the standby on " + standby.Host)
	promoted := time.Now()
	// Times count from the first failed probe: when the outage was first seen.
	msg := fmt.Sprintf("failover: %s on %s is primary; %s on %s was lost. first failed probe %s (last answer before it %s); detected after %d ms, writable after %d ms",
		standby.Name, standby.Host, primary.Name, primary.Host, v.DownSince.UTC().Format("15:04:05.000"), stamp(v.LastAnswer, "15:04:05.000"),
		detected.Sub(v.DownSince).Milliseconds(), promoted.Sub(v.DownSince).Milliseconds())
	return b.completeFailover(ctx, a, primary, standby, msg, progress)
}

// completeFailover records the standby as primary under a new epoch (every
// attached app's vars follow in that commit; the old primary leaves the
// store, and its host removes it when it returns), promotes it through its
// host, and builds a new standby.
func (b *Broker) completeFailover(ctx context.Context, a store.Addon, primary, standby store.Node, msg string, progress func(string)) error {
	if err := b.commitPromotion(ctx, a, standby, primary, true, "failover", msg); err != nil {
		return err
	}
	b.crashPoint("failover.committed")
	// Recorded: from here on the failover is finished, by this broker or,
	// should it stop, by the next one (resumeFailover, settleRoles).
	if err := b.applyRoles(ctx, a, standby.ID); err != nil {
		return err
	}
	b.crashPoint("failover.promoted")
	return b.finishFailover(ctx, a, primary, progress)
}

// finishFailover follows a recorded failover: the new primary resumes
// following an external leader, the old one is removed if its host answers,
// and a new standby is built.
func (b *Broker) finishFailover(ctx context.Context, a store.Addon, primary store.Node, progress func(string)) error {
	b.tracker.Forget(primary.ID)
	// A follower of an external leader stays one: the promoted node follows
	// the leader as the old primary did (the promotion made it independent).
	if _, err := b.store.FollowOf(ctx, a.ID); err == nil {
		if err := b.applyFollow(ctx, a); err != nil {
			b.log.WithError(err).WithField("addon", a.Name).Warn("new primary could not resume following its leader")
		}
	}
	if b.hosts.isUp(primary.Host) {
		if specs, err := b.nodeSpecs(ctx, b.store, a, []store.Node{primary}); err == nil {
			b.hostFor(primary).Remove(ctx, specs[0])
		}
	}
	progress("building a new standby")
	if _, err := b.addStandby(ctx, a, progress, primary.Host); err != nil {
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
func (b *Broker) resumeFailover(ctx context.Context, addonID string, progress func(string)) error {
	unlock := b.locks.lock(addonID)
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
			if err := b.dropNode(ctx, a, standby); err != nil {
				return err
			}
		}
		progress("building a new standby")
		if _, err := b.addStandby(ctx, a, progress); err != nil {
			b.store.AddEvent(ctx, a.ID, a.Name, "standby.rebuild_failed", fault.Message(err))
			return err
		}
		return b.store.AddEvent(ctx, a.ID, a.Name, "standby.rebuilt", "new standby in sync after the failover (completed after a broker restart)")
	}
	sr, err := engine.Replication(ctx, target(a, standby))
	if err == nil && sr.Role == "master" {
		return b.completeFailover(ctx, a, primary, standby,
			fmt.Sprintf("failover completed after a broker restart: %s on %s is primary; %s on %s was lost", standby.Name, standby.Host, primary.Name, primary.Host), progress)
	}
	b.store.AddEvent(ctx, a.ID, a.Name, "failover.rolled_back", "the broker stopped before recording the promotion; nothing changed, the observers decide again")
	return fault.E(fault.Conflict, "failover of %s rolled back: the broker stopped before the promotion", a.Name)
}

// promotable returns the lost primary and a standby fit to replace it: one
// that answers as a replica and has completed a sync (it holds the data). With
// none, the add-on is marked failed with the reason (it needs an operator) and
// nothing is promoted: never a stale or missing node. A zero primary means the
// failover was already handled.
func (b *Broker) promotable(ctx context.Context, a store.Addon, primaryID string) (store.Node, store.Node, error) {
	nodes, err := b.store.NodesOfAddon(ctx, a.ID)
	if err != nil {
		return store.Node{}, store.Node{}, err
	}
	primary, standby, ok := pair(nodes)
	if p, found := primaryNode(nodes); !found || p.ID != primaryID {
		return store.Node{}, store.Node{}, nil
	}
	problem := "there is no standby"
	if ok {
		sctx, cancel := context.WithTimeout(ctx, liveTimeout)
		sr, err := engine.Replication(sctx, target(a, standby))
		cancel()
		switch {
		case standby.State != store.NodeRunning:
			problem = "its standby " + standby.Name + " never finished its first sync (" + standby.State + ")"
		case err != nil:
			problem = "its standby " + standby.Name + " on " + standby.Host + " is unreachable"
		case sr.Role != "slave":
			problem = "its standby " + standby.Name + " reports role " + sr.Role
		case sr.SyncInProgress:
			problem = "its standby " + standby.Name + " is in the middle of a full sync"
		default:
			return primary, standby, nil
		}
	} else {
		primary, _ = primaryNode(nodes)
	}
	if now, err := b.store.AddonEpoch(ctx, a.ID); err == nil && now != a.Epoch {
		// Another coordinator changed the roles meanwhile (its standby may
		// answer as primary because it was just promoted): not a dead end.
		return store.Node{}, store.Node{}, b.superseded(ctx, a, "failover", a.Epoch)
	}
	reason := fmt.Sprintf("primary %s on %s is lost and %s; nothing was promoted: needs an operator", primary.Name, primary.Host, problem)
	b.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.SetAddonState(ctx, a.ID, api.StateFailed, reason); err != nil {
			return err
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "failover.blocked", reason)
	})
	b.log.WithField("addon", a.Name).Error(reason)
	return store.Node{}, store.Node{}, fault.E(fault.Unavailable, "%s", reason)
}

// fence makes sure the old primary takes no more writes before its standby
// is promoted: stopped through its host when the host answers (stopped is
// true), otherwise the broker waits out the lease under which a cut-off agent
// pauses its primaries by itself.
func (b *Broker) fence(ctx context.Context, a store.Addon, primary store.Node) (stopped bool, err error) {
	if b.hosts.isUp(primary.Host) {
		if err := b.hostFor(primary).Stop(ctx, primary.ID); err == nil || fault.KindOf(err) == fault.NotFound {
			return true, nil
		}
	}
	if primary.Host == b.localName {
		return true, nil // the broker's own host: a node it cannot stop is not running
	}
	wait := time.Until(b.hosts.lastContact(primary.Host).Add(b.cfg.Lease + b.cfg.Lease/2))
	if wait <= 0 {
		return false, nil
	}
	b.log.WithField("host", primary.Host).WithField("wait", wait.Round(time.Millisecond)).Info("waiting out the lease of the unreachable host")
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case <-t.C:
		return false, nil
	}
}

// logOnce logs msg for an add-on at most once a minute.
func (r *reconciler) logOnce(id, msg string) {
	r.logged.Log(r.log.WithField("addon", id), id, logrus.WarnLevel, msg)
}
