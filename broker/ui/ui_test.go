package ui_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"larder/broker/brokertest"
	"larder/broker/httpapi"
	"larder/broker/ui"
	"larder/fault"
)

// TestSessionCookie: a login sets a session cookie that is HttpOnly,
// SameSite=Strict, on /ui, Secure over TLS; it holds a random id, never
// the token, and the token is in no page.
func TestSessionCookie(t *testing.T) {
	d := newDash(t, ui.Config{}, nil)
	tlsSrv := httptest.NewTLSServer(httpapi.New(d.b).Handler())
	t.Cleanup(tlsSrv.Close)

	for _, tc := range []struct {
		name   string
		url    string
		client *http.Client
		secure bool
	}{
		{"plain", d.srv.URL, d.browser(), false},
		{"tls", tlsSrv.URL, func() *http.Client {
			c := tlsSrv.Client()
			c.Jar, _ = cookiejar.New(nil)
			c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			return c
		}(), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &dash{t: t, b: d.b, srv: &httptest.Server{URL: tc.url}}
			p := d.tryLogin(tc.client, brokertest.Token)
			if p.Status != http.StatusSeeOther {
				t.Fatalf("login: %s, want 303", fmtStatus(p))
			}
			c := cookieOf(p, "larder_session")
			if c == nil {
				t.Fatalf("no session cookie in %v", p.Header["Set-Cookie"])
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/ui" || c.Secure != tc.secure {
				t.Errorf("cookie %q: HttpOnly %v SameSite %v Path %q Secure %v; want true, Strict, /ui, %v",
					c.Raw, c.HttpOnly, c.SameSite, c.Path, c.Secure, tc.secure)
			}
			if len(c.Value) < 64 || strings.Contains(c.Value, brokertest.Token) {
				t.Errorf("session id %q: want 64 random hex digits, not the token", c.Value)
			}
			home := d.get(tc.client, "/ui/")
			if home.Status != http.StatusOK || strings.Contains(home.Body, brokertest.Token) {
				t.Errorf("home: %s; token in page: %v", fmtStatus(home), strings.Contains(home.Body, brokertest.Token))
			}
		})
	}
}

// TestLoginRefusals: a wrong token cannot log in and says so; after five
// failures the address is refused (429, Retry-After) even with the right
// token, until the limiter has refilled; a login form without its CSRF
// value is refused.
func TestLoginRefusals(t *testing.T) {
	clk := newClock()
	d := newDash(t, ui.Config{Now: clk.Now, LoginBurst: 5, LoginRefill: 10 * time.Second}, nil)
	c := d.browser()

	for i := range 5 {
		p := d.tryLogin(c, "wrong-token")
		if p.Status != http.StatusUnauthorized || cookieOf(p, "larder_session") != nil {
			t.Fatalf("wrong token #%d: %s, session cookie %v; want 401 and none", i+1, fmtStatus(p), cookieOf(p, "larder_session"))
		}
		mustContain(t, "wrong token", p, "not this broker&#39;s API token")
	}
	if p := d.get(c, "/ui/"); p.Status != http.StatusSeeOther {
		t.Errorf("home after failed logins: %s, want 303 to the login page", fmtStatus(p))
	}
	limited := d.tryLogin(c, brokertest.Token)
	if limited.Status != http.StatusTooManyRequests || limited.Header.Get("Retry-After") == "" {
		t.Fatalf("right token while limited: %s, Retry-After %q; want 429 with one", fmtStatus(limited), limited.Header.Get("Retry-After"))
	}
	mustContain(t, "limited", limited, "Too many failed logins")

	clk.Add(10 * time.Second)
	if p := d.tryLogin(c, brokertest.Token); p.Status != http.StatusSeeOther {
		t.Fatalf("right token after the refill: %s, want 303", fmtStatus(p))
	}

	// No login CSRF value (a form posted from elsewhere): refused.
	other := d.browser()
	p := d.post(other, "/ui/login", url.Values{"token": {brokertest.Token}}, nil)
	if p.Status != http.StatusForbidden || cookieOf(p, "larder_session") != nil {
		t.Errorf("login without CSRF: %s, want 403 and no session", fmtStatus(p))
	}
}

// TestCSRF: a POST without the session's CSRF token, with another, or
// from another origin is refused with 403 and changes nothing; with it,
// the action is done.
func TestCSRF(t *testing.T) {
	d := newDash(t, ui.Config{}, nil)
	c := d.browser()
	csrf := d.login(c)
	ctx := context.Background()

	for _, tc := range []struct {
		name   string
		form   url.Values
		header http.Header
	}{
		{"no token", url.Values{"name": {"evil1"}}, nil},
		{"wrong token", url.Values{"name": {"evil2"}, "csrf": {strings.Repeat("0", 64)}}, nil},
		{"other origin", url.Values{"name": {"evil3"}, "csrf": {csrf}}, http.Header{"Origin": {"http://evil.example"}}},
		{"cross-site fetch", url.Values{"name": {"evil4"}, "csrf": {csrf}}, http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"null"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := d.post(c, "/ui/apps", tc.form, tc.header)
			if p.Status != http.StatusForbidden {
				t.Errorf("status %d, want 403", p.Status)
			}
			if _, err := d.api.App(ctx, tc.form.Get("name")); !errors.Is(err, fault.NotFound) {
				t.Errorf("app %s: %v, want not found (nothing changed)", tc.form.Get("name"), err)
			}
		})
	}
	p := d.post(c, "/ui/apps", url.Values{"name": {"good"}, "csrf": {csrf}}, http.Header{"Origin": {d.srv.URL}})
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/ui/apps/good" {
		t.Fatalf("with the token: %s to %q, want 303 to /ui/apps/good", fmtStatus(p), p.Header.Get("Location"))
	}
	if _, err := d.api.App(ctx, "good"); err != nil {
		t.Errorf("app made with the token: %v", err)
	}
}

// TestHeaders: every answer carries the strict CSP and the other security
// headers; pages are not cached; the static files have their types.
func TestHeaders(t *testing.T) {
	d := newDash(t, ui.Config{}, nil)
	c := d.browser()
	d.login(c)
	d.app("web")
	for _, tc := range []struct {
		path, ctype, cache string
	}{
		{"/ui/login", "text/html", "no-store"},
		{"/ui/", "text/html", "no-store"},
		{"/ui/apps/web", "text/html", "no-store"},
		{"/ui/apps/nope", "text/html", "no-store"},
		{"/ui/static/app.css", "text/css", ""},
		{"/ui/static/app.js", "text/javascript", ""},
	} {
		t.Run(tc.path, func(t *testing.T) {
			p := d.get(c, tc.path)
			h := p.Header
			csp := h.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("CSP %q allows inline code", csp)
			}
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
				t.Errorf("nosniff %q, referrer %q", h.Get("X-Content-Type-Options"), h.Get("Referrer-Policy"))
			}
			if !strings.HasPrefix(h.Get("Content-Type"), tc.ctype) {
				t.Errorf("Content-Type %q, want %s", h.Get("Content-Type"), tc.ctype)
			}
			if tc.cache != "" && h.Get("Cache-Control") != tc.cache {
				t.Errorf("Cache-Control %q, want %q", h.Get("Cache-Control"), tc.cache)
			}
			if strings.Contains(p.Body, "<script>") || strings.Contains(p.Body, " style=") || strings.Contains(p.Body, "<style") {
				t.Errorf("inline script or style in %s", tc.path)
			}
		})
	}
	if p := d.get(c, "/ui/apps/nope"); p.Status != http.StatusNotFound {
		t.Errorf("unknown app: %s, want 404", fmtStatus(p))
	}
}

// TestSessionEnds: a session ends at its expiry and at logout; its cookie
// then opens nothing.
func TestSessionEnds(t *testing.T) {
	clk := newClock()
	d := newDash(t, ui.Config{Now: clk.Now, SessionTTL: time.Hour}, nil)

	c := d.browser()
	d.login(c)
	clk.Add(59 * time.Minute)
	if p := d.get(c, "/ui/"); p.Status != http.StatusOK {
		t.Fatalf("before expiry: %s, want 200", fmtStatus(p))
	}
	clk.Add(time.Minute)
	if p := d.get(c, "/ui/"); p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/ui/login" {
		t.Errorf("after expiry: %s to %q, want 303 to /ui/login", fmtStatus(p), p.Header.Get("Location"))
	}
	if p := d.get(c, "/ui/apps/web/events"); p.Status != http.StatusSeeOther && p.Status != http.StatusUnauthorized {
		t.Errorf("feed after expiry: %s, want a refusal", fmtStatus(p))
	}

	c = d.browser()
	csrf := d.login(c)
	u, _ := url.Parse(d.srv.URL + "/ui/")
	old := c.Jar.Cookies(u)
	p := d.post(c, "/ui/logout", url.Values{"csrf": {csrf}}, nil)
	if ck := cookieOf(p, "larder_session"); p.Status != http.StatusSeeOther || ck == nil || ck.MaxAge >= 0 {
		t.Fatalf("logout: %s, cookie %v; want 303 and the cookie deleted", fmtStatus(p), ck)
	}
	replay := d.browser()
	replay.Jar.SetCookies(u, old)
	if p := d.get(replay, "/ui/"); p.Status != http.StatusSeeOther {
		t.Errorf("the old cookie after logout: %s, want 303 to the login page", fmtStatus(p))
	}
}

// TestNoSecretInPages: no page, fragment or message shows an add-on's
// password or a URL with credentials, before or after a reset.
func TestNoSecretInPages(t *testing.T) {
	d := newDash(t, ui.Config{}, nil)
	d.app("web")
	a := d.addon("web", "larder-redis:mini", "cache")
	ctx := context.Background()
	c := d.browser()
	csrf := d.login(c)

	secrets := func() []string {
		creds, err := d.api.Credentials(ctx, "web", a.Name)
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(creds.URL)
		if err != nil {
			t.Fatal(err)
		}
		pw, _ := u.User.Password()
		return []string{pw, creds.URL, brokertest.Token, "redis://", "rediss://"}
	}
	pages := []string{"/ui/", "/ui/apps/web", "/ui/apps/web/live", "/ui/apps/web/addons/cache",
		"/ui/apps/web/addons/cache/live", "/ui/apps/web/addons/cache?since=1w"}
	check := func(when string, secrets []string) {
		for _, path := range pages {
			p := d.get(c, path)
			if p.Status != http.StatusOK {
				t.Errorf("%s %s: %s", when, path, fmtStatus(p))
			}
			for _, s := range secrets {
				if s != "" && strings.Contains(p.Body, s) {
					t.Errorf("%s %s shows a secret (%d characters)", when, path, len(s))
				}
			}
		}
	}
	before := secrets()
	check("before", before)

	p := d.post(c, "/ui/apps/web/addons/cache/credentials", url.Values{"csrf": {csrf}}, nil)
	if p.Status != http.StatusSeeOther {
		t.Fatalf("reset: %s, want 303", fmtStatus(p))
	}
	after := secrets()
	if after[0] == before[0] {
		t.Fatal("the reset kept the password")
	}
	flash := d.get(c, p.Header.Get("Location"))
	mustContain(t, "after the reset", flash, "were reset")
	for _, s := range append(after, before[0]) {
		if strings.Contains(flash.Body, s) {
			t.Errorf("the reset's page shows a secret (%d characters)", len(s))
		}
	}
	check("after", append(after, before[0]))
}

// TestDestroyNeedsTheName: destroy refuses any name but the add-on's
// (nothing changes), and with it destroys the add-on and follows the
// operation on the app's page.
func TestDestroyNeedsTheName(t *testing.T) {
	d := newDash(t, ui.Config{}, nil)
	d.app("web")
	d.addon("web", "larder-redis:mini", "cache")
	ctx := context.Background()
	c := d.browser()
	csrf := d.login(c)

	for _, typed := range []string{"", "web", "cach", "REDIS"} {
		p := d.post(c, "/ui/apps/web/addons/cache/destroy", url.Values{"csrf": {csrf}, "confirm_name": {typed}}, nil)
		if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/ui/apps/web/addons/cache" {
			t.Fatalf("typed %q: %s to %q, want 303 back to the add-on", typed, fmtStatus(p), p.Header.Get("Location"))
		}
		mustContain(t, "typed "+typed, d.get(c, p.Header.Get("Location")), "Not destroyed", "Nothing was changed")
		if a, err := d.api.Addon(ctx, "web", "cache"); err != nil || a.State != "provisioned" {
			t.Fatalf("after typing %q: %+v, %v; want it provisioned", typed, a, err)
		}
	}
	p := d.post(c, "/ui/apps/web/addons/cache/destroy", url.Values{"csrf": {csrf}, "confirm_name": {"cache"}}, nil)
	loc := p.Header.Get("Location")
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "/ui/apps/web?op=") {
		t.Fatalf("typed the name: %s to %q, want 303 to the app following the operation", fmtStatus(p), loc)
	}
	mustContain(t, "the app after destroy", d.get(c, loc), "cache is being destroyed", `data-op-state=`, "deprovision")
	if a, err := d.api.Addon(ctx, "web", "cache"); err == nil && a.State != "deprovisioning" && a.State != "deprovisioned" {
		t.Errorf("after destroy: %+v, want it going", a)
	}
}
