package broker

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"larder/api"
	"larder/fault"
	"larder/provisioner"
	"larder/store"
)

// liveTimeout bounds how long redis:info waits for a node's figures.
const liveTimeout = 2 * time.Second

// redisInfo answers redis:info: every add-on of the app, or the one ?addon= names.
func (b *Broker) redisInfo(r *http.Request) (int, any, error) {
	ctx := r.Context()
	appName := mux.Vars(r)["app"]
	app, err := b.store.AppByName(ctx, appName)
	if err != nil {
		return 0, nil, err
	}
	var addons []store.Addon
	if ref := r.URL.Query().Get("addon"); ref != "" {
		a, err := b.resolveAddon(ctx, b.store.Q, appName, ref)
		if err != nil {
			return 0, nil, err
		}
		addons = []store.Addon{a}
	} else if addons, err = b.store.AddonsOfApp(ctx, app.ID); err != nil {
		return 0, nil, err
	}
	out := make([]api.RedisInfo, 0, len(addons))
	for _, a := range addons {
		info, err := b.infoOf(ctx, app, a)
		if err != nil {
			return 0, nil, err
		}
		out = append(out, info)
	}
	return http.StatusOK, out, nil
}

func (b *Broker) infoOf(ctx context.Context, app store.App, a store.Addon) (api.RedisInfo, error) {
	p, err := b.planOf(a)
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
			info.ConfigVars = append(info.ConfigVars, attachmentVars(at.Name)...)
		}
	}
	if p.Persistence {
		info.Persistence = "AOF (appendfsync everysec)"
	}

	if p := b.writesPaused(ctx, a); p != "" {
		info.Status, info.WritesPaused = p, p
	}
	b.addSourceInfo(ctx, &info, a)
	if a.State != api.StateProvisioned {
		info.LiveError = "the add-on is " + a.State
		return info, nil
	}
	nodes, specs, err := b.specsOf(ctx, b.store.Q, a)
	if err != nil {
		return api.RedisInfo{}, err
	}
	if p.HA {
		info.HA, info.HAStatus = b.haInfo(ctx, a, nodes)
	}
	for i, n := range nodes {
		if n.Role != store.RolePrimary {
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, liveTimeout)
		ni, err := b.hostFor(n).Info(lctx, specs[i])
		cancel()
		if err != nil {
			info.LiveError = fault.Message(fault.Wrap(fault.Unavailable, err, "the node did not answer"))
			return info, nil
		}
		info.Live = true
		info.MemoryUsedBytes = ni.UsedMemoryBytes
		info.Clients = ni.ConnectedClients
		if ni.Version != "" {
			info.Version = ni.Version
		}
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
func (b *Broker) haInfo(ctx context.Context, a store.Addon, nodes []store.Node) (*api.HAInfo, string) {
	primary, standby, ok := pair(nodes)
	rebuilding := b.recon.isRebuilding(a.ID)
	if !ok {
		if rebuilding {
			return &api.HAInfo{Rebuilding: true, Epoch: a.Epoch}, "rebuilding the standby"
		}
		return nil, "degraded: no standby"
	}
	h := &api.HAInfo{PrimaryHost: primary.Host, StandbyHost: standby.Host, SharesHost: primary.Host == standby.Host,
		Rebuilding: rebuilding, Epoch: a.Epoch}
	lctx, cancel := context.WithTimeout(ctx, liveTimeout)
	defer cancel()
	sr, serr := provisioner.Replication(lctx, target(a, standby))
	pr, perr := provisioner.Replication(lctx, target(a, primary))
	if serr == nil {
		h.LinkUp = sr.LinkUp
		h.LastIOSeconds = sr.LastIOSecondsAgo
		h.InSync = sr.InSync(provisioner.Endpoint{Addr: primary.Address, Port: primary.Port})
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
