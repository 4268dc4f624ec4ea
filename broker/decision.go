package broker

import (
	"context"
	"fmt"
	"strings"
	"time"

	"larder/api"
	"larder/ha"
	"larder/provisioner"
	"larder/store"
)

// The broker's side of the failover decision: what holds a failover back,
// the decision taken again before a promotion, and the warning when the
// observers cannot decide at all.

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

// stillLost takes the decision again on fresh evidence, just before a
// promotion: the lease wait may have outlasted the outage. It says why the
// old primary is not lost after all, or "" when it still is.
func (b *Broker) stillLost(ctx context.Context, primary store.Node) string {
	v := b.tracker.Verdict(primary.ID, time.Now(), b.rules())
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
	if h, ok := b.hosts.get(primary.Host); ok && b.hosts.isUp(primary.Host) {
		sctx, cancel := context.WithTimeout(ctx, b.cfg.ReconcileInterval)
		var err error
		st, err = h.Status(sctx)
		cancel()
		up = err == nil
	}
	return hostHasIt(primary, v, st, up)
}

// noteDecision records on every HA add-on, as an event, when the observers
// can no longer decide a failover (too few locations voting) and when they
// can again: on a change, not every tick. The first look waits until the
// locations had time to report after the broker started.
func (r *reconciler) noteDecision(ctx context.Context, byAddon map[string][]store.Node) {
	if time.Since(r.started) < r.b.cfg.MonitorFresh+r.b.cfg.ReconcileInterval {
		return
	}
	d := r.b.tracker.Decision(time.Now(), r.b.rules())
	warn := d.Warning()
	r.mu.Lock()
	prev := r.decision
	r.decision = &warn
	r.mu.Unlock()
	if (prev == nil && warn == "") || (prev != nil && (*prev == "") == (warn == "")) {
		return
	}
	kind, msg := "ha.cannot_decide", warn+": no failover can happen until more locations report"
	if warn == "" {
		kind, msg = "ha.can_decide", fmt.Sprintf("HA can decide again: %d of %d locations voting", len(d.Voting), d.Known)
	}
	r.log.WithField("event", kind).Warn(msg)
	for id := range byAddon {
		a, err := r.b.store.AddonByID(ctx, id)
		if err != nil || a.State != api.StateProvisioned {
			continue
		}
		if p, err := r.b.planOf(a); err != nil || !p.HA {
			continue
		}
		if err := r.b.store.AddEvent(ctx, a.ID, a.Name, kind, msg); err != nil {
			r.log.WithError(err).Warn("record event")
		}
	}
}

// stamp formats t in UTC, or says it is unknown.
func stamp(t time.Time, layout string) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(layout)
}
