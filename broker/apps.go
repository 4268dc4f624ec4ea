package broker

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"larder/api"
	"larder/fault"
	"larder/store"
)

func appJSON(a store.App) api.App { return api.App{ID: a.ID, Name: a.Name, CreatedAt: a.CreatedAt} }

func (b *Broker) listApps(r *http.Request) (int, any, error) {
	apps, err := b.store.Apps(r.Context())
	if err != nil {
		return 0, nil, err
	}
	out := make([]api.App, 0, len(apps))
	for _, a := range apps {
		out = append(out, appJSON(a))
	}
	return http.StatusOK, out, nil
}

func (b *Broker) createApp(r *http.Request) (int, any, error) {
	var req api.AppCreate
	if err := decodeBody(r, &req, false); err != nil {
		return 0, nil, err
	}
	req.Name = strings.TrimSpace(req.Name)
	if err := checkAppName(req.Name); err != nil {
		return 0, nil, err
	}
	a, err := b.store.CreateApp(r.Context(), req.Name)
	if err != nil {
		return 0, nil, err
	}
	b.log.WithField("app", a.Name).Info("app created")
	return http.StatusCreated, appJSON(a), nil
}

func (b *Broker) getApp(r *http.Request) (int, any, error) {
	a, err := b.store.AppByName(r.Context(), mux.Vars(r)["app"])
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, appJSON(a), nil
}

// destroyApp refuses while the app owns add-ons: destroying them is a separate,
// confirmed action, so no data goes with a mistyped app name.
func (b *Broker) destroyApp(r *http.Request) (int, any, error) {
	ctx := r.Context()
	err := b.store.InTx(ctx, func(tx store.Tx) error {
		a, err := tx.AppByName(ctx, mux.Vars(r)["app"])
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
	return http.StatusNoContent, nil, err
}

func (b *Broker) getConfigVars(r *http.Request) (int, any, error) {
	ctx := r.Context()
	a, err := b.store.AppByName(ctx, mux.Vars(r)["app"])
	if err != nil {
		return 0, nil, err
	}
	vars, err := appVars(ctx, b.store, a.ID)
	return http.StatusOK, vars, err
}

// patchConfigVars sets (non-null) and unsets (null) user vars in one
// transaction. Vars owned by an attachment cannot be changed this way.
func (b *Broker) patchConfigVars(r *http.Request) (int, any, error) {
	ctx := r.Context()
	var patch api.ConfigPatch
	if err := decodeBody(r, &patch, false); err != nil {
		return 0, nil, err
	}
	var out api.ConfigVars
	err := b.store.InTx(ctx, func(tx store.Tx) error {
		a, err := tx.AppByName(ctx, mux.Vars(r)["app"])
		if err != nil {
			return err
		}
		atts, err := tx.AttachmentsOfApp(ctx, a.ID)
		if err != nil {
			return err
		}
		if err := checkVarPatch(patch, atts); err != nil {
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
		out, err = appVars(ctx, tx, a.ID)
		return err
	})
	return http.StatusOK, out, err
}
