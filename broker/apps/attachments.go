package apps

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"larder/api"
	"larder/broker/attach"
	"larder/fault"
	"larder/store"
)

func attachmentJSON(at store.Attachment) api.Attachment {
	return api.Attachment{ID: at.ID, Name: at.Name, Addon: api.Ref{ID: at.AddonID, Name: at.AddonName},
		App: api.Ref{ID: at.AppID, Name: at.AppName}, ConfigVars: attach.Vars(at.Name), CreatedAt: at.CreatedAt}
}

func (b *Apps) ListAttachments(ctx context.Context, appName string) ([]api.Attachment, error) {
	app, err := b.store.AppByName(ctx, appName)
	if err != nil {
		return nil, err
	}
	atts, err := b.store.AttachmentsOfApp(ctx, app.ID)
	if err != nil {
		return nil, err
	}
	out := make([]api.Attachment, 0, len(atts))
	for _, at := range atts {
		out = append(out, attachmentJSON(at))
	}
	return out, nil
}

// findAttachment finds an app's attachment by name or by one of its vars
// (CACHE or CACHE_URL), case-insensitively.
func findAttachment(atts []store.Attachment, appName, name string) (store.Attachment, error) {
	up := strings.ToUpper(strings.TrimSpace(name))
	for _, at := range atts {
		if at.Name == up {
			return at, nil
		}
	}
	if at, ok := attach.ManagedVar(atts, up); ok {
		return at, nil
	}
	return store.Attachment{}, fault.E(fault.NotFound, "no attachment %s on %s", name, appName)
}

// checkNotLastOwning refuses to remove at when it is the last attachment of its
// add-on on the owning app: the add-on would be billed to an app that cannot
// see it. The message says where else it is attached and what to do instead.
func checkNotLastOwning(ctx context.Context, q store.Q, at store.Attachment) error {
	a, err := q.AddonByID(ctx, at.AddonID)
	if err != nil {
		return err
	}
	if at.AppID != a.AppID {
		return nil
	}
	all, err := q.AttachmentsOfAddon(ctx, a.ID)
	if err != nil {
		return err
	}
	var owning int
	var elsewhere []string
	for _, o := range all {
		if o.AppID == a.AppID {
			owning++
		} else {
			elsewhere = append(elsewhere, o.AppName+"::"+o.Name)
		}
	}
	if owning > 1 {
		return nil
	}
	msg := fmt.Sprintf("%s is the last attachment of %s on its owning app %s; to remove the add-on, run `larder addons:destroy %s -a %s --confirm %s`",
		at.Name, a.Name, a.AppName, a.Name, a.AppName, a.AppName)
	if len(elsewhere) > 0 {
		sort.Strings(elsewhere)
		msg += " (it is also attached as " + strings.Join(elsewhere, ", ") + ")"
	}
	return fault.E(fault.Conflict, "%s", msg)
}

// attach shares an add-on with an app. The name defaults to REDIS when the app
// has none, else the next free color.
func (b *Apps) Attach(ctx context.Context, req api.AttachmentCreate) (api.Attachment, error) {
	if req.App == "" || req.Addon == "" {
		return api.Attachment{}, fault.E(fault.Invalid, "both addon and app are required")
	}
	name := ""
	if req.Name != "" {
		var err error
		if name, err = attach.CheckAttachmentName(req.Name); err != nil {
			return api.Attachment{}, err
		}
	}
	var at store.Attachment
	err := b.store.InTx(ctx, func(tx store.Tx) error {
		app, err := tx.AppByName(ctx, req.App)
		if err != nil {
			return err
		}
		a, err := Resolve(ctx, tx, req.App, req.Addon)
		if err != nil {
			return err
		}
		if a.State == api.StateDeprovisioning {
			return fault.E(fault.Conflict, "%s is being destroyed", a.Name)
		}
		atts, err := tx.AttachmentsOfApp(ctx, app.ID)
		if err != nil {
			return err
		}
		used := map[string]bool{}
		for _, o := range atts {
			used[o.Name] = true
		}
		if name == "" {
			name = attach.NextAttachmentName(b.varPrefix, used)
		} else if used[name] {
			old, _ := findAttachment(atts, app.Name, name)
			switch {
			case old.AddonID == a.ID:
				return fault.E(fault.Conflict, "%s is already attached to %s as %s", a.Name, app.Name, name)
			case req.Confirm != app.Name:
				return fault.E(fault.Confirmation, "%s is already used on %s by %s; attaching replaces it (--confirm %s)", name, app.Name, old.AddonName, app.Name)
			}
			if err := checkNotLastOwning(ctx, tx, old); err != nil {
				return err
			}
			if err := tx.DeleteAttachment(ctx, old.ID); err != nil {
				return err
			}
		}
		at = store.Attachment{AddonID: a.ID, AppID: app.ID, Name: name, AddonName: a.Name, AppName: app.Name}
		if err := tx.CreateAttachment(ctx, &at); err != nil {
			return err
		}
		for _, v := range attach.Vars(name) {
			if err := tx.UnsetUserVar(ctx, app.ID, v); err != nil {
				return err
			}
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "attachment.create", fmt.Sprintf("attached to %s as %s", app.Name, name))
	})
	if err != nil {
		return api.Attachment{}, err
	}
	return attachmentJSON(at), nil
}

// detach removes one attachment and so its vars.
func (b *Apps) Detach(ctx context.Context, appName string, attachment string) (api.Attachment, error) {
	var at store.Attachment
	err := b.store.InTx(ctx, func(tx store.Tx) error {
		app, err := tx.AppByName(ctx, appName)
		if err != nil {
			return err
		}
		atts, err := tx.AttachmentsOfApp(ctx, app.ID)
		if err != nil {
			return err
		}
		if at, err = findAttachment(atts, app.Name, attachment); err != nil {
			return err
		}
		if err := checkNotLastOwning(ctx, tx, at); err != nil {
			return err
		}
		if err := tx.DeleteAttachment(ctx, at.ID); err != nil {
			return err
		}
		return tx.AddEvent(ctx, at.AddonID, at.AddonName, "attachment.delete", fmt.Sprintf("detached %s from %s", at.Name, app.Name))
	})
	if err != nil {
		return api.Attachment{}, err
	}
	return attachmentJSON(at), nil
}

// promote makes an add-on the app's REDIS. The add-on that held REDIS keeps a
// colored attachment (a new one if REDIS was its only name on the app), so its
// vars never vanish; the promoted add-on keeps its other names too. One
// transaction: apps never see a moment without REDIS_URL.
func (b *Apps) Promote(ctx context.Context, appName string, req api.Promote) (api.PromoteResult, error) {
	var res api.PromoteResult
	err := b.store.InTx(ctx, func(tx store.Tx) error {
		app, err := tx.AppByName(ctx, appName)
		if err != nil {
			return err
		}
		x, err := Resolve(ctx, tx, appName, req.Addon)
		if err != nil {
			return err
		}
		res.Addon = api.Ref{ID: x.ID, Name: x.Name}
		atts, err := tx.AttachmentsOfApp(ctx, app.ID)
		if err != nil {
			return err
		}
		attached := false
		used := map[string]bool{}
		var cur *store.Attachment
		for i, at := range atts {
			used[at.Name] = true
			attached = attached || at.AddonID == x.ID
			if at.Name == attach.PrimaryAttachment {
				cur = &atts[i]
			}
		}
		if !attached {
			return fault.E(fault.Invalid, "%s is not attached to %s; attach it first with `larder addons:attach %s -a %s`", x.Name, app.Name, x.Name, app.Name)
		}
		if cur != nil && cur.AddonID == x.ID {
			return nil // already REDIS
		}
		if cur != nil {
			res.Previous = &api.Ref{ID: cur.AddonID, Name: cur.AddonName}
			for _, at := range atts {
				if at.AddonID == cur.AddonID && at.Name != attach.PrimaryAttachment {
					res.Alias = at.Name
					break
				}
			}
			if err := tx.DeleteAttachment(ctx, cur.ID); err != nil {
				return err
			}
			if res.Alias == "" {
				res.Alias = attach.NextAttachmentName(b.varPrefix, used)
				if err := tx.CreateAttachment(ctx, &store.Attachment{AddonID: cur.AddonID, AppID: app.ID, Name: res.Alias}); err != nil {
					return err
				}
			}
			if err := tx.AddEvent(ctx, cur.AddonID, cur.AddonName, "attachment.demote", fmt.Sprintf("no longer REDIS on %s; keeps %s", app.Name, res.Alias)); err != nil {
				return err
			}
		}
		if err := tx.CreateAttachment(ctx, &store.Attachment{AddonID: x.ID, AppID: app.ID, Name: attach.PrimaryAttachment}); err != nil {
			return err
		}
		if err := tx.UnsetUserVar(ctx, app.ID, attach.PrimaryAttachment+"_URL"); err != nil {
			return err
		}
		return tx.AddEvent(ctx, x.ID, x.Name, "attachment.promote", "promoted to REDIS on "+app.Name)
	})
	if err != nil {
		return api.PromoteResult{}, err
	}
	return res, nil
}
