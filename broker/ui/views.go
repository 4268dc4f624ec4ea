package ui

// Templates, their helpers and the embedded static files.

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"larder/fault"
	"larder/internal/httpjson"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// views are the parsed pages: each page's file with the layout and the
// shared parts.
type views struct {
	pages map[string]*template.Template
}

// The pages (templates/NAME.html); each defines "title" and "content", and
// may define fragments the live view re-reads.
var pageNames = []string{"login", "apps", "app", "addon", "error"}

func mustViews() *views {
	v := &views{pages: map[string]*template.Template{}}
	for _, name := range pageNames {
		t := template.Must(template.New(name).Funcs(funcs).ParseFS(templateFiles,
			"templates/layout.html", "templates/parts.html", "templates/"+name+".html"))
		v.pages[name] = t
	}
	return v
}

// assetVersion names the static files' current content, so their URLs
// change when they do and browsers may keep them.
var assetVersion = func() string {
	h := sha256.New()
	fs.WalkDir(staticFiles, "static", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := staticFiles.ReadFile(path)
			h.Write([]byte(path))
			h.Write(data)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}()

// staticHandler serves the embedded CSS and script; a URL carrying the
// current version may be kept a day.
func staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFiles, "static")
	files := http.StripPrefix(Prefix+"/static/", http.FileServer(http.FS(sub)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		if r.URL.Query().Get("v") == assetVersion {
			w.Header().Set("Cache-Control", "public, max-age=86400, immutable")
		}
		files.ServeHTTP(w, r)
	})
}

// layout is what every page's frame shows.
type layout struct {
	Title    string
	Asset    string
	CSRF     string // "" when logged out
	Flash    *flash
	Crumbs   []crumb
	LoggedIn bool
	Page     any
}

// crumb is one step of the breadcrumb trail.
type crumb struct{ Name, URL string }

// render writes page name with data, buffered so a template error becomes
// a clean 500 instead of half a page.
func (u *UI) render(w http.ResponseWriter, status int, name, tmpl string, data any) {
	var b bytes.Buffer
	if err := u.views.pages[name].ExecuteTemplate(&b, tmpl, data); err != nil {
		u.d.Log.WithError(err).WithField("page", name).Error("render dashboard page")
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// show renders a whole page of a session (or of nobody, ss nil).
func (u *UI) show(w http.ResponseWriter, r *http.Request, status int, name string, ss *session, l layout) {
	l.Asset = assetVersion
	if ss != nil {
		f, err := u.sessions.takeFlash(r.Context(), ss)
		if err != nil {
			u.unavailable(w, r, err)
			return
		}
		l.CSRF, l.LoggedIn, l.Flash = ss.csrf, true, f
	}
	u.render(w, status, name, "layout", l)
}

// fail shows an error page with a message fit for users.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	ss, err := u.current(r)
	if err != nil {
		u.unavailable(w, r, err)
		return
	}
	u.show(w, r, status, "error", ss, layout{Title: http.StatusText(status), Page: msg})
}

// unavailableText is what a browser is told while the store cannot be
// reached: sessions are in it, so no page can be served.
const unavailableText = "The broker cannot reach its store just now, so it cannot tell who you are. Nothing was changed: try again in a moment."

// unavailable answers a request the store failed (a session's read or
// write) with 503, as the API answers fault.Unavailable, and logs the
// cause: a store error names no session's id (the store has only hashes).
func (u *UI) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	u.d.Log.WithError(err).WithField("path", r.URL.Path).Error("dashboard sessions: the store failed")
	w.Header().Set("Retry-After", "5")
	if scripted(r) {
		http.Error(w, "the store cannot be reached", http.StatusServiceUnavailable)
		return
	}
	u.show(w, r, http.StatusServiceUnavailable, "error", nil, layout{Title: http.StatusText(http.StatusServiceUnavailable), Page: unavailableText})
}

// failErr shows err as the API would: its kind's status, its public message.
func (u *UI) failErr(w http.ResponseWriter, r *http.Request, err error) {
	status := httpjson.Status(fault.KindOf(err))
	if status >= 500 {
		u.d.Log.WithError(err).WithField("path", r.URL.Path).Error("dashboard request failed")
	}
	u.fail(w, r, status, fault.Message(err))
}

func (u *UI) notFound(w http.ResponseWriter, r *http.Request) {
	u.fail(w, r, http.StatusNotFound, "There is nothing at this address.")
}

var funcs = template.FuncMap{
	"bytes": humanBytes,
	"when":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"ago":   ago,
	"badge": badge,
	"plan":  planShort,
	"join":  strings.Join,
	"path":  escapePath,
}

// humanBytes shows a size in binary units: 512 B, 1.5 MB.
func humanBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/1024, 0
	for v >= 1024 && i < 4 {
		v /= 1024
		i++
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", v), ".0") + " " + []string{"KB", "MB", "GB", "TB", "PB"}[i]
}

// ago is how long before now t was, in the largest unit.
func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

// badge is the CSS class of a state: ok, busy, bad or muted.
func badge(state string) string {
	switch state {
	case "provisioned", "available", "succeeded", "in sync":
		return "ok"
	case "provisioning", "deprovisioning", "pending", "running", "syncing", "rebuilding":
		return "busy"
	case "failed", "link down", "paused":
		return "bad"
	}
	return "muted"
}

// planShort is a plan without its service: "larder-redis:mini" → "mini".
func planShort(p string) string {
	if _, plan, ok := strings.Cut(p, ":"); ok {
		return plan
	}
	return p
}

// escapePath escapes one path segment of a dashboard URL.
func escapePath(s string) string { return url.PathEscape(s) }
