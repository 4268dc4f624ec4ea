package broker

import (
	"context"
	"sync"
	"time"

	"larder/api"
	"larder/broker/attach"
	"larder/engine"
	"larder/fault"
	"larder/provisioner"
	"larder/store"
)

// liveTimeout bounds how long the broker waits for a node's figures.
const liveTimeout = 2 * time.Second

// infoTimeout bounds every remote look-up of redis:info. They run at the
// same time, so an unreachable host costs the answer this much, once.
const infoTimeout = time.Second

// redisInfo answers redis:info: every add-on of the app, or the one ?addon= names.
func (b *Settings) RedisInfo(ctx context.Context, appName, addonRef string) ([]api.RedisInfo, error) {
	app, err := b.store.AppByName(ctx, appName)
	if err != nil {
		return nil, err
	}
	var addons []store.Addon
	if ref := addonRef; ref != "" {
		a, err := b.addons.resolveAddon(ctx, b.store, appName, ref)
		if err != nil {
			return nil, err
		}
		addons = []store.Addon{a}
	} else if addons, err = b.store.AddonsOfApp(ctx, app.ID); err != nil {
		return nil, err
	}
	out := make([]api.RedisInfo, 0, len(addons))
	for _, a := range addons {
		info, err := b.infoOf(ctx, app, a)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

func (b *Settings) infoOf(ctx context.Context, app store.App, a store.Addon) (api.RedisInfo, error) {
	p, err := b.nodes.planOf(a)
	if err != nil {
		return api.RedisInfo{}, err
	}
	atts, err := b.store.AttachmentsOfAddon(ctx, a.ID)
	if err != nil {
		return api.RedisInfo{}, err
	}
	info := api.RedisInfo{
		Addon: api.Ref{ID: a.ID, Name: a.Name}, App: api.Ref{ID: a.AppID, Name: a.AppName},
		ConfigVars: []string{}, Plan: a.Service + ":" + a.Plan, Status: statusText(a), CreatedAt: a.CreatedAt,
		Engine: a.Engine, Version: a.EngineVersion,
		Settings:         api.Settings{MaxMemoryPolicy: a.MaxMemoryPolicy, Timeout: a.Timeout, NotifyKeyspaceEvents: a.NotifyKeyspaceEvents},
		Persistence:      "None",
		HAStatus:         "None (single node)",
		MemoryLimitBytes: p.MaxMemoryBytes, ClientsLimit: p.MaxClients,
	}
	for _, at := range atts {
		if at.AppID == app.ID {
			info.ConfigVars = append(info.ConfigVars, attach.Vars(at.Name)...)
		}
	}
	if p.Persistence {
		info.Persistence = "AOF (appendfsync everysec)"
	}

	if p := b.pairs.writesPaused(ctx, a); p != "" {
		info.Status, info.WritesPaused = p, p
	}
	b.addons.addSourceInfo(ctx, &info, a)
	if a.State != api.StateProvisioned {
		info.LiveError = "the add-on is " + a.State
		return info, nil
	}
	nodes, specs, err := b.nodes.specsOf(ctx, b.store, a)
	if err != nil {
		return api.RedisInfo{}, err
	}
	// The primary's figures are read while the pair's state is.
	type live struct {
		ni   provisioner.NodeInfo
		err  error
		host string
	}
	var figures chan live
	for i, n := range nodes {
		if n.Role != store.RolePrimary {
			continue
		}
		figures = make(chan live, 1)
		go func(n store.Node, spec provisioner.NodeSpec) {
			lctx, cancel := context.WithTimeout(ctx, infoTimeout)
			defer cancel()
			ni, err := b.hosts.Of(n).Info(lctx, spec)
			figures <- live{ni, err, n.Host}
		}(n, specs[i])
		break
	}
	if p.HA {
		info.HA, info.HAStatus = b.haInfo(ctx, a, nodes)
	}
	if figures == nil {
		return info, nil
	}
	l := <-figures
	if l.err != nil {
		info.LiveError = fault.Message(fault.Wrap(fault.Unavailable, l.err, "the primary's host "+l.host+" did not answer within "+infoTimeout.String()))
		return info, nil
	}
	info.Live = true
	info.MemoryUsedBytes = l.ni.UsedMemoryBytes
	info.Clients = l.ni.ConnectedClients
	if l.ni.Version != "" {
		info.Version = l.ni.Version
	}
	return info, nil
}

// statusText is the add-on state as redis:info shows it.
func statusText(a store.Addon) string {
	switch a.State {
	case api.StateProvisioned:
		return "available"
	case api.StateFailed:
		return "failed: " + a.StateReason
	}
	return a.State
}

// haInfo reads the pair's replication state: where the standby is, whether
// its link is up, how far behind it is.
func (b *Settings) haInfo(ctx context.Context, a store.Addon, nodes []store.Node) (*api.HAInfo, string) {
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
	lctx, cancel := context.WithTimeout(ctx, infoTimeout)
	defer cancel()
	var sr, pr engine.ReplInfo
	var serr, perr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sr, serr = engine.Replication(lctx, target(a, standby))
	}()
	pr, perr = engine.Replication(lctx, target(a, primary))
	wg.Wait()
	if perr != nil {
		h.Unreachable = append(h.Unreachable, "primary "+primary.Name+" on "+primary.Host)
	}
	if serr != nil {
		h.Unreachable = append(h.Unreachable, "standby "+standby.Name+" on "+standby.Host)
	}
	h.Decision = b.tracker.Decision(b.coord.Clock().Now(), b.pairs.rules()).Warning()
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
