package apps

import (
	"context"
	"strings"

	"larder/api"
	"larder/broker/attach"
	"larder/broker/changes"
	"larder/fault"
	"larder/store"
)

// Resolve finds the add-on ref names in the context of appName (see
// attach.ResolveRef); "other::NAME" resolves on app other. appName may be empty for
// global references (add-on names and app::NAME only).
func Resolve(ctx context.Context, q store.Q, appName, ref string) (store.Addon, error) {
	if owner, name, ok := strings.Cut(ref, "::"); ok {
		if owner == "" || name == "" {
			return store.Addon{}, fault.E(fault.Invalid, "invalid reference %q: use APP::NAME", ref)
		}
		appName, ref = owner, name
	}
	if appName == "" {
		return q.AddonByName(ctx, ref)
	}
	app, err := q.AppByName(ctx, appName)
	if err != nil {
		return store.Addon{}, err
	}
	atts, err := q.AttachmentsOfApp(ctx, app.ID)
	if err != nil {
		return store.Addon{}, err
	}
	addons, err := q.AddonsOfApp(ctx, app.ID)
	if err != nil {
		return store.Addon{}, err
	}
	id, err := attach.ResolveRef(ref, app.Name, atts, addons)
	if fault.KindOf(err) == fault.NotFound {
		// Add-on names are global: an exact name works from any app.
		if a, gerr := q.AddonByName(ctx, ref); gerr == nil {
			return a, nil
		}
	}
	if err != nil {
		return store.Addon{}, err
	}
	return q.AddonByID(ctx, id)
}

// Settled resolves the add-on of a redis:* request and checks that it is
// running.
func Settled(ctx context.Context, q store.Q, appName, addonName string) (store.Addon, error) {
	a, err := Resolve(ctx, q, appName, addonName)
	if err != nil {
		return a, err
	}
	if a.State != api.StateProvisioned {
		return a, fault.E(fault.Conflict, "%s is %s; run `larder redis:wait %s -a %s` first", a.Name, a.State, a.Name, appName)
	}
	return a, nil
}

// AddonJSON renders an add-on with its attachments on every app.
func AddonJSON(ctx context.Context, q store.Q, a store.Addon) (api.Addon, error) {
	atts, err := q.AttachmentsOfAddon(ctx, a.ID)
	if err != nil {
		return api.Addon{}, err
	}
	return AddonView(a, atts), nil
}

// AddonView renders an add-on with atts, its attachments on every app (as
// AttachmentsOfAddon lists them).
func AddonView(a store.Addon, atts []store.Attachment) api.Addon {
	out := api.Addon{
		ID: a.ID, Name: a.Name, Service: a.Service, Plan: a.Service + ":" + a.Plan,
		App: api.Ref{ID: a.AppID, Name: a.AppName}, State: a.State, StateReason: a.StateReason,
		ConfigVars:  []string{},
		Attachments: make([]api.Attachment, 0, len(atts)),
		Settings: api.Settings{
			MaxMemoryPolicy: a.MaxMemoryPolicy, Timeout: a.Timeout, NotifyKeyspaceEvents: a.NotifyKeyspaceEvents,
		},
		Engine: a.Engine, EngineVersion: a.EngineVersion, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
	}
	for _, at := range atts {
		vars := attach.Vars(at.Name)
		out.Attachments = append(out.Attachments, api.Attachment{
			ID: at.ID, Name: at.Name, Addon: api.Ref{ID: a.ID, Name: a.Name},
			App: api.Ref{ID: at.AppID, Name: at.AppName}, ConfigVars: vars, CreatedAt: at.CreatedAt,
		})
		if at.AppID == a.AppID {
			out.ConfigVars = append(out.ConfigVars, vars...)
		}
	}
	return out
}

// OperationResult answers a request that started op on a: the add-on as it
// now shows, the operation to follow, and msg for people.
func OperationResult(ctx context.Context, q store.Q, a store.Addon, op store.Operation, msg string) (api.AddonResult, error) {
	j, err := AddonJSON(ctx, q, a)
	if err != nil {
		return api.AddonResult{}, err
	}
	apiOp := changes.OperationJSON(op)
	return api.AddonResult{Addon: j, Operation: &apiOp, Message: msg}, nil
}
