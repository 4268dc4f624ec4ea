package ui

// Logging in and out. The token is read from the form, compared, and
// forgotten: only the session's random id goes back, in the cookie.

import (
	"fmt"
	"net/http"
	"time"
)

// loginForm is the login page's data.
type loginForm struct {
	CSRF  string
	Error string
}

// loginCookieTTL is how long a login form stays good.
const loginCookieTTL = time.Hour

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	ss, err := u.current(r)
	if err != nil {
		u.unavailable(w, r, err)
		return
	}
	if ss != nil {
		http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
		return
	}
	u.showLogin(w, r, http.StatusOK, "")
}

// showLogin shows the login form with a fresh CSRF value (its cookie
// is set alongside).
func (u *UI) showLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	token := randomToken()
	setCookie(w, r, loginCookie, token, Prefix+"/login", loginCookieTTL)
	u.show(w, r, status, "login", nil, layout{Title: "Log in", Page: loginForm{CSRF: token, Error: msg}})
}

// login checks the form's CSRF value against its cookie, then the
// address's failed attempts, then the token; a good token starts a session.
func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	if !u.readForm(w, r) {
		return
	}
	c, err := r.Cookie(loginCookie)
	if err != nil || !tokensEqual(r.PostForm.Get(csrfField), c.Value) {
		u.showLogin(w, r, http.StatusForbidden, "This login form has expired: please try again.")
		return
	}
	addr := clientAddr(r)
	if wait := u.logins.wait(addr); wait > 0 {
		u.d.Log.WithField("addr", addr).Warn("dashboard login refused: too many failed attempts")
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())))
		u.showLogin(w, r, http.StatusTooManyRequests,
			fmt.Sprintf("Too many failed logins from your address: try again in %s.", wait))
		return
	}
	if !u.d.TokenMatches(r.PostForm.Get("token")) {
		u.logins.fail(addr)
		u.d.Log.WithField("addr", addr).Warn("dashboard login with a wrong token")
		u.showLogin(w, r, http.StatusUnauthorized, "That is not this broker's API token.")
		return
	}
	id, err := u.sessions.create(r.Context())
	if err != nil {
		u.unavailable(w, r, err)
		return
	}
	setCookie(w, r, loginCookie, "", Prefix+"/login", 0)
	setCookie(w, r, sessionCookie, id, Prefix, u.cfg.SessionTTL)
	u.d.Log.WithField("addr", addr).Info("dashboard login")
	http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request, ss *session) {
	if err := u.sessions.end(r.Context(), ss); err != nil {
		u.unavailable(w, r, err) // the session lives on: the cookie stays
		return
	}
	setCookie(w, r, sessionCookie, "", Prefix, 0)
	http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
}
