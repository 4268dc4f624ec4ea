package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"

	"larder/fault"
	"larder/internal/httpjson"
)

// Client talks to a broker over HTTP with a bearer token. It has one method
// per endpoint of the broker's API (about 50, more than a type usually
// should): each is a few lines that build a request and read the answer
// through the same do/get/post helpers, and one type keeps the client as
// easy to find as the route table it mirrors (broker/httpapi.API).
//
// A client may know several brokers sharing one store (Endpoints): a request
// goes to the current one and moves to the next when a broker does not
// answer, as far as sending it again is safe (see send).
type Client struct {
	Endpoints *Endpoints
	Token     string
	HTTP      *http.Client
	// Timeout is how long one broker may take to answer one request,
	// beyond a long-poll's wait (zero: DefaultTimeout). A broker that takes
	// longer counts as not answering.
	Timeout time.Duration
}

// NewClient returns a client for the broker at baseURL, a URL the program
// itself holds (a broker's own address); NewClientList reads what a user
// gives.
func NewClient(baseURL, token string) *Client {
	return newClient(singleEndpoint(baseURL), token)
}

// NewClientList returns a client for the brokers of a comma-separated URL
// list (ParseEndpoints), or says what is wrong with the list.
func NewClientList(urls, token string) (*Client, error) {
	eps, err := ParseEndpoints(urls)
	if err != nil {
		return nil, err
	}
	return newClient(eps, token), nil
}

func newClient(eps *Endpoints, token string) *Client {
	return &Client{
		Endpoints: eps,
		Token:     token,
		HTTP:      &http.Client{Transport: newTransport(), CheckRedirect: noRedirects},
		Timeout:   DefaultTimeout,
	}
}

// BaseURL is the URL of the broker requests go to now.
func (c *Client) BaseURL() string {
	_, u := c.Endpoints.Current()
	return u
}

// Do sends a request with an optional JSON body and decodes a JSON answer into out
// (when out is non-nil). Error answers become faults of the matching kind carrying
// the broker's message.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	return c.do(ctx, call{method: method, path: path}, body, out)
}

// do is Do for a call that says more about itself (a wait, resend).
func (c *Client) do(ctx context.Context, cl call, body, out any) error {
	if err := checkPath(cl.path); err != nil {
		return err
	}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		cl.body = b
	}
	resp, done, err := c.send(ctx, cl)
	if err != nil {
		return err
	}
	defer done()
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return fault.Wrap(fault.Unavailable, err, "read broker response")
		}
		return decodeError(resp.StatusCode, data)
	}
	if resp.StatusCode >= 300 {
		// Never followed: a redirect would turn a POST or DELETE into a GET
		// of another resource, and the command would report a success.
		return fault.E(fault.Internal, "the broker answered %s %s with a redirect (%d) to %q; nothing was done",
			cl.method, pathOnly(cl.path), resp.StatusCode, resp.Header.Get("Location"))
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*Raw); ok {
		raw.Body, err = readAnswer(resp)
		return err
	}
	if cl.count != nil {
		// Believed as far as the body's length allows: an item takes more
		// than 8 bytes.
		if n, err := strconv.Atoi(resp.Header.Get(httpjson.CountHeader)); err == nil && n > 0 && int64(n) <= resp.ContentLength/8 {
			cl.count(n)
		}
	}
	return decodeAnswer(resp, out)
}

// maxAnswer bounds what the client reads of one answer: a listing of
// 10 000 whole add-ons is 11 MB.
const maxAnswer = 512 << 20

// decodeAnswer decodes an answer into out: encoding/json's rules, by the
// JSON v2 decoder, a third faster on a listing of 10 000 add-ons. An empty
// body leaves out as it is.
func decodeAnswer(resp *http.Response, out any) error {
	data, err := readAnswer(resp)
	if err != nil || len(data) == 0 {
		return err
	}
	if err := jsonv2.Unmarshal(data, out, jsonv1.DefaultOptionsV1()); err != nil {
		return fmt.Errorf("decode broker response: %w", err)
	}
	return nil
}

// readAnswer reads an answer's body into one buffer of its announced
// length: grown as the body came, the buffer and its copies touched three
// times the memory, which on this machine cost more than decoding it.
// (Decoding as it arrives holds the whole of a listing too, in a buffer
// that grows.)
func readAnswer(resp *http.Response) ([]byte, error) {
	if resp.ContentLength > maxAnswer {
		return nil, fault.E(fault.Internal, "the broker's answer is %d bytes, more than the %d this client reads", resp.ContentLength, maxAnswer)
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength) + bytes.MinRead) // room for the read that sees the end
	}
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, maxAnswer+1)); err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "read broker response")
	}
	if buf.Len() > maxAnswer {
		return nil, fault.E(fault.Internal, "the broker's answer is longer than the %d bytes this client reads", maxAnswer)
	}
	return buf.Bytes(), nil
}

func decodeError(status int, data []byte) error {
	var e Error
	if json.Unmarshal(data, &e) != nil || e.Message == "" {
		e.Message = strings.TrimSpace(string(data))
		if e.Message == "" {
			e.Message = http.StatusText(status)
		}
	}
	k := fault.Kind(e.ID)
	if e.ID == "" {
		k = httpjson.KindFor(status)
	}
	return &fault.Error{Kind: k, Message: e.Message}
}

// noRedirects makes the HTTP client return a redirect as the answer.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// esc escapes one path segment.
func esc(s string) string { return url.PathEscape(s) }

// Apps lists every app.
func (c *Client) Apps(ctx context.Context) ([]App, error) {
	var out []App
	return out, c.Do(ctx, http.MethodGet, "/apps", nil, &out)
}

// CreateApp creates an app.
func (c *Client) CreateApp(ctx context.Context, name string) (App, error) {
	var out App
	return out, c.Do(ctx, http.MethodPost, "/apps", AppCreate{Name: name}, &out)
}

// App fetches one app.
func (c *Client) App(ctx context.Context, name string) (App, error) {
	var out App
	return out, c.Do(ctx, http.MethodGet, "/apps/"+esc(name), nil, &out)
}

// DestroyApp deletes an app; it fails while the app owns add-ons.
func (c *Client) DestroyApp(ctx context.Context, name string) error {
	return c.Do(ctx, http.MethodDelete, "/apps/"+esc(name), nil, nil)
}

// ConfigVars returns an app's config vars, add-on vars included.
func (c *Client) ConfigVars(ctx context.Context, app string) (ConfigVars, error) {
	out := ConfigVars{}
	return out, c.Do(ctx, http.MethodGet, "/apps/"+esc(app)+"/config-vars", nil, &out)
}

// PatchConfigVars sets and unsets user config vars and returns the new set.
func (c *Client) PatchConfigVars(ctx context.Context, app string, patch ConfigPatch) (ConfigVars, error) {
	out := ConfigVars{}
	return out, c.Do(ctx, http.MethodPatch, "/apps/"+esc(app)+"/config-vars", patch, &out)
}

// Addons lists the add-ons owned by or attached to app; app "" lists all.
func (c *Client) Addons(ctx context.Context, app string) ([]Addon, error) {
	var out []Addon
	return out, c.do(ctx, call{method: http.MethodGet, path: addonsPath(app),
		count: func(n int) { out = make([]Addon, 0, n) }}, nil, &out)
}

// AddonsJSON is Addons' answer as the broker wrote it: the JSON
// `larder addons --json` prints, never decoded and encoded again (a third
// of a second for 10 000 add-ons).
func (c *Client) AddonsJSON(ctx context.Context, app string) ([]byte, error) {
	var out Raw
	return out.Body, c.Do(ctx, http.MethodGet, addonsPath(app), nil, &out)
}

// Raw, as what to decode an answer into, takes its body as it came.
type Raw struct{ Body []byte }

// addonsPath is the listing of app's add-ons, of every add-on when app is "".
func addonsPath(app string) string {
	if app == "" {
		return "/addons"
	}
	return "/apps/" + esc(app) + "/addons"
}

// AddonSummaries lists what a listing's table shows of the add-ons app owns
// or is attached to (of every add-on when app is ""): Addons' summary view.
func (c *Client) AddonSummaries(ctx context.Context, app string) ([]AddonSummary, error) {
	var out []AddonSummary
	return out, c.do(ctx, call{method: http.MethodGet, path: addonsPath(app) + "?view=" + ViewSummary,
		count: func(n int) { out = make([]AddonSummary, 0, n) }}, nil, &out)
}

// Addon resolves ref (add-on name, attachment name, config var or app::NAME)
// in the context of app ("" for global names) and returns the add-on.
func (c *Client) Addon(ctx context.Context, app, ref string) (Addon, error) {
	var out Addon
	path := "/addons/" + esc(ref)
	if app != "" {
		path = "/apps/" + esc(app) + "/addons/" + esc(ref)
	}
	return out, c.Do(ctx, http.MethodGet, path, nil, &out)
}

// CreateAddon starts provisioning an add-on for app.
func (c *Client) CreateAddon(ctx context.Context, app string, req AddonCreate) (AddonResult, error) {
	var out AddonResult
	return out, c.Do(ctx, http.MethodPost, "/apps/"+esc(app)+"/addons", req, &out)
}

// DestroyAddon starts deprovisioning the add-on ref resolves to on app.
func (c *Client) DestroyAddon(ctx context.Context, app, ref string, req AddonDestroy) (AddonResult, error) {
	var out AddonResult
	return out, c.Do(ctx, http.MethodDelete, "/apps/"+esc(app)+"/addons/"+esc(ref), req, &out)
}

// Operation fetches an operation by id.
func (c *Client) Operation(ctx context.Context, id string) (Operation, error) {
	var out Operation
	return out, c.Do(ctx, http.MethodGet, "/operations/"+esc(id), nil, &out)
}

// Services lists the add-on services.
func (c *Client) Services(ctx context.Context) ([]Service, error) {
	var out []Service
	return out, c.Do(ctx, http.MethodGet, "/addon-services", nil, &out)
}

// Plans lists a service's plans.
func (c *Client) Plans(ctx context.Context, service string) ([]Plan, error) {
	var out []Plan
	return out, c.Do(ctx, http.MethodGet, "/addon-services/"+esc(service)+"/plans", nil, &out)
}

// RedisInfo returns redis:info for the add-on ref resolves to on app.
func (c *Client) RedisInfo(ctx context.Context, app, ref string) ([]RedisInfo, error) {
	var out []RedisInfo
	q := ""
	if ref != "" {
		q = "?addon=" + url.QueryEscape(ref)
	}
	return out, c.Do(ctx, http.MethodGet, "/apps/"+esc(app)+"/redis"+q, nil, &out)
}

// Metrics returns the sampled metrics of the add-on ref resolves to on app
// over since (one of MetricRanges; "" is 1h).
func (c *Client) Metrics(ctx context.Context, app, ref, since string) (Metrics, error) {
	var out Metrics
	q := ""
	if since != "" {
		q = "?since=" + url.QueryEscape(since)
	}
	return out, c.Do(ctx, http.MethodGet, "/apps/"+esc(app)+"/addons/"+esc(ref)+"/metrics"+q, nil, &out)
}

// Events lists the history of the add-on ref resolves to on app, oldest first.
func (c *Client) Events(ctx context.Context, app, ref string) ([]Event, error) {
	var out []Event
	return out, c.Do(ctx, http.MethodGet, "/apps/"+esc(app)+"/addons/"+esc(ref)+"/events", nil, &out)
}

// Attach shares an add-on with an app under an attachment name.
func (c *Client) Attach(ctx context.Context, req AttachmentCreate) (Attachment, error) {
	var out Attachment
	return out, c.Do(ctx, http.MethodPost, "/addon-attachments", req, &out)
}

// Attachments lists an app's attachments.
func (c *Client) Attachments(ctx context.Context, app string) ([]Attachment, error) {
	var out []Attachment
	return out, c.Do(ctx, http.MethodGet, "/apps/"+esc(app)+"/addon-attachments", nil, &out)
}

// Detach removes one attachment (by name, or by a config var such as CACHE_URL) from app.
func (c *Client) Detach(ctx context.Context, app, name string) (Attachment, error) {
	var out Attachment
	return out, c.Do(ctx, http.MethodDelete, "/apps/"+esc(app)+"/addon-attachments/"+esc(name), nil, &out)
}

// Promote makes the add-on ref names the app's REDIS.
func (c *Client) Promote(ctx context.Context, app, ref string) (PromoteResult, error) {
	var out PromoteResult
	return out, c.Do(ctx, http.MethodPost, "/apps/"+esc(app)+"/redis/promote", Promote{Addon: ref}, &out)
}

func redisPath(app, ref, what string) string {
	return "/apps/" + esc(app) + "/redis/" + esc(ref) + what
}

// UpdateSettings changes an add-on's settings live and returns them.
func (c *Client) UpdateSettings(ctx context.Context, app, ref string, p SettingsPatch) (Settings, error) {
	var out Settings
	return out, c.Do(ctx, http.MethodPatch, redisPath(app, ref, "/config"), p, &out)
}

// Credentials returns the add-on's connection URL.
func (c *Client) Credentials(ctx context.Context, app, ref string) (Credentials, error) {
	var out Credentials
	return out, c.Do(ctx, http.MethodGet, redisPath(app, ref, "/credentials"), nil, &out)
}

// RotateCredentials gives the customer user a new password on the running node;
// every attached app's vars change at once and the old password stops working.
func (c *Client) RotateCredentials(ctx context.Context, app, ref string) (Credentials, error) {
	var out Credentials
	return out, c.Do(ctx, http.MethodPost, redisPath(app, ref, "/credentials_rotation"), struct{}{}, &out)
}

// Wait reports whether the add-on is still becoming available.
func (c *Client) Wait(ctx context.Context, app, ref string) (WaitStatus, error) {
	var out WaitStatus
	return out, c.Do(ctx, http.MethodGet, redisPath(app, ref, "/wait"), nil, &out)
}

// UpgradeAddon starts moving the add-on ref names to another plan.
func (c *Client) UpgradeAddon(ctx context.Context, app, ref, plan string) (AddonResult, error) {
	var out AddonResult
	return out, c.Do(ctx, http.MethodPatch, "/apps/"+esc(app)+"/addons/"+esc(ref), AddonUpdate{Plan: plan}, &out)
}

// Hosts lists the hosts nodes run on.
func (c *Client) Hosts(ctx context.Context) ([]Host, error) {
	var out []Host
	return out, c.Do(ctx, http.MethodGet, "/hosts", nil, &out)
}

// Brokers lists the brokers sharing the store, and which one coordinates.
func (c *Client) Brokers(ctx context.Context) ([]Broker, error) {
	var out []Broker
	return out, c.Do(ctx, http.MethodGet, "/brokers", nil, &out)
}

// RegisterHost announces an agent to the broker.
func (c *Client) RegisterHost(ctx context.Context, req HostRegister) (Host, error) {
	var out Host
	// An upsert: registering twice is registering once, so it may go to
	// another broker even when the first may have taken it.
	return out, c.do(ctx, call{method: http.MethodPost, path: "/hosts", resend: true}, req, &out)
}

// DrainHost moves every primary off a host with planned switchovers.
func (c *Client) DrainHost(ctx context.Context, name string) (DrainResult, error) {
	var out DrainResult
	return out, c.Do(ctx, http.MethodPost, "/hosts/"+esc(name)+"/drain", struct{}{}, &out)
}

// UndrainHost lets new nodes go to a drained host again.
func (c *Client) UndrainHost(ctx context.Context, name string) (Host, error) {
	var out Host
	return out, c.Do(ctx, http.MethodPost, "/hosts/"+esc(name)+"/undrain", struct{}{}, &out)
}

// Failover starts a planned switchover of the add-on ref names on app.
func (c *Client) Failover(ctx context.Context, app, ref string) (AddonResult, error) {
	var out AddonResult
	return out, c.Do(ctx, http.MethodPost, redisPath(app, ref, "/failover"), struct{}{}, &out)
}

// MonitorTargets lists the nodes HA observers probe.
func (c *Client) MonitorTargets(ctx context.Context) ([]MonitorTarget, error) {
	var out []MonitorTarget
	return out, c.Do(ctx, http.MethodGet, "/monitor/targets", nil, &out)
}

// ReportObservations sends one probe round to the broker.
func (c *Client) ReportObservations(ctx context.Context, r MonitorReport) error {
	return c.Do(ctx, http.MethodPost, "/monitor/observations", r, nil)
}

// Monitors lists the observer locations and what each sees.
func (c *Client) Monitors(ctx context.Context) ([]MonitorLocation, error) {
	var out []MonitorLocation
	return out, c.Do(ctx, http.MethodGet, "/monitors", nil, &out)
}
