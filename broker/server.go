package broker

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/fault"
	"larder/internal/httpjson"
)

// maxBody bounds request bodies; larder's requests are small.
const maxBody = 1 << 20

// Handler returns the broker's HTTP API.
func (b *Broker) Handler() http.Handler {
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

	b.osbRoutes(r) // Open Service Broker API under /v2, with its own Basic auth

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
	a.HandleFunc("/apps/{app}/redis", b.serve(b.redisInfo)).Methods(http.MethodGet)
	a.HandleFunc("/apps/{app}/redis/promote", b.serve(b.promote)).Methods(http.MethodPost)
	a.HandleFunc("/apps/{app}/redis/{addon}/failover", b.serve(b.failover)).Methods(http.MethodPost)
	a.HandleFunc("/apps/{app}/redis/{addon}/follow", b.serve(b.follow)).Methods(http.MethodPost)
	a.HandleFunc("/apps/{app}/redis/{addon}/follow", b.serve(b.unfollow)).Methods(http.MethodDelete)
	a.HandleFunc("/monitor/targets", b.serve(b.monitorTargets)).Methods(http.MethodGet)
	a.HandleFunc("/monitor/observations", b.serve(b.monitorReport)).Methods(http.MethodPost)
	a.HandleFunc("/monitors", b.serve(b.listMonitors)).Methods(http.MethodGet)
	a.HandleFunc("/hosts", b.serve(b.listHosts)).Methods(http.MethodGet)
	a.HandleFunc("/hosts", b.serve(b.registerHost)).Methods(http.MethodPost)
	a.HandleFunc("/hosts/{host}/drain", b.serve(b.drainHost)).Methods(http.MethodPost)
	a.HandleFunc("/hosts/{host}/undrain", b.serve(b.undrainHost)).Methods(http.MethodPost)
	a.HandleFunc("/apps/{app}/redis/{addon}/config", b.serve(b.patchSettings)).Methods(http.MethodPatch)
	a.HandleFunc("/apps/{app}/redis/{addon}/credentials", b.serve(b.getCredentials)).Methods(http.MethodGet)
	a.HandleFunc("/apps/{app}/redis/{addon}/credentials_rotation", b.serve(b.rotateCredentials)).Methods(http.MethodPost)
	a.HandleFunc("/apps/{app}/redis/{addon}/wait", b.serve(b.waitStatus)).Methods(http.MethodGet)
	a.HandleFunc("/apps/{app}/addon-attachments", b.serve(b.listAttachments)).Methods(http.MethodGet)
	a.HandleFunc("/apps/{app}/addon-attachments/{name}", b.serve(b.detach)).Methods(http.MethodDelete)
	a.HandleFunc("/addon-attachments", b.serve(b.attach)).Methods(http.MethodPost)
	a.HandleFunc("/addons", b.serve(b.listAddons)).Methods(http.MethodGet)
	a.HandleFunc("/addons/{addon}", b.serve(b.getAddon)).Methods(http.MethodGet)
	a.HandleFunc("/operations/{id}", b.serve(b.getOperation)).Methods(http.MethodGet)
	a.HandleFunc("/apps/{app}/changes", b.getAppChanges).Methods(http.MethodGet)
	a.HandleFunc("/addon-services", b.serve(b.listServices)).Methods(http.MethodGet)
	a.HandleFunc("/addon-services/{service}/plans", b.serve(b.listPlans)).Methods(http.MethodGet)
	return b.logRequests(r)
}

// requireToken accepts `Authorization: Bearer TOKEN` or Basic auth with the
// token as password (as Heroku's API does).
func (b *Broker) requireToken(next http.Handler) http.Handler {
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
		if subtle.ConstantTimeCompare([]byte(got), []byte(b.cfg.Token)) != 1 {
			b.writeError(w, r, fault.E(fault.Unauthorized, "invalid API token"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// logRequests logs method, path (never the query or body, which may hold
// secrets), status and duration.
func (b *Broker) logRequests(next http.Handler) http.Handler {
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

func (b *Broker) writeError(w http.ResponseWriter, r *http.Request, err error) {
	k := fault.KindOf(err)
	status := httpjson.Status(k)
	if status >= 500 {
		b.log.WithError(err).WithFields(logrus.Fields{"method": r.Method, "path": r.URL.Path}).Error("request failed")
	}
	httpjson.Write(w, status, api.Error{ID: string(k), Message: fault.Message(err)})
}

// serve adapts an endpoint (its status, body and error) to net/http, with
// the broker's error body.
func (b *Broker) serve(fn httpjson.Endpoint) http.HandlerFunc {
	return httpjson.Serve(fn, b.writeError)
}

// decodeBody reads a JSON body into v. An empty body leaves v as it is when
// optional; malformed JSON is a BadRequest that says where it broke.
func decodeBody(r *http.Request, v any, optional bool) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return fault.Wrap(fault.BadRequest, err, "could not read the request body")
	}
	if len(data) > maxBody {
		return fault.E(fault.BadRequest, "request body larger than %d bytes", maxBody)
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		if optional {
			return nil
		}
		return fault.E(fault.BadRequest, "a JSON request body is required")
	}
	if err := json.Unmarshal(data, v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return fault.E(fault.BadRequest, "malformed JSON at byte %d: %v", se.Offset, se)
		case errors.As(err, &te):
			return fault.E(fault.BadRequest, "malformed JSON: field %q must be %s, not %s", te.Field, te.Type, te.Value)
		}
		return fault.E(fault.BadRequest, "malformed JSON: %v", err)
	}
	return nil
}
