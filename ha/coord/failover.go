package coord

import (
	"context"
	"fmt"
	"strings"
	"time"

	"larder/api"
	"larder/fault"
	"larder/ha"
	"larder/provisioner"
	"larder/store"
)

// CheckPrimary decides whether an HA add-on's primary is lost and, if so,
// starts exactly one failover. A primary its host is restarting in place is
// not lost: only a quorum of locations seeing it down for the whole window,
// with its host unable to restart it (unreachable, or given up on it), is.
// statuses are the hosts that answered this round.
func (c *Coordinator) CheckPrimary(ctx context.Context, a store.Addon, nodes []store.Node, statuses map[string]provisioner.HostStatus) {
	primary, ok := PrimaryNode(nodes)
	if !ok || c.Failing(a.ID) || a.State != api.StateProvisioned {
		return
	}
	v := c.cfg.Tracker.Verdict(primary.ID, c.clock.Now(), c.cfg.Rules)
	if !v.Down {
		return
	}
	st, up := statuses[primary.Host]
	if why := hostHasIt(primary, v, st, up); why != "" {
		if !up {
			c.LogOnce(a.ID, "primary down but "+why+"; holding the failover")
		}
		return
	}
	c.startFailover(ctx, a, primary, v)
}

func (c *Coordinator) startFailover(ctx context.Context, a store.Addon, primary store.Node, v ha.Verdict) {
	done := c.Hold(a.ID)
	detected := c.clock.Now()
	detect := fmt.Sprintf("primary %s on %s unreachable from %s (quorum %d of %s): first failed probe %s, last answer before it %s",
		primary.Name, primary.Host, strings.Join(v.DownAt, ", "), v.Quorum, strings.Join(v.Voting, ", "),
		v.DownSince.UTC().Format(time.RFC3339Nano), stamp(v.LastAnswer, time.RFC3339Nano))
	err := c.cfg.Actions.StartFailover(ctx, a, detect, func(ctx context.Context, progress func(string)) error {
		defer done()
		return c.Failover(ctx, a.ID, primary.ID, a.Epoch, v, detected, progress)
	})
	if err != nil {
		c.log.WithError(err).Error("record failover")
		done()
		return
	}
	c.log.WithField("addon", a.Name).Warn("primary lost; failing over")
}

// Failover replaces a lost primary, decided under epoch on verdict v:
// check the standby, fence the old primary, take the decision again on fresh
// evidence if the fence did not stop it, record the standby as primary under
// a new epoch (every attached app's vars follow in that commit; a
// coordinator that changed the roles since epoch wins, and this one stops),
// promote it through its host, record detection and recovery times, then
// build a new standby.
func (c *Coordinator) Failover(ctx context.Context, addonID, primaryID string, epoch int64, v ha.Verdict, detected time.Time, progress func(string)) error {
	a, primary, _, err := c.decided(ctx, addonID, primaryID, epoch)
	if err != nil || primary.ID == "" {
		return err
	}
	// A standby rebuild may hold the add-on's lock while it waits on the lost
	// primary; it fails once the primary is fenced and gone.
	unlock := c.cfg.Actions.Lock(addonID)
	defer unlock()
	// The epoch first, then the roles: the commit below is a compare-and-set
	// on this epoch.
	a, primary, standby, err := c.decided(ctx, addonID, primaryID, epoch)
	if err != nil || primary.ID == "" {
		return err
	}
	progress("fencing the old primary on " + primary.Host)
	stopped, err := c.fence(ctx, primary)
	if err != nil {
		return err
	}
	c.cfg.Actions.CrashPoint("failover.fenced")
	if !stopped {
		// The outage may have ended during the lease wait.
		if why := c.stillLost(ctx, primary); why != "" {
			msg := fmt.Sprintf("failover of %s rolled back before the promotion: %s; nothing was promoted", primary.Name, why)
			c.cfg.Store.AddEvent(ctx, a.ID, a.Name, "failover.rolled_back", msg)
			c.log.WithField("addon", a.Name).Warn(msg)
			return fault.E(fault.Conflict, "%s", msg)
		}
	}
	progress("promoting the standby on " + standby.Host)
	promoted := c.clock.Now()
	// Times count from the first failed probe: when the outage was first seen.
	msg := fmt.Sprintf("failover: %s on %s is primary; %s on %s was lost. first failed probe %s (last answer before it %s); detected after %d ms, writable after %d ms",
		standby.Name, standby.Host, primary.Name, primary.Host, v.DownSince.UTC().Format("15:04:05.000"), stamp(v.LastAnswer, "15:04:05.000"),
		detected.Sub(v.DownSince).Milliseconds(), promoted.Sub(v.DownSince).Milliseconds())
	return c.CompleteFailover(ctx, a, primary, standby, msg, progress)
}

// decided reads add-on addonID again and checks the failover decided under
// epoch still stands: the epoch unchanged (else superseded) and primaryID
// still its primary with a standby fit to replace it (see promotable).
func (c *Coordinator) decided(ctx context.Context, addonID, primaryID string, epoch int64) (store.Addon, store.Node, store.Node, error) {
	a, err := c.cfg.Store.AddonByID(ctx, addonID)
	if err != nil {
		return a, store.Node{}, store.Node{}, err
	}
	if a.Epoch != epoch {
		return a, store.Node{}, store.Node{}, c.Superseded(ctx, a, "failover", epoch)
	}
	primary, standby, err := c.promotable(ctx, a, primaryID)
	return a, primary, standby, err
}

// CompleteFailover records the standby as primary under a new epoch (every
// attached app's vars follow in that commit; the old primary leaves the
// store, and its host removes it when it returns), promotes it through its
// host, and builds a new standby.
func (c *Coordinator) CompleteFailover(ctx context.Context, a store.Addon, primary, standby store.Node, msg string, progress func(string)) error {
	if err := c.CommitPromotion(ctx, a, standby, primary, true, "failover", msg); err != nil {
		return err
	}
	c.cfg.Actions.CrashPoint("failover.committed")
	// Recorded: from here on the failover is finished, by this broker or,
	// should it stop, by the next one (resumeFailover, settleRoles).
	if err := c.cfg.Actions.ApplyRoles(ctx, a, standby.ID); err != nil {
		return err
	}
	c.cfg.Actions.CrashPoint("failover.promoted")
	c.cfg.Tracker.Forget(primary.ID)
	return c.cfg.Actions.AfterFailover(ctx, a, primary, progress)
}

// promotable returns the lost primary and a standby fit to replace it: one
// that answers as a replica and has completed a sync (it holds the data). With
// none, the add-on is marked failed with the reason (it needs an operator) and
// nothing is promoted: never a stale or missing node. A zero primary means the
// failover was already handled.
func (c *Coordinator) promotable(ctx context.Context, a store.Addon, primaryID string) (store.Node, store.Node, error) {
	nodes, err := c.cfg.Store.NodesOfAddon(ctx, a.ID)
	if err != nil {
		return store.Node{}, store.Node{}, err
	}
	primary, standby, ok := Pair(nodes)
	if p, found := PrimaryNode(nodes); !found || p.ID != primaryID {
		return store.Node{}, store.Node{}, nil
	}
	problem := "there is no standby"
	if ok {
		sctx, cancel := context.WithTimeout(ctx, c.cfg.ProbeTimeout)
		sr, err := c.cfg.Actions.Replication(sctx, a, standby)
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
		primary, _ = PrimaryNode(nodes)
	}
	if now, err := c.cfg.Store.AddonEpoch(ctx, a.ID); err == nil && now != a.Epoch {
		// Another coordinator changed the roles meanwhile (its standby may
		// answer as primary because it was just promoted): not a dead end.
		return store.Node{}, store.Node{}, c.Superseded(ctx, a, "failover", a.Epoch)
	}
	reason := fmt.Sprintf("primary %s on %s is lost and %s; nothing was promoted: needs an operator", primary.Name, primary.Host, problem)
	c.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.SetAddonState(ctx, a.ID, api.StateFailed, reason); err != nil {
			return err
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "failover.blocked", reason)
	})
	c.log.WithField("addon", a.Name).Error(reason)
	return store.Node{}, store.Node{}, fault.E(fault.Unavailable, "%s", reason)
}

// fence makes sure the old primary takes no more writes before its standby
// is promoted: stopped through its host when the host answers (stopped is
// true), otherwise the coordinator waits out the lease under which a cut-off
// agent pauses its primaries by itself.
func (c *Coordinator) fence(ctx context.Context, primary store.Node) (stopped bool, err error) {
	if c.cfg.Hosts.Up(primary.Host) {
		if err := c.cfg.Hosts.Stop(ctx, primary); err == nil || fault.KindOf(err) == fault.NotFound {
			return true, nil
		}
	}
	if primary.Host == c.cfg.LocalHost {
		return true, nil // the broker's own host: a node it cannot stop is not running
	}
	now := c.clock.Now()
	contact, ok := c.cfg.Hosts.LastContact(primary.Host)
	if !ok {
		contact = now // no lease can have run out before the broker knew the host
	}
	wait := contact.Add(c.cfg.Lease + c.cfg.Lease/2).Sub(now)
	if wait <= 0 {
		return false, nil
	}
	c.log.WithField("host", primary.Host).WithField("wait", wait.Round(time.Millisecond)).Info("waiting out the lease of the unreachable host")
	t := c.clock.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case <-t.C():
		return false, nil
	}
}

// stillLost takes the decision again on fresh evidence, just before a
// promotion: the lease wait may have outlasted the outage. It says why the
// old primary is not lost after all, or "" when it still is.
func (c *Coordinator) stillLost(ctx context.Context, primary store.Node) string {
	v := c.cfg.Tracker.Verdict(primary.ID, c.clock.Now(), c.cfg.Rules)
	if !v.Down {
		switch {
		case len(v.UpAt) >= v.Quorum:
			return fmt.Sprintf("a quorum of locations reach it again (%s)", strings.Join(v.UpAt, ", "))
		case len(v.Voting) < v.Quorum:
			return fmt.Sprintf("too few locations report to confirm it is still down (%d voting, %d needed)", len(v.Voting), v.Quorum)
		}
		return fmt.Sprintf("a quorum of locations no longer sees it down for the whole window (down at: %s)", strings.Join(v.DownAt, ", "))
	}
	// The reconciler's last look says whether the host answers; only then is
	// it asked what it does with the node (an unreachable one costs no wait).
	var st provisioner.HostStatus
	up := false
	if c.cfg.Hosts.Up(primary.Host) {
		sctx, cancel := context.WithTimeout(ctx, c.cfg.StatusTimeout)
		var err error
		st, err = c.cfg.Hosts.Status(sctx, primary.Host)
		cancel()
		up = err == nil
	}
	return hostHasIt(primary, v, st, up)
}

// hostHasIt says why a primary the observers see down is not lost: its host
// answers and has it in hand (a restart in place, no failover), or the
// observers still reach its host's agent (the broker is the one cut off, and
// the host may be restarting the node right now). "" when neither.
func hostHasIt(primary store.Node, v ha.Verdict, st provisioner.HostStatus, hostUp bool) string {
	if hostUp {
		for _, ns := range st.Nodes {
			if ns.ID == primary.ID && ns.State != "failed" {
				return "its host " + primary.Host + " answers and supervises it (" + ns.State + ")"
			}
		}
	} else if len(v.AgentUpAt) >= v.Quorum {
		return fmt.Sprintf("its host %s answers a quorum of observers (%s)", primary.Host, strings.Join(v.AgentUpAt, ", "))
	}
	return ""
}

// stamp formats t in UTC, or says it is unknown.
func stamp(t time.Time, layout string) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(layout)
}
