package agent

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"larder/engine"
	"larder/fault"
	"larder/internal/httpjson"
	"larder/provisioner"
	"larder/provisioner/local"
)

// maxAgentBody bounds a request body: a spec with many binding users is a
// few kilobytes.
const maxAgentBody = 1 << 20

// eventsPage is the answer of GET /v1/events.
type eventsPage struct {
	Boot   string     `json:"boot"`   // the ring's id; changes when the agent restarts
	Events []seqEvent `json:"events"` // after the cursor, oldest first
	Last   uint64     `json:"last"`   // the cursor to ask after next time
	// Dropped counts events after the cursor the ring no longer holds (the
	// broker was away for longer than the ring lasts).
	Dropped uint64 `json:"dropped"`
	// Reset says the cursor belonged to another boot, so the page starts at
	// the beginning of this one.
	Reset bool `json:"reset"`
}

// disconnectRequest is the body of POST /v1/nodes/{id}/disconnect.
type disconnectRequest struct {
	Spec provisioner.NodeSpec `json:"spec"`
	User string               `json:"user"`
}

// logsRequest is the body of POST /v1/nodes/{id}/logs.
type logsRequest struct {
	Spec    provisioner.NodeSpec   `json:"spec"`
	Request provisioner.LogRequest `json:"request"`
}

// portAnswer is the answer of GET /v1/ports/{port}.
type portAnswer struct {
	Free bool `json:"free"`
}

// agentError is the body of every error answer.
type agentError struct {
	ID      string `json:"id"`
	Message string `json:"message"`
	Detail  string `json:"detail,omitempty"`
}

type agent struct {
	h      *local.Host
	events *EventRing
	token  [sha256.Size]byte
	open   bool // a token was configured; without one every request is refused
	log    logrus.FieldLogger
}

// NewHandler serves h over the agent API, what `larder agent` serves and
// RemoteHost calls: every Host method as JSON over HTTP.
//
//	GET  /v1/status                     → HostStatus
//	GET  /v1/ports/{port}               → {"free": bool}
//	GET  /v1/events?after=SEQ&boot=ID   → {"boot", "events": [{"seq", "event"}], "last", "dropped", "reset"}
//	POST /v1/nodes/{id}/start           NodeSpec → Node
//	POST /v1/nodes/{id}/adopt           NodeSpec → Node
//	POST /v1/nodes/{id}/stop            → 204
//	POST /v1/nodes/{id}/remove          NodeSpec → 204
//	POST /v1/nodes/{id}/quarantine      NodeSpec → 204
//	POST /v1/nodes/{id}/info            NodeSpec → NodeInfo
//	POST /v1/nodes/{id}/reconfigure     NodeSpec → 204
//	POST /v1/nodes/{id}/disconnect      {"spec": NodeSpec, "user": NAME} → 204
//	POST /v1/nodes/{id}/role            NodeSpec → 204 (409 under an older epoch than the node's)
//	POST /v1/nodes/{id}/logs            {"spec": NodeSpec, "request": LogRequest} → LogChunk (a long-poll up to request.wait)
//
// Every request needs "Authorization: Bearer TOKEN" (compared in constant
// time; an empty token refuses everything). Specs hold passwords, so they
// travel in bodies, never in URLs, and are never logged. Errors are
// {"id": fault kind, "message": public text, "detail": the full error, for
// the broker's logs}, so the client rebuilds the same fault.
//
// events must be the ring h's OnEvent feeds (see EventRing); nil serves an
// empty log.
func NewHandler(h *local.Host, events *EventRing, token string, log logrus.FieldLogger) http.Handler {
	if events == nil {
		events = NewEventRing(1)
	}
	if log == nil {
		log = logrus.StandardLogger()
	}
	a := &agent{h: h, events: events, token: sha256.Sum256([]byte(token)), open: token != "",
		log: log.WithField("host", h.Name())}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", a.status)
	mux.HandleFunc("GET /v1/ports/{port}", a.portFree)
	mux.HandleFunc("GET /v1/events", a.eventLog)
	mux.HandleFunc("POST /v1/nodes/{id}/start", a.withSpec(func(ctx context.Context, s provisioner.NodeSpec) (any, error) {
		return h.Start(ctx, s)
	}))
	mux.HandleFunc("POST /v1/nodes/{id}/adopt", a.withSpec(func(ctx context.Context, s provisioner.NodeSpec) (any, error) {
		return h.Adopt(ctx, s)
	}))
	mux.HandleFunc("POST /v1/nodes/{id}/remove", a.withSpec(func(ctx context.Context, s provisioner.NodeSpec) (any, error) {
		return nil, h.Remove(ctx, s)
	}))
	mux.HandleFunc("POST /v1/nodes/{id}/quarantine", a.withSpec(func(ctx context.Context, s provisioner.NodeSpec) (any, error) {
		return nil, h.Quarantine(ctx, s)
	}))
	mux.HandleFunc("POST /v1/nodes/{id}/info", a.withSpec(func(ctx context.Context, s provisioner.NodeSpec) (any, error) {
		return h.Info(ctx, s)
	}))
	mux.HandleFunc("POST /v1/nodes/{id}/reconfigure", a.withSpec(func(ctx context.Context, s provisioner.NodeSpec) (any, error) {
		return nil, h.Reconfigure(ctx, s)
	}))
	mux.HandleFunc("POST /v1/nodes/{id}/role", a.withSpec(func(ctx context.Context, s provisioner.NodeSpec) (any, error) {
		return nil, h.SetRole(ctx, s)
	}))
	mux.HandleFunc("POST /v1/nodes/{id}/stop", a.stop)
	mux.HandleFunc("POST /v1/nodes/{id}/disconnect", nodeRoute(a, func(b disconnectRequest) provisioner.NodeSpec { return b.Spec },
		func(ctx context.Context, b disconnectRequest) (any, error) {
			return nil, h.DisconnectUser(ctx, b.Spec, b.User)
		}))
	// A read of a node's log waits for a line as the request says; a
	// broker that goes away ends the wait (the request's context).
	mux.HandleFunc("POST /v1/nodes/{id}/logs", nodeRoute(a, func(b logsRequest) provisioner.NodeSpec { return b.Spec },
		func(ctx context.Context, b logsRequest) (any, error) { return h.Logs(ctx, b.Spec, b.Request) }))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.fail(w, r, fault.E(fault.NotFound, "no agent route %s %s", r.Method, engine.Truncate(r.URL.Path, 100)))
	})
	// Health needs no token: HA observers in other locations probe it to
	// tell a lost host from a lost process. It reveals only the host's name.
	outer := http.NewServeMux()
	outer.HandleFunc("GET "+HealthPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"name\": %q}\n", h.Name())
	})
	outer.Handle("/", a.authenticate(mux))
	return a.logRequests(outer)
}

// HealthPath is the agent's unauthenticated liveness endpoint.
const HealthPath = "/v1/health"

// authenticate refuses requests without the agent's bearer token. Both sides
// are hashed first so the comparison takes the same time whatever the length.
func (a *agent) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(got))
		if !ok || !a.open || subtle.ConstantTimeCompare(sum[:], a.token[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="larder-agent"`)
			a.fail(w, r, fault.E(fault.Unauthorized, "host %s: missing or wrong agent token", a.h.Name()))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// logRequests logs method, path, status and duration; never bodies, which
// hold passwords.
func (a *agent) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := httpjson.NewRecorder(w)
		next.ServeHTTP(sw, r)
		if r.URL.Path == "/v1/events" && sw.Status == http.StatusOK {
			return // polled every half second
		}
		a.log.WithFields(logrus.Fields{
			"method": r.Method, "path": r.URL.Path, "status": sw.Status,
			"ms": time.Since(start).Milliseconds(),
		}).Debug("agent request")
	})
}

// TrackLease wraps the agent's handler: every request answered without
// error renews the lease.
func TrackLease(l *local.Lease, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := httpjson.NewRecorder(w)
		next.ServeHTTP(sw, r)
		// Only the broker's (authenticated) calls renew the lease: an
		// observer reaching the health endpoint says nothing about whether
		// the broker can fence this host.
		if sw.Status < 400 && r.URL.Path != HealthPath {
			l.Renew()
		}
	})
}

func (a *agent) status(w http.ResponseWriter, r *http.Request) {
	st, err := a.h.Status(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, st)
}

func (a *agent) portFree(w http.ResponseWriter, r *http.Request) {
	port, err := strconv.Atoi(r.PathValue("port"))
	if err != nil || port < 1 || port > 65535 {
		a.fail(w, r, fault.E(fault.Invalid, "port %q out of range", engine.Truncate(r.PathValue("port"), 20)))
		return
	}
	free, err := a.h.PortFree(r.Context(), port)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, portAnswer{Free: free})
}

func (a *agent) eventLog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var after uint64
	if s := q.Get("after"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			a.fail(w, r, fault.E(fault.Invalid, "after=%q is not a sequence number", engine.Truncate(s, 30)))
			return
		}
		after = n
	}
	page := eventsPage{Boot: a.events.boot}
	if b := q.Get("boot"); b != "" && b != page.Boot && after > 0 {
		page.Reset, after = true, 0
	}
	page.Events, page.Last, page.Dropped = a.events.since(after)
	if after > page.Last { // a cursor from the future: another boot, sent without its id
		page.Reset = true
		page.Events, page.Last, page.Dropped = a.events.since(0)
	}
	httpjson.Write(w, http.StatusOK, page)
}

// withSpec serves a node route whose body is the node's spec.
func (a *agent) withSpec(fn func(context.Context, provisioner.NodeSpec) (any, error)) http.HandlerFunc {
	return nodeRoute(a, func(s provisioner.NodeSpec) provisioner.NodeSpec { return s }, fn)
}

// nodeRoute serves a node route whose body, a B, holds the node's spec
// (which spec finds): the body is read, its node checked against the URL's,
// and fn's answer written.
func nodeRoute[B any](a *agent, spec func(B) provisioner.NodeSpec, fn func(context.Context, B) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body B
		if err := decodeAgentBody(r, &body); err != nil {
			a.fail(w, r, err)
			return
		}
		if err := checkNodeID(r, spec(body).ID); err != nil {
			a.fail(w, r, err)
			return
		}
		v, err := fn(r.Context(), body)
		a.answer(w, r, v, err)
	}
}

func (a *agent) stop(w http.ResponseWriter, r *http.Request) {
	a.answer(w, r, nil, a.h.Stop(r.Context(), r.PathValue("id")))
}

// answer writes v (204 when nil) or err.
func (a *agent) answer(w http.ResponseWriter, r *http.Request, v any, err error) {
	switch {
	case err != nil:
		a.fail(w, r, err)
	case v == nil:
		w.WriteHeader(http.StatusNoContent)
	default:
		httpjson.Write(w, http.StatusOK, v)
	}
}

func checkNodeID(r *http.Request, id string) error {
	if id != r.PathValue("id") {
		return fault.E(fault.Invalid, "the spec's node id does not match the URL's")
	}
	return nil
}

// fail writes err as {id, message, detail}, logging server-side failures.
func (a *agent) fail(w http.ResponseWriter, r *http.Request, err error) {
	k := fault.KindOf(err)
	status := httpjson.Status(k)
	if status >= http.StatusInternalServerError {
		a.log.WithError(err).WithFields(logrus.Fields{"method": r.Method, "path": r.URL.Path}).Warn("agent request failed")
	}
	httpjson.Write(w, status, agentError{ID: string(k), Message: fault.Message(err), Detail: err.Error()})
}

// decodeAgentBody reads a JSON body into v; a malformed one is a BadRequest.
func decodeAgentBody(r *http.Request, v any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxAgentBody+1))
	if err != nil {
		return fault.Wrap(fault.BadRequest, err, "could not read the request body")
	}
	if len(data) > maxAgentBody {
		return fault.E(fault.BadRequest, "request body larger than %d bytes", maxAgentBody)
	}
	if err := json.Unmarshal(data, v); err != nil {
		// The JSON error may quote the body, which holds passwords: keep it out.
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fault.E(fault.BadRequest, "bad request body: field %s has the wrong type", te.Field)
		}
		return fault.E(fault.BadRequest, "bad request body: %s", jsonSyntaxOffset(err))
	}
	return nil
}

// jsonSyntaxOffset describes where JSON broke without quoting it.
func jsonSyntaxOffset(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "malformed JSON at byte " + strconv.FormatInt(se.Offset, 10)
	}
	return "malformed JSON"
}
