package ui

// What every request passes: the security headers, the session, and for a
// POST its origin and CSRF token, checked before anything is read or done.

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"time"
)

// The cookies: the session's id, and the login form's own CSRF value (a
// login has no session yet, so its form is checked against this cookie).
const (
	sessionCookie = "larder_session"
	loginCookie   = "larder_login"
	csrfField     = "csrf"
	maxFormBytes  = 64 << 10
)

// csp allows only the dashboard's own files: no inline script or style, no
// other origin, no framing.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// secureHeaders sets the headers every answer carries; pages are never
// cached (the static files set their own caching).
func (u *UI) secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// setCookie sets a cookie of the dashboard: HttpOnly, SameSite=Strict, on
// path, Secure when the request came over TLS; maxAge 0 deletes it.
func setCookie(w http.ResponseWriter, r *http.Request, name, value, path string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: path, HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil, MaxAge: int(maxAge.Seconds())}
	if maxAge <= 0 {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// sessionKey carries, in a request's context, the session page read for
// it: an error page it ends on asks the store no second time.
type sessionKey struct{}

// current returns the request's live session, or nil; an error says the
// store could not tell.
func (u *UI) current(r *http.Request) (*session, error) {
	if ss, ok := r.Context().Value(sessionKey{}).(*session); ok {
		return ss, nil
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, nil
	}
	return u.sessions.get(r.Context(), c.Value)
}

// scripted reports whether a script made r (the live view's requests),
// which gets a status and a line of text rather than a page.
func scripted(r *http.Request) bool {
	return r.Header.Get("Accept") == "text/event-stream" || r.Header.Get("X-Requested-With") != ""
}

// handler is a dashboard handler that runs within a session.
type handler func(w http.ResponseWriter, r *http.Request, ss *session)

// page runs h for a logged-in browser; others go to the login page (or get
// 401, for the live view's requests, which a script makes).
func (u *UI) page(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ss, err := u.current(r)
		if err != nil {
			u.unavailable(w, r, err)
			return
		}
		if ss == nil {
			if scripted(r) {
				http.Error(w, "not logged in", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, ss)), ss)
	}
}

// form runs h for a POST of a logged-in browser whose form carries the
// session's CSRF token and whose Origin, when sent, is this server's. Any
// other POST is refused with 403 and changes nothing.
func (u *UI) form(h handler) http.HandlerFunc {
	return u.page(func(w http.ResponseWriter, r *http.Request, ss *session) {
		if !u.readForm(w, r) {
			return
		}
		if !tokensEqual(r.PostForm.Get(csrfField), ss.csrf) {
			u.forbidden(w, r)
			return
		}
		h(w, r, ss)
	})
}

// readForm checks a POST's origin and reads its form (bounded); it answers
// the refusal itself and reports false.
func (u *UI) readForm(w http.ResponseWriter, r *http.Request) bool {
	if !sameOrigin(r) {
		u.forbidden(w, r)
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		u.fail(w, r, http.StatusBadRequest, "The form could not be read.")
		return false
	}
	return true
}

// sameOrigin reports whether r came from this server's pages, as far as
// the browser says: Sec-Fetch-Site, when sent, must be same-origin, and
// Origin, when it names one, this server. Browsers send "Origin: null" for
// the dashboard's own forms (its Referrer-Policy is no-referrer), so null
// proves nothing either way: Sec-Fetch-Site and the CSRF token decide.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return true
	}
	ou, err := url.Parse(o)
	if err != nil {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return ou.Scheme == scheme && ou.Host == r.Host
}

func (u *UI) forbidden(w http.ResponseWriter, r *http.Request) {
	u.fail(w, r, http.StatusForbidden, "This form did not come from this dashboard, or has expired: reload the page and try again. Nothing was changed.")
}

// clientAddr is the address the login limiter counts failures against.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
