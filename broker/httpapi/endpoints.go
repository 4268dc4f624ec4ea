package httpapi

// The endpoints: each reads its request (path names, query, JSON body),
// asks the core, and answers with its status.

import (
	"net/http"

	"github.com/gorilla/mux"

	"larder/api"
	"larder/internal/httpjson"
)

func (b *API) rotateCredentials(r *http.Request) (int, any, error) {
	out, err := b.b.Settings.RotateCredentials(r.Context(), mux.Vars(r)["app"], mux.Vars(r)["addon"])
	return http.StatusOK, out, err
}

func (b *API) listApps(r *http.Request) (int, any, error) {
	out, err := b.b.Apps.ListApps(r.Context())
	return http.StatusOK, out, err
}

func (b *API) createApp(r *http.Request) (int, any, error) {
	var req api.AppCreate
	if err := httpjson.Decode(r, &req, false); err != nil {
		return 0, nil, err
	}
	out, err := b.b.Apps.CreateApp(r.Context(), req)
	return http.StatusCreated, out, err
}

func (b *API) getApp(r *http.Request) (int, any, error) {
	out, err := b.b.Apps.GetApp(r.Context(), mux.Vars(r)["app"])
	return http.StatusOK, out, err
}

func (b *API) destroyApp(r *http.Request) (int, any, error) {
	return http.StatusNoContent, nil, b.b.Apps.DestroyApp(r.Context(), mux.Vars(r)["app"])
}

func (b *API) getConfigVars(r *http.Request) (int, any, error) {
	out, err := b.b.Apps.GetConfigVars(r.Context(), mux.Vars(r)["app"])
	return http.StatusOK, out, err
}

func (b *API) patchConfigVars(r *http.Request) (int, any, error) {
	var patch api.ConfigPatch
	if err := httpjson.Decode(r, &patch, false); err != nil {
		return 0, nil, err
	}
	out, err := b.b.Apps.PatchConfigVars(r.Context(), mux.Vars(r)["app"], patch)
	return http.StatusOK, out, err
}

func (b *API) getAddon(r *http.Request) (int, any, error) {
	out, err := b.b.Addons.GetAddon(r.Context(), "", mux.Vars(r)["addon"])
	return http.StatusOK, out, err
}

func (b *API) getAppAddon(r *http.Request) (int, any, error) {
	out, err := b.b.Addons.GetAddon(r.Context(), mux.Vars(r)["app"], mux.Vars(r)["addon"])
	return http.StatusOK, out, err
}

func (b *API) createAddon(r *http.Request) (int, any, error) {
	var req api.AddonCreate
	if err := httpjson.Decode(r, &req, false); err != nil {
		return 0, nil, err
	}
	out, err := b.b.Addons.CreateAddon(r.Context(), mux.Vars(r)["app"], req)
	return http.StatusAccepted, out, err
}

func (b *API) destroyAddon(r *http.Request) (int, any, error) {
	var req api.AddonDestroy
	if err := httpjson.Decode(r, &req, true); err != nil {
		return 0, nil, err
	}
	out, err := b.b.Addons.DestroyAddon(r.Context(), mux.Vars(r)["app"], mux.Vars(r)["addon"], req)
	return http.StatusAccepted, out, err
}

func (b *API) listServices(r *http.Request) (int, any, error) {
	out, err := b.b.Addons.ListServices(r.Context())
	return http.StatusOK, out, err
}

func (b *API) listPlans(r *http.Request) (int, any, error) {
	out, err := b.b.Addons.ListPlans(r.Context(), mux.Vars(r)["service"])
	return http.StatusOK, out, err
}

func (b *API) failover(r *http.Request) (int, any, error) {
	out, err := b.b.Pairs.Failover(r.Context(), mux.Vars(r)["app"], mux.Vars(r)["addon"])
	return http.StatusAccepted, out, err
}

func (b *API) patchSettings(r *http.Request) (int, any, error) {
	var p api.SettingsPatch
	if err := httpjson.Decode(r, &p, false); err != nil {
		return 0, nil, err
	}
	out, err := b.b.Settings.PatchSettings(r.Context(), mux.Vars(r)["app"], mux.Vars(r)["addon"], p)
	return http.StatusOK, out, err
}

func (b *API) getCredentials(r *http.Request) (int, any, error) {
	out, err := b.b.Settings.GetCredentials(r.Context(), mux.Vars(r)["app"], mux.Vars(r)["addon"])
	return http.StatusOK, out, err
}

func (b *API) waitStatus(r *http.Request) (int, any, error) {
	out, err := b.b.Settings.WaitStatus(r.Context(), mux.Vars(r)["app"], mux.Vars(r)["addon"])
	return http.StatusOK, out, err
}

func (b *API) redisInfo(r *http.Request) (int, any, error) {
	out, err := b.b.Settings.RedisInfo(r.Context(), mux.Vars(r)["app"], r.URL.Query().Get("addon"))
	return http.StatusOK, out, err
}

func (b *API) listAttachments(r *http.Request) (int, any, error) {
	out, err := b.b.Apps.ListAttachments(r.Context(), mux.Vars(r)["app"])
	return http.StatusOK, out, err
}

func (b *API) attach(r *http.Request) (int, any, error) {
	var req api.AttachmentCreate
	if err := httpjson.Decode(r, &req, false); err != nil {
		return 0, nil, err
	}
	out, err := b.b.Apps.Attach(r.Context(), req)
	return http.StatusCreated, out, err
}

func (b *API) detach(r *http.Request) (int, any, error) {
	out, err := b.b.Apps.Detach(r.Context(), mux.Vars(r)["app"], mux.Vars(r)["name"])
	return http.StatusOK, out, err
}

func (b *API) promote(r *http.Request) (int, any, error) {
	var req api.Promote
	if err := httpjson.Decode(r, &req, false); err != nil {
		return 0, nil, err
	}
	out, err := b.b.Apps.Promote(r.Context(), mux.Vars(r)["app"], req)
	return http.StatusOK, out, err
}

func (b *API) registerHost(r *http.Request) (int, any, error) {
	var req api.HostRegister
	if err := httpjson.Decode(r, &req, false); err != nil {
		return 0, nil, err
	}
	out, err := b.b.Hosts.RegisterHost(r.Context(), req)
	return http.StatusCreated, out, err
}

func (b *API) listHosts(r *http.Request) (int, any, error) {
	out, err := b.b.Hosts.ListHosts(r.Context())
	return http.StatusOK, out, err
}

func (b *API) listBrokers(r *http.Request) (int, any, error) {
	out, err := b.b.Brokers(r.Context())
	return http.StatusOK, out, err
}

func (b *API) drainHost(r *http.Request) (int, any, error) {
	out, err := b.b.Hosts.DrainHost(r.Context(), mux.Vars(r)["host"])
	return http.StatusAccepted, out, err
}

func (b *API) undrainHost(r *http.Request) (int, any, error) {
	out, err := b.b.Hosts.UndrainHost(r.Context(), mux.Vars(r)["host"])
	return http.StatusOK, out, err
}

func (b *API) monitorTargets(r *http.Request) (int, any, error) {
	out, err := b.b.Pairs.MonitorTargets(r.Context())
	return http.StatusOK, out, err
}

func (b *API) monitorReport(r *http.Request) (int, any, error) {
	var rep api.MonitorReport
	if err := httpjson.Decode(r, &rep, false); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, b.b.Pairs.MonitorReport(r.Context(), rep)
}

func (b *API) listMonitors(r *http.Request) (int, any, error) {
	out, err := b.b.Pairs.ListMonitors(r.Context())
	return http.StatusOK, out, err
}

func (b *API) follow(r *http.Request) (int, any, error) {
	var req api.FollowRequest
	if err := httpjson.Decode(r, &req, false); err != nil {
		return 0, nil, err
	}
	out, err := b.b.Addons.Follow(r.Context(), mux.Vars(r)["app"], mux.Vars(r)["addon"], req)
	return http.StatusOK, out, err
}

func (b *API) unfollow(r *http.Request) (int, any, error) {
	out, err := b.b.Addons.Unfollow(r.Context(), mux.Vars(r)["app"], mux.Vars(r)["addon"])
	return http.StatusOK, out, err
}

func (b *API) listEvents(r *http.Request) (int, any, error) {
	out, err := b.b.Apps.ListEvents(r.Context(), mux.Vars(r)["app"], mux.Vars(r)["addon"])
	return http.StatusOK, out, err
}

func (b *API) upgradeAddon(r *http.Request) (int, any, error) {
	var req api.AddonUpdate
	if err := httpjson.Decode(r, &req, false); err != nil {
		return 0, nil, err
	}
	out, err := b.b.Addons.UpgradeAddon(r.Context(), mux.Vars(r)["app"], mux.Vars(r)["addon"], req)
	return http.StatusAccepted, out, err
}
