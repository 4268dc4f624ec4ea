// Package apps is the broker's service for apps: the apps themselves, their
// config vars, the attachments that share add-ons with them and the add-ons'
// events; and how a request names an add-on in an app's context (Resolve)
// and shows it with its attachments (AddonJSON), which every service uses.
// It works on the store alone: no node is touched here.
package apps

import (
	"context"
	"strings"

	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/broker/attach"
	"larder/fault"
	"larder/store"
)

// Apps answers for apps, their config vars, attachments and add-on events.
type Apps struct {
	store     store.Store
	log       logrus.FieldLogger
	varPrefix string // of colored attachment names
}

// New returns the apps service over st; varPrefix starts the names of
// colored attachments (LARDER_REDIS_CYAN).
func New(st store.Store, log logrus.FieldLogger, varPrefix string) *Apps {
	return &Apps{store: st, log: log, varPrefix: varPrefix}
}

// SparesApp owns the broker's spares (started add-ons handed over by
// addons:create, package broker). Its name breaks the app-name rule, so no
// user can create, name or reach it, and it is never listed.
const SparesApp = "~spares"

func appJSON(a store.App) api.App { return api.App{ID: a.ID, Name: a.Name, CreatedAt: a.CreatedAt} }

func (b *Apps) ListApps(ctx context.Context) ([]api.App, error) {
	apps, err := b.store.Apps(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.App, 0, len(apps))
	for _, a := range apps {
		if a.Name != SparesApp {
			out = append(out, appJSON(a))
		}
	}
	return out, nil
}

func (b *Apps) CreateApp(ctx context.Context, req api.AppCreate) (api.App, error) {
	req.Name = strings.TrimSpace(req.Name)
	if err := attach.CheckAppName(req.Name); err != nil {
		return api.App{}, err
	}
	a, err := b.store.CreateApp(ctx, req.Name)
	if err != nil {
		return api.App{}, err
	}
	b.log.WithField("app", a.Name).Info("app created")
	return appJSON(a), nil
}

func (b *Apps) GetApp(ctx context.Context, appName string) (api.App, error) {
	a, err := b.store.AppByName(ctx, appName)
	if err != nil {
		return api.App{}, err
	}
	return appJSON(a), nil
}

// destroyApp refuses while the app owns add-ons: destroying them is a separate,
// confirmed action, so no data goes with a mistyped app name.
func (b *Apps) DestroyApp(ctx context.Context, appName string) error {
	err := b.store.InTx(ctx, func(tx store.Tx) error {
		a, err := tx.AppByName(ctx, appName)
		if err != nil {
			return err
		}
		n, err := tx.CountOwnedAddons(ctx, a.ID)
		if err != nil {
			return err
		}
		if n > 0 {
			return fault.E(fault.Conflict, "app %s owns %d add-on(s); destroy them first with `larder addons:destroy`", a.Name, n)
		}
		return tx.DeleteApp(ctx, a.ID)
	})
	return err
}

func (b *Apps) GetConfigVars(ctx context.Context, appName string) (api.ConfigVars, error) {
	a, err := b.store.AppByName(ctx, appName)
	if err != nil {
		return api.ConfigVars{}, err
	}
	vars, err := attach.AppVars(ctx, b.store, a.ID)
	return vars, err
}

// patchConfigVars sets (non-null) and unsets (null) user vars in one
// transaction. Vars owned by an attachment cannot be changed this way.
func (b *Apps) PatchConfigVars(ctx context.Context, appName string, patch api.ConfigPatch) (api.ConfigVars, error) {
	var out api.ConfigVars
	err := b.store.InTx(ctx, func(tx store.Tx) error {
		a, err := tx.AppByName(ctx, appName)
		if err != nil {
			return err
		}
		atts, err := tx.AttachmentsOfApp(ctx, a.ID)
		if err != nil {
			return err
		}
		if err := attach.CheckVarPatch(patch, atts); err != nil {
			return err
		}
		for k, v := range patch {
			if v == nil {
				err = tx.UnsetUserVar(ctx, a.ID, k)
			} else {
				err = tx.SetUserVar(ctx, a.ID, k, *v)
			}
			if err != nil {
				return err
			}
		}
		out, err = attach.AppVars(ctx, tx, a.ID)
		return err
	})
	return out, err
}
