package ui

// The pages: apps, an app (its add-ons, events, the create form) and an
// add-on (status, HA, charts, actions). Each reads through the services;
// the live parts are fragments the live view reads again on a change.

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"larder/api"
	"larder/fault"
)

// appSummary is one app on the apps page.
type appSummary struct {
	api.App
	Addons []api.Addon
}

func (u *UI) appsPage(w http.ResponseWriter, r *http.Request, ss *session) {
	list, err := u.d.Apps.ListApps(r.Context())
	if err != nil {
		u.failErr(w, r, err)
		return
	}
	out := make([]appSummary, 0, len(list))
	for _, a := range list {
		addons, err := u.d.Addons.ListAppAddons(r.Context(), a.Name)
		if err != nil {
			u.failErr(w, r, err)
			return
		}
		out = append(out, appSummary{App: a, Addons: addons})
	}
	u.show(w, r, http.StatusOK, "apps", ss, layout{Title: "Apps", Page: out})
}

// appView is the app page's data; its live part is the add-ons, the
// events and the operation the page follows.
type appView struct {
	App    api.App
	Addons []addonRow
	Events []api.Event
	Plans  []api.Plan
	Op     *api.Operation
	Query  string // the page's query (?op=), which the live view keeps
	Cursor int64  // the feed's head before the page read the state
}

// addonRow is an add-on with its HA state, as the app page lists it.
type addonRow struct {
	api.Addon
	Status string
	HA     haView
}

// haView is an add-on's HA state in words: which hosts hold the primary
// and the standby, and whether the standby is in sync.
type haView struct {
	Pair             bool
	Primary, Standby string
	Sync             string // in sync, syncing, link down, rebuilding
	Lag              int64
	Epoch            int64
}

func haOf(info *api.RedisInfo) haView {
	if info == nil || info.HA == nil {
		return haView{}
	}
	h := info.HA
	v := haView{Pair: true, Primary: h.PrimaryHost, Standby: h.StandbyHost, Lag: h.LagBytes, Epoch: h.Epoch}
	switch {
	case h.Rebuilding:
		v.Sync = "rebuilding"
	case !h.LinkUp:
		v.Sync = "link down"
	case h.InSync:
		v.Sync = "in sync"
	default:
		v.Sync = "syncing"
	}
	return v
}

// maxEvents is how many events a page shows, newest first.
const maxEvents = 15

func (u *UI) appData(ctx context.Context, r *http.Request, ss *session) (appView, error) {
	name := mux.Vars(r)["app"]
	cursor, err := u.cursor(ctx, ss, name)
	if err != nil {
		return appView{}, err
	}
	app, err := u.d.Apps.GetApp(ctx, name)
	if err != nil {
		return appView{}, err
	}
	addons, err := u.d.Addons.ListAppAddons(ctx, name)
	if err != nil {
		return appView{}, err
	}
	// The add-ons change while the page reads them: one destroyed since the
	// list was read has no HA state or events left, and is shown as listed.
	infos, err := u.d.Settings.RedisInfo(ctx, name, "")
	if err != nil {
		u.d.Log.WithError(err).WithField("app", name).Debug("dashboard: redis info")
	}
	v := appView{App: app, Op: u.operation(ctx, r, ss), Query: liveQuery(r), Cursor: cursor}
	for _, a := range addons {
		row := addonRow{Addon: a, Status: a.State}
		if i := slices.IndexFunc(infos, func(i api.RedisInfo) bool { return i.Addon.ID == a.ID }); i >= 0 {
			row.HA = haOf(&infos[i])
		}
		v.Addons = append(v.Addons, row)
		evs, err := u.d.Apps.ListEvents(ctx, name, a.Name)
		if err != nil && !errors.Is(err, fault.NotFound) {
			return appView{}, err
		}
		v.Events = append(v.Events, evs...)
	}
	v.Events = newest(v.Events)
	return v, nil
}

// newest sorts events newest first and keeps maxEvents.
func newest(evs []api.Event) []api.Event {
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].CreatedAt.After(evs[j].CreatedAt) })
	return evs[:min(len(evs), maxEvents)]
}

// cursor is the app's feed head, read before the page reads the state: its
// live view follows from there, so a change made while the page loads is
// not missed.
func (u *UI) cursor(ctx context.Context, ss *session, app string) (int64, error) {
	b, err := u.d.Feed.AppChanges(ctx, waiterKey(ss), app, -1, 0)
	return b.Cursor, err
}

// operation is the operation the page follows (?op=ID), as it is now; nil
// when there is none or it cannot be read.
func (u *UI) operation(ctx context.Context, r *http.Request, ss *session) *api.Operation {
	id := r.URL.Query().Get("op")
	if id == "" {
		return nil
	}
	op, err := u.d.Feed.WaitOperation(ctx, waiterKey(ss), id, time.Time{}, 0)
	if err != nil {
		return nil
	}
	return &op
}

// liveQuery is the part of the page's query the live view passes on.
func liveQuery(r *http.Request) string {
	if id := r.URL.Query().Get("op"); id != "" {
		return "?" + url.Values{"op": {id}}.Encode()
	}
	return ""
}

func (u *UI) plans(ctx context.Context) ([]api.Plan, error) {
	svcs, err := u.d.Addons.ListServices(ctx)
	if err != nil {
		return nil, err
	}
	var out []api.Plan
	for _, s := range svcs {
		ps, err := u.d.Addons.ListPlans(ctx, s.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	return out, nil
}

func (u *UI) appPage(w http.ResponseWriter, r *http.Request, ss *session) {
	v, err := u.appData(r.Context(), r, ss)
	if err == nil {
		v.Plans, err = u.plans(r.Context())
	}
	if err != nil {
		u.failErr(w, r, err)
		return
	}
	u.show(w, r, http.StatusOK, "app", ss, layout{Title: v.App.Name, Page: v,
		Crumbs: []crumb{{"Apps", Prefix + "/"}, {v.App.Name, ""}}})
}

func (u *UI) appLive(w http.ResponseWriter, r *http.Request, ss *session) {
	v, err := u.appData(r.Context(), r, ss)
	if err != nil {
		u.failErr(w, r, err)
		return
	}
	u.render(w, http.StatusOK, "app", "live", v)
}

// addonView is the add-on page's data.
type addonView struct {
	AppName string
	Addon   api.Addon
	Info    *api.RedisInfo
	HA      haView
	Plan    api.Plan   // the add-on's plan
	Plans   []api.Plan // the plans it may change to
	Events  []api.Event
	Op      *api.Operation
	Query   string
	Cursor  int64
	Since   string
	Ranges  []string
	Charts  []chartView
	Latest  []latestRow
	Metrics string // why there are no charts, when there are none
}

// ranges are the chart ranges the add-on page offers.
var ranges = []string{"1h", "1d", "1w"}

func (u *UI) addonData(ctx context.Context, r *http.Request, ss *session) (addonView, error) {
	appName, ref := mux.Vars(r)["app"], mux.Vars(r)["addon"]
	cursor, err := u.cursor(ctx, ss, appName)
	if err != nil {
		return addonView{}, err
	}
	a, err := u.d.Addons.GetAddon(ctx, appName, ref)
	if err != nil {
		return addonView{}, err
	}
	v := addonView{AppName: appName, Addon: a, Op: u.operation(ctx, r, ss), Query: liveQuery(r), Cursor: cursor}
	if infos, err := u.d.Settings.RedisInfo(ctx, appName, a.Name); err == nil && len(infos) == 1 {
		v.Info = &infos[0]
		v.HA = haOf(v.Info)
	}
	evs, err := u.d.Apps.ListEvents(ctx, appName, a.Name)
	if err != nil {
		return addonView{}, err
	}
	v.Events = newest(evs)
	return v, nil
}

func (u *UI) addonPage(w http.ResponseWriter, r *http.Request, ss *session) {
	ctx := r.Context()
	v, err := u.addonData(ctx, r, ss)
	if err != nil {
		u.failErr(w, r, err)
		return
	}
	plans, err := u.plans(ctx)
	if err != nil {
		u.failErr(w, r, err)
		return
	}
	for _, p := range plans {
		if p.Name == v.Addon.Plan {
			v.Plan = p
		} else if planService(p.Name) == v.Addon.Service {
			v.Plans = append(v.Plans, p)
		}
	}
	v.Since, v.Ranges = r.URL.Query().Get("since"), ranges
	if !slices.Contains(ranges, v.Since) {
		v.Since = ranges[0]
	}
	if m, err := u.d.Metrics.AddonSeries(ctx, v.AppName, v.Addon.Name, v.Since); err != nil {
		v.Metrics = "The metrics could not be read: " + fault.Message(err)
	} else {
		v.Charts, v.Latest = charts(m, v.Plan.HA), latest(m)
		if len(m.Nodes) == 0 {
			v.Metrics = "No samples yet: the broker samples every node's figures every few seconds."
		}
	}
	u.show(w, r, http.StatusOK, "addon", ss, layout{Title: v.Addon.Name, Page: v,
		Crumbs: []crumb{{"Apps", Prefix + "/"}, {v.AppName, Prefix + "/apps/" + url.PathEscape(v.AppName)}, {v.Addon.Name, ""}}})
}

func (u *UI) addonLive(w http.ResponseWriter, r *http.Request, ss *session) {
	v, err := u.addonData(r.Context(), r, ss)
	if err != nil {
		u.failErr(w, r, err)
		return
	}
	u.render(w, http.StatusOK, "addon", "live", v)
}

// planService is a plan's service: "larder-redis:mini" → "larder-redis".
func planService(p string) string {
	s, _, _ := strings.Cut(p, ":")
	return s
}

// waiterKey names a session for the change feed's waiters' cap.
func waiterKey(ss *session) string { return "ui:" + ss.key[:16] }

// appEvents streams the app's change feed to the live view.
func (u *UI) appEvents(w http.ResponseWriter, r *http.Request, ss *session) {
	u.d.Changes(w, r, waiterKey(ss))
}
