package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"larder/engine"
	"larder/fault"
	"larder/internal/backoff"
	"larder/internal/httpjson"
	"larder/provisioner"
)

// RemoteOptions configure a RemoteHost. Zero durations take the defaults noted.
type RemoteOptions struct {
	Name  string // the agent's --host name; the agent must answer to it
	URL   string // the agent's base URL, e.g. http://198.18.0.2:7481
	Token string // the agent's bearer token

	// OnEvent gets the agent's events, in order, from one goroutine, with no
	// lock held.
	OnEvent func(provisioner.Event)
	// Since is where a previous RemoteHost of this agent stopped (its
	// Cursor), so a restarted broker gets only what happened while it was
	// away. Zero replays every event the agent still holds, so handlers must
	// then tolerate events they have seen.
	Since EventCursor
	// Events, when set, reads the agent's events instead of OnEvent and
	// Since: several brokers may watch one agent, and it decides which of
	// them reads (and records) the events, and from where.
	Events EventReader

	PollInterval time.Duration // events poll; default 500ms, backing off to 10× while the agent is away
	Timeout      time.Duration // one call that starts or stops no process; default 5s
	// OpTimeout bounds start, adopt, stop and remove, which wait for a node
	// to load its AOF on the agent; default 6m (the agent's own limits end
	// them sooner).
	OpTimeout time.Duration

	Log logrus.FieldLogger // default logrus.StandardLogger()
}

func (o *RemoteOptions) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.PollInterval, 500*time.Millisecond)
	def(&o.Timeout, 5*time.Second)
	def(&o.OpTimeout, 6*time.Minute)
	if o.Log == nil {
		o.Log = logrus.StandardLogger()
	}
}

// EventCursor is a place in an agent's event log: after event Seq of the
// agent's run Boot.
type EventCursor struct {
	Boot string `json:"boot"`
	Seq  uint64 `json:"seq"`
}

// EventReader reads an agent's events for a RemoteHost when several readers
// (brokers sharing a store) watch one agent and one of them at a time (the
// coordinator) must record each event once, carrying on where the previous
// one stopped.
type EventReader interface {
	// BeginRead is asked before each poll of host's events. With ok false
	// the events are left to another reader and nothing is read. Otherwise
	// the poll reads the events after since, gives each to Handle with ctx,
	// records how far it got with Advance(ctx, …) and then calls done.
	BeginRead(parent context.Context, host string) (ctx context.Context, since EventCursor, done func(), ok bool)
	// Handle handles one event.
	Handle(ctx context.Context, e provisioner.Event)
	// Advance records that host's events up to c are handled. An error (the
	// reader may no longer record them) ends the poll.
	Advance(ctx context.Context, host string, c EventCursor) error
}

// ownReader is the EventReader of a RemoteHost that reads alone: every
// poll reads, from where the last one stopped, into OnEvent.
type ownReader struct{ r *RemoteHost }

func (o ownReader) BeginRead(parent context.Context, _ string) (context.Context, EventCursor, func(), bool) {
	return parent, o.r.Cursor(), func() {}, true
}

func (o ownReader) Handle(_ context.Context, e provisioner.Event) {
	if o.r.opts.OnEvent != nil {
		o.r.opts.OnEvent(e)
	}
}

func (o ownReader) Advance(context.Context, string, EventCursor) error { return nil }

// RemoteHost is a Host served by `larder agent` on another machine or network
// namespace. Calls go to the agent's API; a poll loop fetches the events its
// supervisor reported and watches whether it answers. Nodes keep running on
// the agent whatever happens to the RemoteHost.
type RemoteHost struct {
	opts   RemoteOptions
	base   string // URL without a trailing slash
	client *http.Client
	log    logrus.FieldLogger

	ctx    context.Context // the poll loop; cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	known  bool // the agent's status was read: addr and engine are set
	addr   string
	engine engine.Engine
	reach  error       // nil while the agent answers; the last transport error otherwise
	cursor EventCursor // after the last event delivered
	closed bool
}

var _ provisioner.Host = (*RemoteHost)(nil)

// NewRemoteHost checks opts, reads the agent's status (an agent that does
// not answer yet is retried by the poll loop; calls fail with Unavailable
// meanwhile) and starts polling its events.
func NewRemoteHost(opts RemoteOptions) (*RemoteHost, error) {
	opts.setDefaults()
	u, err := url.Parse(opts.URL)
	switch {
	case opts.Name == "":
		return nil, fault.E(fault.Invalid, "remote host: no name")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return nil, fault.E(fault.Invalid, "remote host %s: URL must be http(s)://HOST:PORT", opts.Name)
	case opts.Token == "":
		return nil, fault.E(fault.Invalid, "remote host %s: no agent token", opts.Name)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // agents are on the operator's own network
	tr.DialContext = (&net.Dialer{Timeout: opts.Timeout, KeepAlive: 15 * time.Second}).DialContext
	tr.MaxIdleConnsPerHost = 8
	ctx, cancel := context.WithCancel(context.Background())
	r := &RemoteHost{
		opts:   opts,
		base:   strings.TrimRight(opts.URL, "/"),
		client: &http.Client{Transport: tr},
		log:    opts.Log.WithField("host", opts.Name),
		ctx:    ctx,
		cancel: cancel,
		cursor: opts.Since,
	}
	if _, err := r.Status(ctx); err != nil {
		r.log.WithError(err).Warn("cannot reach or identify the agent yet; retrying")
	}
	r.wg.Add(1)
	go r.loop()
	return r, nil
}

// Name identifies the host in the store.
func (r *RemoteHost) Name() string { return r.opts.Name }

// Addr is the address the agent's nodes bind to; "" until the agent answered.
func (r *RemoteHost) Addr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addr
}

// Engine is the agent's engine; zero until the agent answered.
func (r *RemoteHost) Engine() engine.Engine {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.engine
}

// Reachable is nil while the agent answers, and an Unavailable fault since
// the last call or poll it did not answer.
func (r *RemoteHost) Reachable() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reach != nil {
		return fault.Wrap(fault.Unavailable, r.reach, fmt.Sprintf("host %s does not answer", r.opts.Name))
	}
	return nil
}

// Cursor is where the RemoteHost is in the agent's event log: after the last
// event OnEvent returned from. A broker may keep it for RemoteOptions.Since.
func (r *RemoteHost) Cursor() EventCursor {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cursor
}

// PortFree asks the agent whether port can be bound there, within ctx and
// Timeout; an agent that does not answer is an Unavailable fault.
func (r *RemoteHost) PortFree(ctx context.Context, port int) (bool, error) {
	var ans portAnswer
	if err := r.ready(ctx); err != nil {
		return false, fmt.Errorf("check port %d: %w", port, err)
	}
	if err := r.call(ctx, r.opts.Timeout, http.MethodGet, "/v1/ports/"+strconv.Itoa(port), nil, &ans); err != nil {
		return false, fmt.Errorf("check port %d: %w", port, err)
	}
	return ans.Free, nil
}

// Start starts the node on the agent.
func (r *RemoteHost) Start(ctx context.Context, spec provisioner.NodeSpec) (provisioner.Node, error) {
	var n provisioner.Node
	return n, r.nodeCall(ctx, r.opts.OpTimeout, spec.ID, "start", spec, &n)
}

// Adopt takes the node under the agent's supervision, restarting it in place
// if needed.
func (r *RemoteHost) Adopt(ctx context.Context, spec provisioner.NodeSpec) (provisioner.Node, error) {
	var n provisioner.Node
	return n, r.nodeCall(ctx, r.opts.OpTimeout, spec.ID, "adopt", spec, &n)
}

// Stop stops the node on the agent; its directory stays.
func (r *RemoteHost) Stop(ctx context.Context, nodeID string) error {
	return r.nodeCall(ctx, r.opts.OpTimeout, nodeID, "stop", nil, nil)
}

// Remove stops the node on the agent and deletes its directory.
func (r *RemoteHost) Remove(ctx context.Context, spec provisioner.NodeSpec) error {
	return r.nodeCall(ctx, r.opts.OpTimeout, spec.ID, "remove", spec, nil)
}

// Quarantine stops the node on the agent and moves its directory to the
// agent's quarantine. An agent too old to know the call answers NotFound,
// and nothing is touched.
func (r *RemoteHost) Quarantine(ctx context.Context, spec provisioner.NodeSpec) error {
	return r.nodeCall(ctx, r.opts.OpTimeout, spec.ID, "quarantine", spec, nil)
}

// Info reads the node's live figures through the agent.
func (r *RemoteHost) Info(ctx context.Context, spec provisioner.NodeSpec) (provisioner.NodeInfo, error) {
	var info provisioner.NodeInfo
	return info, r.nodeCall(ctx, r.opts.Timeout, spec.ID, "info", spec, &info)
}

// Reconfigure applies spec to the running node through the agent.
func (r *RemoteHost) Reconfigure(ctx context.Context, spec provisioner.NodeSpec) error {
	return r.nodeCall(ctx, r.opts.Timeout, spec.ID, "reconfigure", spec, nil)
}

// DisconnectUser closes every connection of user on the node.
func (r *RemoteHost) DisconnectUser(ctx context.Context, spec provisioner.NodeSpec, user string) error {
	return r.nodeCall(ctx, r.opts.Timeout, spec.ID, "disconnect", disconnectRequest{Spec: spec, User: user}, nil)
}

// SetRole applies the node's role through the agent, which refuses an older
// epoch than the node's with a Conflict.
func (r *RemoteHost) SetRole(ctx context.Context, spec provisioner.NodeSpec) error {
	return r.nodeCall(ctx, r.opts.Timeout, spec.ID, "role", spec, nil)
}

// Logs reads the node's log through the agent, which waits up to req.Wait
// for a line when there is none yet (a long-poll: the call's deadline is
// Timeout past the wait).
func (r *RemoteHost) Logs(ctx context.Context, spec provisioner.NodeSpec, req provisioner.LogRequest) (provisioner.LogChunk, error) {
	req = req.Bounded()
	var c provisioner.LogChunk
	return c, r.nodeCall(ctx, r.opts.Timeout+req.Wait, spec.ID, "logs", logsRequest{Spec: spec, Request: req}, &c)
}

// Status asks the agent for its nodes; an agent that does not answer within
// Timeout is an Unavailable fault.
func (r *RemoteHost) Status(ctx context.Context) (provisioner.HostStatus, error) {
	var st provisioner.HostStatus
	if err := r.call(ctx, r.opts.Timeout, http.MethodGet, "/v1/status", nil, &st); err != nil {
		return provisioner.HostStatus{}, err
	}
	if st.Name != r.opts.Name {
		return provisioner.HostStatus{}, fault.E(fault.Conflict, "host %s: %s serves host %q instead", r.opts.Name, r.base, st.Name)
	}
	r.mu.Lock()
	r.known, r.addr, r.engine = true, st.Addr, st.Engine
	r.mu.Unlock()
	return st, nil
}

// Close stops the poll loop; nodes keep running on the agent.
func (r *RemoteHost) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(done)
	}()
	defer r.client.CloseIdleConnections()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close host %s: %w", r.opts.Name, ctx.Err())
	}
}

// nodeCall makes a node call once the agent has been identified, so a URL
// that serves another host never gets the spec.
func (r *RemoteHost) nodeCall(ctx context.Context, timeout time.Duration, id, op string, body, out any) error {
	if err := r.ready(ctx); err != nil {
		return fmt.Errorf("%s node %s: %w", op, id, err)
	}
	if err := r.call(ctx, timeout, http.MethodPost, "/v1/nodes/"+url.PathEscape(id)+"/"+op, body, out); err != nil {
		return fmt.Errorf("%s node %s: %w", op, id, err)
	}
	return nil
}

// ready reads the agent's status if it was never read.
func (r *RemoteHost) ready(ctx context.Context) error {
	r.mu.Lock()
	known := r.known
	r.mu.Unlock()
	if known {
		return nil
	}
	_, err := r.Status(ctx)
	return err
}

// call sends one request, bounded by timeout, and decodes a 2xx answer into
// out. A transport failure or timeout is an Unavailable fault; an error
// answer is rebuilt as the agent's fault kind and message.
func (r *RemoteHost) call(ctx context.Context, timeout time.Duration, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(data)
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, method, r.base+path, rd)
	if err != nil {
		return fault.Wrap(fault.Invalid, err, fmt.Sprintf("host %s: bad agent URL", r.opts.Name))
	}
	req.Header.Set("Authorization", "Bearer "+r.opts.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.client.Do(req)
	if err == nil {
		defer resp.Body.Close()
		var data []byte
		data, err = io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		if err == nil {
			r.noteReach(nil)
			return r.decode(resp.StatusCode, data, out)
		}
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err() // the caller gave up: say nothing about the agent
	}
	r.noteReach(err)
	return fault.Wrap(fault.Unavailable, err, fmt.Sprintf("host %s does not answer", r.opts.Name))
}

// decode turns an answer into out or into the agent's fault.
func (r *RemoteHost) decode(status int, data []byte, out any) error {
	if status >= 200 && status < 300 {
		if out == nil || status == http.StatusNoContent {
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return fault.Wrap(fault.Unavailable, err, fmt.Sprintf("host %s answered something that is not the agent API", r.opts.Name))
		}
		return nil
	}
	var e agentError
	if json.Unmarshal(data, &e) != nil || e.ID == "" {
		return fault.E(httpjson.KindFor(status), "host %s answered %d %s", r.opts.Name, status, http.StatusText(status))
	}
	fe := &fault.Error{Kind: fault.Kind(e.ID), Message: e.Message}
	if e.Detail != "" && e.Detail != e.Message {
		fe.Err = remoteCause{host: r.opts.Name, detail: e.Detail}
	}
	return fe
}

// remoteCause is the full text of an error on an agent, for logs.
type remoteCause struct{ host, detail string }

func (c remoteCause) Error() string { return "on host " + c.host + ": " + c.detail }

// noteReach records whether the agent answered, logging each change once.
func (r *RemoteHost) noteReach(err error) {
	r.mu.Lock()
	was := r.reach
	r.reach = err
	r.mu.Unlock()
	switch {
	case err != nil && was == nil:
		r.log.WithError(err).Warn("agent does not answer")
	case err == nil && was != nil:
		r.log.Info("agent answers again")
	}
}

// loop polls the agent's events every PollInterval, backing off to ten times
// that while it does not answer.
func (r *RemoteHost) loop() {
	defer r.wg.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		if err := r.poll(); err != nil {
			failures++
			if r.ctx.Err() == nil && fault.KindOf(err) != fault.Unavailable && failures == 1 {
				r.log.WithError(err).Error("cannot read the agent's events") // wrong token, wrong host
			}
		} else {
			failures = 0
		}
		t.Reset(backoff.Policy{Min: r.opts.PollInterval, Max: 10 * r.opts.PollInterval}.Delay(max(failures, 1)))
	}
}

// poll identifies the agent if needed, then delivers its new events.
func (r *RemoteHost) poll() error {
	if err := r.ready(r.ctx); err != nil {
		return err
	}
	var rd EventReader = ownReader{r}
	if r.opts.Events != nil {
		rd = r.opts.Events
	}
	ctx, cur, done, ok := rd.BeginRead(r.ctx, r.opts.Name)
	if !ok {
		return nil // another reader records this agent's events
	}
	defer done()
	r.setCursor(cur)
	q := url.Values{"after": {strconv.FormatUint(cur.Seq, 10)}, "boot": {cur.Boot}}
	var page eventsPage
	if err := r.call(ctx, r.opts.Timeout, http.MethodGet, "/v1/events?"+q.Encode(), nil, &page); err != nil {
		if ctx.Err() != nil && r.ctx.Err() == nil {
			return nil // the reader's turn ended, not the agent's fault
		}
		return err
	}
	if page.Reset && cur.Boot != "" {
		r.log.Info("agent restarted; reading its events from the start")
	}
	if page.Dropped > 0 {
		r.log.WithField("dropped", page.Dropped).Warn("the agent's event ring overflowed while we were away; some events are lost")
	}
	// advance records c; when it cannot (the reader's turn ended, or its
	// store does not answer), the poll stops there and the next reader
	// carries on from the last cursor recorded, the agent not at fault.
	advance := func(c EventCursor) bool {
		if err := rd.Advance(ctx, r.opts.Name, c); err != nil {
			if ctx.Err() == nil {
				r.log.WithError(err).Warn("cannot record how far the agent's events are read")
			}
			return false
		}
		r.setCursor(c)
		return true
	}
	for _, se := range page.Events {
		if ctx.Err() != nil {
			return nil
		}
		rd.Handle(ctx, se.Event)
		if !advance(EventCursor{Boot: page.Boot, Seq: se.Seq}) {
			return nil
		}
	}
	if c := (EventCursor{Boot: page.Boot, Seq: page.Last}); c != r.Cursor() {
		advance(c)
	}
	return nil
}

func (r *RemoteHost) setCursor(c EventCursor) {
	r.mu.Lock()
	r.cursor = c
	r.mu.Unlock()
}
