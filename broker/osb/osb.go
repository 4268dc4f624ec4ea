// Package osb is the Open Service Broker API v2.17 of larder, a thin adapter
// over its service in package broker/osbsvc, so that Cloud Foundry, the Kubernetes service
// catalog and other platforms use larder as they use any broker. An instance is
// an ordinary add-on (owned by an app derived from the platform's org/space or
// namespace) and a binding is an engine user of that add-on with its own
// password, so unbinding revokes exactly one binding's access.
//
// The API lives under /v2 with its own Basic auth and its own error format
// ({"error": "CamelCase", "description": "…"}); this file holds that plumbing.
package osb

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gorilla/mux"
	"github.com/sirupsen/logrus"

	"larder/broker"
	"larder/broker/osbsvc"
	"larder/fault"
	"larder/internal/httpjson"
)

// The OSB headers.
const (
	osbVersionHeader  = "X-Broker-API-Version"
	osbIdentityHeader = "X-Broker-API-Originating-Identity"
	osbRequestHeader  = "X-Broker-API-Request-Identity"
)

// osbRetryAfter is the Retry-After of a last_operation still in progress:
// most operations take a second or two.
const osbRetryAfter = "2"

// API is the Open Service Broker API over a broker's core.
type API struct {
	b   *broker.Broker
	cfg osbsvc.Config
	log logrus.FieldLogger
}

// New returns the OSB API of b.
func New(b *broker.Broker) *API {
	return &API{b: b, cfg: b.OSB.Config(), log: b.Log()}
}

// Routes registers the OSB endpoints on r (the root router: they carry
// their own auth, not the API token).
func (o *API) Routes(r *mux.Router) {
	v2 := r.PathPrefix("/v2").Subrouter()
	v2.Use(o.gate)
	v2.HandleFunc("/catalog", o.serve(o.catalog)).Methods(http.MethodGet)
	const instance = "/service_instances/{instance_id}"
	v2.HandleFunc(instance, o.serve(o.provision)).Methods(http.MethodPut)
	v2.HandleFunc(instance, o.serve(o.getInstance)).Methods(http.MethodGet)
	v2.HandleFunc(instance, o.serve(o.update)).Methods(http.MethodPatch)
	v2.HandleFunc(instance, o.serve(o.deprovision)).Methods(http.MethodDelete)
	v2.HandleFunc(instance+"/last_operation", o.serve(o.instanceLastOperation)).Methods(http.MethodGet)
	const binding = instance + "/service_bindings/{binding_id}"
	v2.HandleFunc(binding, o.serve(o.bind)).Methods(http.MethodPut)
	v2.HandleFunc(binding, o.serve(o.getBinding)).Methods(http.MethodGet)
	v2.HandleFunc(binding, o.serve(o.unbind)).Methods(http.MethodDelete)
	v2.HandleFunc(binding+"/last_operation", o.serve(o.bindingLastOperation)).Methods(http.MethodGet)
}

// osbServe adapts an OSB handler, which returns its status, body and error
// like the rest of the API, to net/http: errors get the OSB error body, and
// a last operation still in progress says when to poll again.
func (o *API) serve(fn httpjson.Endpoint) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		status, body, err := fn(r)
		if err != nil {
			o.writeError(w, r, err)
			return
		}
		if lo, ok := body.(osbLastOperationBody); ok && lo.State == osbInProgress {
			w.Header().Set("Retry-After", osbRetryAfter)
		}
		httpjson.Reply(w, status, body)
	}
}

// osbGate runs before every OSB handler: it echoes the request identity, then
// checks Basic auth (401), the API version (412) and the form of the
// originating identity (400).
func (o *API) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get(osbRequestHeader); id != "" && len(id) <= 256 {
			w.Header().Set(osbRequestHeader, id)
		}
		if !o.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="larder service broker"`)
			o.writeError(w, r, osbErr(http.StatusUnauthorized, "Unauthorized",
				"missing or wrong Basic auth credentials for the service broker API"))
			return
		}
		if err := checkAPIVersion(r.Header.Get(osbVersionHeader)); err != nil {
			o.writeError(w, r, err)
			return
		}
		if _, err := originOf(r); err != nil {
			o.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// osbAuthorized compares both user and password in constant time. Without a
// configured password nobody gets in.
func (o *API) authorized(r *http.Request) bool {
	c := o.cfg
	user, pw, ok := r.BasicAuth()
	if !ok || c.Password == "" {
		return false
	}
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(c.Username)) == 1
	pwOK := subtle.ConstantTimeCompare([]byte(pw), []byte(c.Password)) == 1
	return userOK && pwOK
}

// osbError is an answer in the OSB error format: a status, an error code (one
// CamelCase word; the spec's own for the cases it names) and a description
// for users, never holding a secret.
type osbError struct {
	status int
	code   string
	desc   string
}

func (e *osbError) Error() string { return e.desc }

func osbErr(status int, code, format string, args ...any) error {
	return &osbError{status: status, code: code, desc: fmt.Sprintf(format, args...)}
}

// The 422 errors the spec names.
func asyncRequired() error {
	return osbErr(http.StatusUnprocessableEntity, "AsyncRequired",
		"this request can only be completed asynchronously; retry with accepts_incomplete=true")
}

func concurrencyError(format string, args ...any) error {
	return osbErr(http.StatusUnprocessableEntity, "ConcurrencyError", format, args...)
}

// osbStatus is the OSB status and error code of an error of kind k: the
// status of httpjson's one map, but 400 where larder's own API answers 422
// (OSB keeps 422 for the errors the spec names, such as AsyncRequired). The
// code is the status text in one CamelCase word ("NotFound").
func osbStatus(k fault.Kind) (int, string) {
	status := httpjson.Status(k)
	if status == http.StatusUnprocessableEntity {
		status = http.StatusBadRequest
	}
	return status, strings.ReplaceAll(http.StatusText(status), " ", "")
}

// gone answers 410 with an empty object, as the spec asks of deletes of
// things that do not exist.
func gone() (int, any, error) { return http.StatusGone, struct{}{}, nil }

type osbErrorBody struct {
	Error       string `json:"error"`
	Description string `json:"description"`
}

// toOSBError turns any error into the OSB answer it gets.
func toOSBError(err error) *osbError {
	var oe *osbError
	var refused *osbsvc.Refusal
	if errors.As(err, &refused) {
		return &osbError{status: http.StatusUnprocessableEntity, code: refused.Code, desc: refused.Message}
	}
	if !errors.As(err, &oe) {
		status, code := osbStatus(fault.KindOf(err))
		oe = &osbError{status: status, code: code, desc: fault.Message(err)}
	}
	return oe
}

func (o *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	oe := toOSBError(err)
	if oe.status >= 500 {
		o.log.WithError(err).WithFields(logrus.Fields{
			"method": r.Method, "path": r.URL.Path, "request": r.Header.Get(osbRequestHeader),
		}).Error("service broker request failed")
	}
	httpjson.Write(w, oe.status, osbErrorBody{Error: oe.code, Description: oe.desc})
}
