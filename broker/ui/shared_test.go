package ui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"larder/broker"
	"larder/broker/brokertest"
	"larder/broker/ui"
	"larder/internal/testkit"
)

// TestSessionsSharedByBrokers: brokers on one store serve one dashboard
// behind a load balancer, so a browser logged in through broker A is
// logged in on broker B: B serves its pages, takes its forms (their CSRF
// token is the session's), passes its messages back to A's pages once, and
// a logout on B ends the session on A too.
func TestSessionsSharedByBrokers(t *testing.T) {
	clk := newClock()
	cfg := ui.Config{Now: clk.Now}
	a := newDash(t, cfg, nil)
	b := a.sharing(cfg)

	c := a.browser() // its cookies go to both: a jar keeps them by host, not port
	csrf := a.login(c)
	aURL, _ := url.Parse(a.srv.URL + "/ui/")
	cookie := c.Jar.Cookies(aURL)

	p := b.get(c, "/ui/")
	if p.Status != http.StatusOK {
		t.Fatalf("broker B's apps page for a session of A: %s to %q; want 200, the page", fmtStatus(p), p.Header.Get("Location"))
	}
	if got := csrfOf(t, p); got != csrf {
		t.Errorf("broker B's forms carry CSRF token %q; want the session's, %q", got, csrf)
	}
	p = b.post(c, "/ui/apps", url.Values{"csrf": {csrf}, "name": {"shared"}}, nil)
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/ui/apps/shared" {
		t.Fatalf("create an app on broker B: %s to %q; want 303 to /ui/apps/shared", fmtStatus(p), p.Header.Get("Location"))
	}
	mustContain(t, "broker A's page after B's action", a.get(c, "/ui/apps/shared"), "Created shared.")
	if p := a.get(c, "/ui/apps/shared"); strings.Contains(p.Body, "Created shared.") {
		t.Errorf("the message was shown again on the next page")
	}

	if p := b.post(c, "/ui/logout", url.Values{"csrf": {csrf}}, nil); p.Status != http.StatusSeeOther {
		t.Fatalf("logout on broker B: %s, want 303", fmtStatus(p))
	}
	replay := a.browser()
	replay.Jar.SetCookies(aURL, cookie)
	if p := a.get(replay, "/ui/"); p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/ui/login" {
		t.Errorf("the cookie on broker A after a logout on B: %s to %q; want 303 to /ui/login", fmtStatus(p), p.Header.Get("Location"))
	}
}

// TestSessionsCap: at MaxSessions, a login ends the session nearest its
// end, whichever broker started it.
func TestSessionsCap(t *testing.T) {
	clk := newClock()
	cfg := ui.Config{Now: clk.Now, MaxSessions: 2}
	a := newDash(t, cfg, nil)
	b := a.sharing(cfg)
	first, second, third := a.browser(), a.browser(), a.browser()
	a.login(first)
	clk.Add(time.Minute)
	b.login(second)
	clk.Add(time.Minute)
	a.login(third)
	if p := b.get(first, "/ui/"); p.Status != http.StatusSeeOther {
		t.Errorf("the first of 3 sessions at a cap of 2: %s, want 303 to the login page", fmtStatus(p))
	}
	for i, c := range []*http.Client{second, third} {
		if p := b.get(c, "/ui/"); p.Status != http.StatusOK {
			t.Errorf("session %d of 3 at a cap of 2: %s, want 200", i+2, fmtStatus(p))
		}
	}
}

// TestStoreUnreachable: while the store fails, a page, a login and a
// logout each get a 503 page that says so (no panic, no login page), and
// no session's id is logged.
func TestStoreUnreachable(t *testing.T) {
	var logs testkit.SyncBuffer
	d := newDash(t, ui.Config{}, func(c *broker.Config) {
		l := logrus.New()
		l.SetOutput(&logs)
		c.Log = l
	})
	c := d.browser()
	csrf := d.login(c)
	u, _ := url.Parse(d.srv.URL + "/ui/")
	var id string
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "larder_session" {
			id = ck.Value
		}
	}
	if id == "" {
		t.Fatal("no session cookie after the login")
	}
	form := d.get(d.browser(), "/ui/login")
	d.b.Store().Close() // the broker's store fails every query from now on

	for _, tc := range []struct {
		name string
		do   func() page
	}{
		{"page", func() page { return d.get(c, "/ui/") }},
		{"missing page", func() page { return d.get(c, "/ui/nowhere") }},
		{"action", func() page { return d.post(c, "/ui/apps", url.Values{"csrf": {csrf}, "name": {"x"}}, nil) }},
		{"logout", func() page { return d.post(c, "/ui/logout", url.Values{"csrf": {csrf}}, nil) }},
		{"login", func() page {
			lc := d.browser()
			lu, _ := url.Parse(d.srv.URL + "/ui/login")
			lc.Jar.SetCookies(lu, []*http.Cookie{cookieOf(form, "larder_login")})
			return d.post(lc, "/ui/login", url.Values{"csrf": {csrfOf(t, form)}, "token": {brokertest.Token}}, nil)
		}},
	} {
		p := tc.do()
		if p.Status != http.StatusServiceUnavailable {
			t.Errorf("%s: %s, want 503", tc.name, fmtStatus(p))
		}
		mustContain(t, tc.name, p, "cannot reach its store")
	}
	if strings.Contains(logs.String(), id) {
		t.Errorf("the session's id is in the log")
	}
	if !strings.Contains(logs.String(), "dashboard sessions: the store failed") {
		t.Errorf("the store's failure is not in the log:\n%s", logs.String())
	}
}
