package coord

import "fmt"

// DecisionChange says, as an event kind and message, when the observers can
// no longer decide a failover (too few locations voting) and when they can
// again: on a change, not on every call. ok is false when nothing changed.
// The first look waits until the locations had time to report after Start.
func (c *Coordinator) DecisionChange() (kind, msg string, ok bool) {
	now := c.clock.Now()
	c.mu.Lock()
	early := now.Sub(c.started) < c.cfg.Rules.Fresh+c.cfg.Interval
	c.mu.Unlock()
	if early {
		return "", "", false
	}
	d := c.cfg.Tracker.Decision(now, c.cfg.Rules)
	warn := d.Warning()
	c.mu.Lock()
	prev := c.decision
	c.decision = &warn
	c.mu.Unlock()
	if (prev == nil && warn == "") || (prev != nil && (*prev == "") == (warn == "")) {
		return "", "", false
	}
	if warn == "" {
		return "ha.can_decide", fmt.Sprintf("HA can decide again: %d of %d locations voting", len(d.Voting), d.Known), true
	}
	return "ha.cannot_decide", warn + ": no failover can happen until more locations report", true
}
