package ui

// The actions: POST forms (their session and CSRF token checked by form),
// each one call of the same service the API's endpoint calls. An action
// answers with a redirect (Post/Redirect/Get) to the page that follows it,
// with a message for that page; an operation it started is followed there
// (?op=ID) as the change feed reports its steps.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/mux"

	"larder/api"
	"larder/fault"
)

func appURL(app string) string { return Prefix + "/apps/" + url.PathEscape(app) }

func addonURL(app, addon string) string { return appURL(app) + "/addons/" + url.PathEscape(addon) }

// done ends an action: a message for the next page, and the redirect to
// to, following op when the action started one.
func (u *UI) done(w http.ResponseWriter, r *http.Request, ss *session, to string, op *api.Operation, f flash) {
	if op != nil {
		to += "?" + url.Values{"op": {op.ID}}.Encode()
	}
	if err := u.sessions.setFlash(r.Context(), ss, f); err != nil {
		// The action was done: its page still follows, without the message.
		u.d.Log.WithError(err).WithField("path", r.URL.Path).Warn("dashboard message lost: the store failed")
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// refused ends an action the broker refused: its public message, shown on
// back (the page the form was on). Nothing was changed.
func (u *UI) refused(w http.ResponseWriter, r *http.Request, ss *session, back string, err error) {
	if fault.KindOf(err) == fault.Internal {
		u.d.Log.WithError(err).WithField("path", r.URL.Path).Error("dashboard action failed")
	}
	u.done(w, r, ss, back, nil, flash{Error: true, Text: fault.Message(err)})
}

// result ends an action that started work on an add-on.
func (u *UI) result(w http.ResponseWriter, r *http.Request, ss *session, to string, res api.AddonResult, text string) {
	if res.Message != "" {
		text = res.Message
	}
	u.done(w, r, ss, to, res.Operation, flash{Text: text})
}

func (u *UI) createApp(w http.ResponseWriter, r *http.Request, ss *session) {
	app, err := u.d.Apps.CreateApp(r.Context(), api.AppCreate{Name: strings.TrimSpace(r.PostForm.Get("name"))})
	if err != nil {
		u.refused(w, r, ss, Prefix+"/", err)
		return
	}
	u.done(w, r, ss, appURL(app.Name), nil, flash{Text: fmt.Sprintf("Created %s.", app.Name)})
}

func (u *UI) createAddon(w http.ResponseWriter, r *http.Request, ss *session) {
	app := mux.Vars(r)["app"]
	res, err := u.d.Addons.CreateAddon(r.Context(), app, api.AddonCreate{
		Plan: r.PostForm.Get("plan"), Name: strings.TrimSpace(r.PostForm.Get("name"))})
	if err != nil {
		u.refused(w, r, ss, appURL(app), err)
		return
	}
	u.result(w, r, ss, appURL(app), res, fmt.Sprintf("Creating %s.", res.Addon.Name))
}

// onAddon runs an action that starts work on the add-on of the form's
// page, and follows it there; say words the action for its add-on.
func (u *UI) onAddon(w http.ResponseWriter, r *http.Request, ss *session,
	act func(ctx context.Context, app, addon string) (api.AddonResult, error), say func(addon string) string) {
	app, addon := mux.Vars(r)["app"], mux.Vars(r)["addon"]
	res, err := act(r.Context(), app, addon)
	if err != nil {
		u.refused(w, r, ss, addonURL(app, addon), err)
		return
	}
	u.result(w, r, ss, addonURL(app, res.Addon.Name), res, say(res.Addon.Name))
}

func (u *UI) upgrade(w http.ResponseWriter, r *http.Request, ss *session) {
	u.onAddon(w, r, ss, func(ctx context.Context, app, addon string) (api.AddonResult, error) {
		return u.d.Addons.UpgradeAddon(ctx, app, addon, api.AddonUpdate{Plan: r.PostForm.Get("plan")})
	}, func(a string) string { return fmt.Sprintf("Changing the plan of %s.", a) })
}

func (u *UI) switchover(w http.ResponseWriter, r *http.Request, ss *session) {
	u.onAddon(w, r, ss, u.d.Pairs.Failover, func(a string) string { return fmt.Sprintf("Switching %s over to its standby.", a) })
}

// resetCredentials rotates the add-on's password. The new URL is in every
// attached app's config vars; the page never shows it.
func (u *UI) resetCredentials(w http.ResponseWriter, r *http.Request, ss *session) {
	app, addon := mux.Vars(r)["app"], mux.Vars(r)["addon"]
	creds, err := u.d.Settings.RotateCredentials(r.Context(), app, addon)
	if err != nil {
		u.refused(w, r, ss, addonURL(app, addon), err)
		return
	}
	u.done(w, r, ss, addonURL(app, creds.Addon.Name), nil, flash{Text: fmt.Sprintf(
		"The credentials of %s were reset: every attached app's config vars hold the new password, and connections with the old one were closed.", creds.Addon.Name)})
}

// destroy deletes an add-on once the user typed its name exactly; any
// other name refuses and changes nothing.
func (u *UI) destroy(w http.ResponseWriter, r *http.Request, ss *session) {
	app, ref := mux.Vars(r)["app"], mux.Vars(r)["addon"]
	back := addonURL(app, ref)
	a, err := u.d.Addons.GetAddon(r.Context(), app, ref)
	if err != nil {
		u.refused(w, r, ss, back, err)
		return
	}
	if typed := strings.TrimSpace(r.PostForm.Get("confirm_name")); typed != a.Name {
		u.refused(w, r, ss, back, fault.E(fault.Confirmation,
			"Not destroyed: to destroy %s, type its name exactly (you typed %q). Nothing was changed.", a.Name, typed))
		return
	}
	res, err := u.d.Addons.DestroyAddon(r.Context(), app, a.Name, api.AddonDestroy{Confirm: app})
	if err != nil {
		u.refused(w, r, ss, back, err)
		return
	}
	u.result(w, r, ss, appURL(app), res, fmt.Sprintf("Destroying %s.", a.Name))
}
