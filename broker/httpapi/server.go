// Package httpapi is larder's Heroku-style HTTP API (gorilla/mux): routes,
// request parsing, path names and status codes, as a thin adapter over the
// orchestration core in package broker. Errors get their status from
// internal/httpjson's one map.
package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/broker"
	"larder/broker/ui"
	"larder/fault"
	"larder/internal/httpjson"
)

// API is the HTTP API over a broker's core. It has one method per endpoint
// (about 55, more than a type usually should): each only reads its request
// and calls one of the core's services, and keeping them on one type keeps
// the route table in one place.
type API struct {
	b        *broker.Broker
	log      logrus.FieldLogger
	ui       ui.Config // the dashboard's sessions and logins
	listings *listings
}

// New returns the HTTP API of b, with the web dashboard at /ui.
func New(b *broker.Broker) *API {
	return &API{b: b, log: b.Log(), listings: &listings{src: b.Addons, kept: map[listingKey]*keptListing{}}}
}

// WithDashboard sets the dashboard's sessions and logins up (their
// lifetime, the login limit, the clock; tests shorten them).
func (b *API) WithDashboard(c ui.Config) *API {
	b.ui = c
	return b
}

// Handler returns the HTTP API; mount adds other APIs (the Open Service
// Broker API) on the root router.
func (b *API) Handler(mount ...func(*mux.Router)) http.Handler {
	// Paths are matched as sent: a router that cleans "a/../b" or decodes
	// "%2F" would answer with a redirect to another resource, or act on it.
	r := mux.NewRouter().SkipClean(true).UseEncodedPath()
	r.Use(decodePathVars)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkRawPath(r.URL.EscapedPath()); err != nil {
			b.writeError(w, r, err)
			return
		}
		b.writeError(w, r, fault.E(fault.NotFound, "no such endpoint: %s %s", r.Method, r.URL.EscapedPath()))
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.writeError(w, r, &fault.Error{Kind: fault.BadRequest, Message: fmt.Sprintf("method %s not allowed on %s", r.Method, r.URL.Path)})
	})

	r.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusOK, map[string]string{"status": "ok"})
	}).Methods(http.MethodGet)

	r.Handle("/metrics", b.prometheusHandler()).Methods(http.MethodGet)
	dash := b.dashboard()
	r.Handle(ui.Prefix, dash)
	r.PathPrefix(ui.Prefix + "/").Handler(dash)

	for _, m := range mount {
		m(r)
	}

	a := r.NewRoute().Subrouter()
	a.Use(b.requireToken, b.checkPathNames)
	a.HandleFunc("/apps", b.serve(b.listApps)).Methods(http.MethodGet)
	a.HandleFunc("/apps", b.serve(b.createApp)).Methods(http.MethodPost)
	a.HandleFunc("/apps/{app}", b.serve(b.getApp)).Methods(http.MethodGet)
	a.HandleFunc("/apps/{app}", b.serve(b.destroyApp)).Methods(http.MethodDelete)
	a.HandleFunc("/apps/{app}/config-vars", b.serve(b.getConfigVars)).Methods(http.MethodGet)
	a.HandleFunc("/apps/{app}/config-vars", b.serve(b.patchConfigVars)).Methods(http.MethodPatch)
	a.HandleFunc("/apps/{app}/addons", b.serve(b.listAppAddons)).Methods(http.MethodGet)
	a.HandleFunc("/apps/{app}/addons", b.serve(b.createAddon)).Methods(http.MethodPost)
	a.HandleFunc("/apps/{app}/addons/{addon}", b.serve(b.getAppAddon)).Methods(http.MethodGet)
	a.HandleFunc("/apps/{app}/addons/{addon}", b.serve(b.destroyAddon)).Methods(http.MethodDelete)
	a.HandleFunc("/apps/{app}/addons/{addon}", b.serve(b.upgradeAddon)).Methods(http.MethodPatch)
	a.HandleFunc("/apps/{app}/addons/{addon}/events", b.serve(b.listEvents)).Methods(http.MethodGet)
	a.HandleFunc("/apps/{app}/addons/{addon}/metrics", b.serve(b.addonMetrics)).Methods(http.MethodGet)
	a.HandleFunc("/apps/{app}/redis", b.serve(b.redisInfo)).Methods(http.MethodGet)
	a.HandleFunc("/apps/{app}/redis/promote", b.serve(b.promote)).Methods(http.MethodPost)
	a.HandleFunc("/apps/{app}/redis/{addon}/failover", b.serve(b.failover)).Methods(http.MethodPost)
	a.HandleFunc("/apps/{app}/redis/{addon}/follow", b.serve(b.follow)).Methods(http.MethodPost)
	a.HandleFunc("/apps/{app}/redis/{addon}/follow", b.serve(b.unfollow)).Methods(http.MethodDelete)
	a.HandleFunc("/monitor/targets", b.serve(b.monitorTargets)).Methods(http.MethodGet)
	a.HandleFunc("/monitor/observations", b.serve(b.monitorReport)).Methods(http.MethodPost)
	a.HandleFunc("/monitors", b.serve(b.listMonitors)).Methods(http.MethodGet)
	a.HandleFunc("/brokers", b.serve(b.listBrokers)).Methods(http.MethodGet)
	a.HandleFunc("/hosts", b.serve(b.listHosts)).Methods(http.MethodGet)
	a.HandleFunc("/hosts", b.serve(b.registerHost)).Methods(http.MethodPost)
	a.HandleFunc("/hosts/{host}/drain", b.serve(b.drainHost)).Methods(http.MethodPost)
	a.HandleFunc("/hosts/{host}/undrain", b.serve(b.undrainHost)).Methods(http.MethodPost)
	a.HandleFunc("/apps/{app}/redis/{addon}/config", b.serve(b.patchSettings)).Methods(http.MethodPatch)
	a.HandleFunc("/apps/{app}/redis/{addon}/credentials", b.serve(b.getCredentials)).Methods(http.MethodGet)
	a.HandleFunc("/apps/{app}/redis/{addon}/credentials_rotation", b.serve(b.rotateCredentials)).Methods(http.MethodPost)
	a.HandleFunc("/apps/{app}/redis/{addon}/wait", b.serve(b.waitStatus)).Methods(http.MethodGet)
	a.HandleFunc("/apps/{app}/redis/{addon}/access", b.serve(b.getEdgeAccess)).Methods(http.MethodGet)
	a.HandleFunc("/apps/{app}/redis/{addon}/access", b.serve(b.patchEdgeAccess)).Methods(http.MethodPatch)
	a.HandleFunc("/apps/{app}/addon-attachments", b.serve(b.listAttachments)).Methods(http.MethodGet)
	a.HandleFunc("/apps/{app}/addon-attachments/{name}", b.serve(b.detach)).Methods(http.MethodDelete)
	a.HandleFunc("/addon-attachments", b.serve(b.attach)).Methods(http.MethodPost)
	a.HandleFunc("/addons", b.serve(b.listAddons)).Methods(http.MethodGet)
	a.HandleFunc("/addons/{addon}", b.serve(b.getAddon)).Methods(http.MethodGet)
	a.HandleFunc("/operations/{id}", b.serve(b.getOperation)).Methods(http.MethodGet)
	a.HandleFunc("/apps/{app}/changes", b.getAppChanges).Methods(http.MethodGet)
	a.HandleFunc("/apps/{app}/logs", b.serve(b.getLogs)).Methods(http.MethodGet)
	a.HandleFunc("/addon-services", b.serve(b.listServices)).Methods(http.MethodGet)
	a.HandleFunc("/addon-services/{service}/plans", b.serve(b.listPlans)).Methods(http.MethodGet)
	b.backupRoutes(a)
	return b.logRequests(r)
}

// requireToken accepts `Authorization: Bearer TOKEN` or Basic auth with the
// token as password (as Heroku's API does).
func (b *API) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := ""
		if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
			got = strings.TrimPrefix(h, "Bearer ")
		} else if _, pw, ok := r.BasicAuth(); ok {
			got = pw
		}
		if got == "" {
			b.writeError(w, r, fault.E(fault.Unauthorized, "missing API token: set LARDER_API_TOKEN or run `make run` to configure the CLI"))
			return
		}
		if !b.b.TokenMatches(got) {
			b.writeError(w, r, fault.E(fault.Unauthorized, "invalid API token"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// logRequests logs method, path (never the query or body, which may hold
// secrets), status and duration.
func (b *API) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := httpjson.NewRecorder(w)
		next.ServeHTTP(sw, r)
		b.log.WithFields(logrus.Fields{
			"method": r.Method, "path": r.URL.Path, "status": sw.Status,
			"ms": time.Since(start).Milliseconds(),
		}).Debug("request")
	})
}

func (b *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	k := fault.KindOf(err)
	status := httpjson.Status(k)
	if b.b.Stopping() {
		// A client that knows other brokers asks one of them instead.
		w.Header().Set(api.StoppingHeader, "true")
	}
	if status >= 500 {
		b.log.WithError(err).WithFields(logrus.Fields{"method": r.Method, "path": r.URL.Path}).Error("request failed")
	}
	httpjson.Write(w, status, api.Error{ID: string(k), Message: fault.Message(err)})
}

// serve adapts an endpoint (its status, body and error) to net/http, with
// the broker's error body.
func (b *API) serve(fn httpjson.Endpoint) http.HandlerFunc {
	return httpjson.Serve(fn, b.writeError)
}
