package pairs

import (
	"context"

	"larder/api"
	"larder/store"
)

// noteDecision records on every HA add-on, as an event, when the observers
// can no longer decide a failover (too few locations voting) and when they
// can again: on a change, not every tick. The first look waits until the
// locations had time to report after the broker started.
func (r *reconciler) noteDecision(ctx context.Context, byAddon map[string][]store.Node) {
	kind, msg, changed := r.b.coord.DecisionChange()
	if !changed {
		return
	}
	r.log.WithField("event", kind).Warn(msg)
	for id := range byAddon {
		a, err := r.b.store.AddonByID(ctx, id)
		if err != nil || a.State != api.StateProvisioned {
			continue
		}
		if p, err := r.b.nodes.PlanOf(a); err != nil || !p.HA {
			continue
		}
		if err := r.b.store.AddEvent(ctx, a.ID, a.Name, kind, msg); err != nil {
			r.log.WithError(err).Warn("record event")
		}
	}
}
