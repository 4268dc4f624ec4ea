package settings

import (
	"context"
	"time"

	"larder/api"
	"larder/broker/apps"
	"larder/broker/attach"
	"larder/fault"
	"larder/provisioner"
	"larder/store"
)

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
		a, err := apps.Resolve(ctx, b.store, appName, ref)
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
	p, err := b.nodes.PlanOf(a)
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

	if p := b.pairs.WritesPaused(ctx, a); p != "" {
		info.Status, info.WritesPaused = p, p
	}
	b.sources.AddSourceInfo(ctx, &info, a)
	if a.State != api.StateProvisioned {
		info.LiveError = "the add-on is " + a.State
		return info, nil
	}
	nodes, specs, err := b.nodes.SpecsOf(ctx, b.store, a)
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
		lctx, cancel := context.WithTimeout(ctx, infoTimeout)
		info.HA, info.HAStatus = b.pairs.HAInfo(lctx, a, nodes)
		cancel()
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
