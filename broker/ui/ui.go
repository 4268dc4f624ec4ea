// Package ui is larder's web dashboard, served by the broker at /ui: apps,
// their add-ons (status, plan, HA state, var names), events, metrics charts
// and the add-on actions, for an operator who logs in with the API token.
//
// It is an adapter like broker/httpapi: every read and every action goes
// through the same broker services as the API (given as small interfaces in
// Deps), so there is no second implementation of any rule. Pages are
// html/template files and the CSS and the one small script are embedded;
// charts are server-rendered SVG, so the Content-Security-Policy stays
// strict (no inline script or style, nothing from elsewhere). The live view
// follows the app's change feed (server-sent events), never a timer.
//
// The token never leaves the login form: a login starts a server-side
// session (a random id in an HttpOnly, SameSite=Strict cookie) whose CSRF
// token every form carries. Sessions are kept in the store, so every broker
// on it serves them.
package ui

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/sirupsen/logrus"

	"larder/api"
)

// Apps is what the dashboard asks of apps and their events (broker/apps).
type Apps interface {
	ListApps(ctx context.Context) ([]api.App, error)
	CreateApp(ctx context.Context, req api.AppCreate) (api.App, error)
	GetApp(ctx context.Context, app string) (api.App, error)
	ListEvents(ctx context.Context, app, addon string) ([]api.Event, error)
}

// Addons is what the dashboard asks of add-ons (the broker's Addons).
type Addons interface {
	ListAppAddons(ctx context.Context, app string) ([]api.Addon, error)
	GetAddon(ctx context.Context, app, addon string) (api.Addon, error)
	CreateAddon(ctx context.Context, app string, req api.AddonCreate) (api.AddonResult, error)
	UpgradeAddon(ctx context.Context, app, addon string, req api.AddonUpdate) (api.AddonResult, error)
	DestroyAddon(ctx context.Context, app, addon string, req api.AddonDestroy) (api.AddonResult, error)
	ListServices(ctx context.Context) ([]api.Service, error)
	ListPlans(ctx context.Context, service string) ([]api.Plan, error)
}

// Settings is what the dashboard asks of an add-on's settings: redis:info
// (HA state) and a credential rotation (whose new URL it never shows).
type Settings interface {
	RedisInfo(ctx context.Context, app, addon string) ([]api.RedisInfo, error)
	RotateCredentials(ctx context.Context, app, addon string) (api.Credentials, error)
}

// Pairs starts planned switchovers of HA add-ons (broker/pairs).
type Pairs interface {
	Failover(ctx context.Context, app, addon string) (api.AddonResult, error)
}

// Metrics reads an add-on's sampled series (broker/metrics).
type Metrics interface {
	AddonSeries(ctx context.Context, app, addon, since string) (api.Metrics, error)
}

// Feed reads the change feed (broker/changes) with zero waits: an
// operation as it is, and the app's cursor a page's live view follows from.
type Feed interface {
	WaitOperation(ctx context.Context, key, id string, since time.Time, wait time.Duration) (api.Operation, error)
	AppChanges(ctx context.Context, key, app string, cursor int64, wait time.Duration) (api.ChangeBatch, error)
}

// Deps are the broker services the dashboard uses.
type Deps struct {
	Apps     Apps
	Addons   Addons
	Settings Settings
	Pairs    Pairs
	Metrics  Metrics
	Feed     Feed
	// Changes serves an app's change feed (the API's GET
	// /apps/{app}/changes, as server-sent events), the {app} path variable
	// naming the app, with waiter as the caller's key for the waiters' cap.
	Changes func(w http.ResponseWriter, r *http.Request, waiter string)
	// Sessions keeps the sessions: the store every broker shares.
	Sessions Sessions
	// TokenMatches checks a login's token in constant time.
	TokenMatches func(token string) bool
	Log          logrus.FieldLogger
}

// Config tunes sessions and logins; zero values take the defaults.
type Config struct {
	SessionTTL  time.Duration    // how long a session lasts; default 12h
	MaxSessions int              // sessions kept at once (the oldest goes); default 1000
	LoginBurst  int              // failed logins one address may make at once; default 5
	LoginRefill time.Duration    // one more failed login allowed per; default 12s
	Now         func() time.Time // the sessions' and the limiter's clock
}

// UI is the dashboard's HTTP handler.
type UI struct {
	d        Deps
	cfg      Config
	sessions *sessions
	logins   *limiter
	views    *views
}

// New returns the dashboard over d.
func New(d Deps, cfg Config) *UI {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 1000
	}
	if cfg.LoginBurst <= 0 {
		cfg.LoginBurst = 5
	}
	if cfg.LoginRefill <= 0 {
		cfg.LoginRefill = 12 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if d.Log == nil {
		d.Log = logrus.StandardLogger()
	}
	return &UI{
		d: d, cfg: cfg,
		sessions: &sessions{repo: d.Sessions, ttl: cfg.SessionTTL, max: cfg.MaxSessions, now: cfg.Now},
		logins:   newLimiter(cfg.LoginBurst, cfg.LoginRefill, cfg.Now),
		views:    mustViews(),
	}
}

// Prefix is where the dashboard is served.
const Prefix = "/ui"

// Handler serves everything under Prefix.
func (u *UI) Handler() http.Handler {
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.notFound(w, r)
	})
	r.Use(u.secureHeaders)
	r.PathPrefix(Prefix + "/static/").Handler(staticHandler()).Methods(http.MethodGet)
	r.HandleFunc(Prefix, redirectTo(Prefix+"/")).Methods(http.MethodGet)
	r.HandleFunc(Prefix+"/login", u.loginPage).Methods(http.MethodGet)
	r.HandleFunc(Prefix+"/login", u.login).Methods(http.MethodPost)

	r.HandleFunc(Prefix+"/", u.page(u.appsPage)).Methods(http.MethodGet)
	r.HandleFunc(Prefix+"/logout", u.form(u.logout)).Methods(http.MethodPost)
	r.HandleFunc(Prefix+"/apps", u.form(u.createApp)).Methods(http.MethodPost)
	r.HandleFunc(Prefix+"/apps/{app}", u.page(u.appPage)).Methods(http.MethodGet)
	r.HandleFunc(Prefix+"/apps/{app}/live", u.page(u.appLive)).Methods(http.MethodGet)
	r.HandleFunc(Prefix+"/apps/{app}/events", u.page(u.appEvents)).Methods(http.MethodGet)
	r.HandleFunc(Prefix+"/apps/{app}/addons", u.form(u.createAddon)).Methods(http.MethodPost)
	r.HandleFunc(Prefix+"/apps/{app}/addons/{addon}", u.page(u.addonPage)).Methods(http.MethodGet)
	r.HandleFunc(Prefix+"/apps/{app}/addons/{addon}/live", u.page(u.addonLive)).Methods(http.MethodGet)
	r.HandleFunc(Prefix+"/apps/{app}/addons/{addon}/upgrade", u.form(u.upgrade)).Methods(http.MethodPost)
	r.HandleFunc(Prefix+"/apps/{app}/addons/{addon}/credentials", u.form(u.resetCredentials)).Methods(http.MethodPost)
	r.HandleFunc(Prefix+"/apps/{app}/addons/{addon}/switchover", u.form(u.switchover)).Methods(http.MethodPost)
	r.HandleFunc(Prefix+"/apps/{app}/addons/{addon}/destroy", u.form(u.destroy)).Methods(http.MethodPost)
	return r
}

func redirectTo(path string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, path, http.StatusSeeOther) }
}
