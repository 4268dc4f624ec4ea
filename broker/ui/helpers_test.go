package ui_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"larder/api"
	"larder/broker"
	"larder/broker/brokertest"
	"larder/broker/httpapi"
	"larder/broker/ui"
	"larder/internal/testkit"
)

// dash is a real broker (SQLite file, engine nodes) serving the API and
// the dashboard, and an API client of it.
type dash struct {
	t   *testing.T
	b   *broker.Broker
	srv *httptest.Server
	api *api.Client
}

// newDash starts a broker with the dashboard set up by cfg; tweak, when
// not nil, adjusts the broker's config.
func newDash(t *testing.T, cfg ui.Config, tweak func(*broker.Config)) *dash {
	t.Helper()
	return serveDash(t, brokertest.New(t, testkit.UI, tweak), cfg)
}

// sharing starts a second broker on d's store, with its own dashboard set
// up by cfg: two brokers behind one load balancer.
func (d *dash) sharing(cfg ui.Config) *dash {
	d.t.Helper()
	return serveDash(d.t, brokertest.Sharing(d.t, d.b, testkit.UI, nil), cfg)
}

// serveDash serves b's API and dashboard until the test ends.
func serveDash(t *testing.T, b *broker.Broker, cfg ui.Config) *dash {
	t.Helper()
	srv := httptest.NewServer(httpapi.New(b).WithDashboard(cfg).Handler())
	// The live view's streams end first, as in the daemon's shutdown:
	// Close waits for every request to end.
	t.Cleanup(func() { b.StopWaiters(); srv.Close() })
	return &dash{t: t, b: b, srv: srv, api: api.NewClient(srv.URL, brokertest.Token)}
}

// browser is an HTTP client with its own cookies that does not follow
// redirects (tests look at them).
func (d *dash) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// page is an answer: status, headers and body.
type page struct {
	Status int
	Header http.Header
	Body   string
}

func (d *dash) do(c *http.Client, req *http.Request) page {
	d.t.Helper()
	res, err := c.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		d.t.Fatal(err)
	}
	return page{res.StatusCode, res.Header, string(body)}
}

func (d *dash) get(c *http.Client, path string) page {
	d.t.Helper()
	req, err := http.NewRequest(http.MethodGet, d.srv.URL+path, nil)
	if err != nil {
		d.t.Fatal(err)
	}
	return d.do(c, req)
}

// post sends a form; header, when not nil, adds headers (an Origin).
func (d *dash) post(c *http.Client, path string, form url.Values, header http.Header) page {
	d.t.Helper()
	req, err := http.NewRequest(http.MethodPost, d.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		d.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	return d.do(c, req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// csrfOf reads the CSRF token of a page's forms.
func csrfOf(t *testing.T, p page) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no CSRF field in the page (status %d):\n%s", p.Status, p.Body)
	}
	return m[1]
}

// tryLogin sends the login form with token.
func (d *dash) tryLogin(c *http.Client, token string) page {
	d.t.Helper()
	form := d.get(c, "/ui/login")
	return d.post(c, "/ui/login", url.Values{"csrf": {csrfOf(d.t, form)}, "token": {token}}, nil)
}

// login logs c in and returns its session's CSRF token.
func (d *dash) login(c *http.Client) string {
	d.t.Helper()
	if p := d.tryLogin(c, brokertest.Token); p.Status != http.StatusSeeOther {
		d.t.Fatalf("login: status %d, want 303:\n%s", p.Status, p.Body)
	}
	return csrfOf(d.t, d.get(c, "/ui/"))
}

// app creates an app through the API.
func (d *dash) app(name string) {
	d.t.Helper()
	if _, err := d.api.CreateApp(context.Background(), name); err != nil {
		d.t.Fatal(err)
	}
}

// addon creates an add-on of plan on app through the API and waits until
// it is provisioned.
func (d *dash) addon(app, plan, name string) api.Addon {
	d.t.Helper()
	return brokertest.Provision(d.t, d.api, app, plan, name).Addon
}

// clock is a settable clock for sessions and the login limiter.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// cookieOf returns the Set-Cookie of name in p, or nil.
func cookieOf(p page, name string) *http.Cookie {
	for _, c := range (&http.Response{Header: p.Header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// mustContain fails unless every want is in the page.
func mustContain(t *testing.T, what string, p page, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(p.Body, w) {
			t.Errorf("%s: %q is not in the page (status %d)", what, w, p.Status)
		}
	}
}

func fmtStatus(p page) string { return fmt.Sprintf("status %d", p.Status) }
