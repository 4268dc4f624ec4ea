package pairs

import (
	"context"
	"sync"

	"larder/api"
	"larder/broker/attach"
	"larder/engine"
	"larder/store"
)

// HAInfo reads the pair's replication state for redis:info: where the
// standby is, whether its link is up, how far behind it is. ctx bounds the
// look-ups.
func (b *Pairs) HAInfo(ctx context.Context, a store.Addon, nodes []store.Node) (*api.HAInfo, string) {
	primary, standby, ok := pair(nodes)
	rebuilding := b.coord.Rebuilding(a.ID)
	if !ok {
		if rebuilding {
			return &api.HAInfo{Rebuilding: true, Epoch: a.Epoch}, "rebuilding the standby"
		}
		return nil, "degraded: no standby"
	}
	h := &api.HAInfo{PrimaryHost: primary.Host, StandbyHost: standby.Host, SharesHost: primary.Host == standby.Host,
		Rebuilding: rebuilding, Epoch: a.Epoch}
	lctx := ctx
	var sr, pr engine.ReplInfo
	var serr, perr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sr, serr = engine.Replication(lctx, attach.Target(a, standby))
	}()
	pr, perr = engine.Replication(lctx, attach.Target(a, primary))
	wg.Wait()
	if perr != nil {
		h.Unreachable = append(h.Unreachable, "primary "+primary.Name+" on "+primary.Host)
	}
	if serr != nil {
		h.Unreachable = append(h.Unreachable, "standby "+standby.Name+" on "+standby.Host)
	}
	h.Decision = b.tracker.Decision(b.coord.Clock().Now(), b.rules()).Warning()
	if serr == nil {
		h.LinkUp = sr.LinkUp
		h.LastIOSeconds = sr.LastIOSecondsAgo
		h.InSync = sr.InSync(engine.Endpoint{Addr: primary.Address, Port: primary.Port})
	}
	if perr == nil && serr == nil {
		h.LagBytes = max(pr.Offset-sr.Offset, 0)
		for _, r := range pr.Replicas {
			if r.Port == standby.Port {
				h.LagSeconds = r.LagSeconds
			}
		}
	}
	status := "available"
	switch {
	case perr != nil:
		status = "degraded: primary on " + primary.Host + " unreachable"
	case rebuilding:
		status = "rebuilding the standby"
	case serr != nil:
		status = "degraded: standby on " + standby.Host + " unreachable"
	case !h.InSync:
		status = "syncing: standby on " + standby.Host + " catching up"
	}
	if h.SharesHost {
		status += " (primary and standby share host " + primary.Host + ")"
	}
	return h, status
}
