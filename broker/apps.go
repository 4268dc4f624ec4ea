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

func (b *Broker) listApps(w http.ResponseWriter, r *http.Request) {
	apps, err := b.store.Apps(r.Context())
	if err != nil {
		b.writeError(w, r, err)
		return
	}
	out := make([]api.App, 0, len(apps))
	for _, a := range apps {
		out = append(out, appJSON(a))
	}
	writeJSON(w, http.StatusOK, out)
}

func (b *Broker) createApp(w http.ResponseWriter, r *http.Request) {
	var req api.AppCreate
	if err := decodeBody(r, &req, false); err != nil {
		b.writeError(w, r, err)
		return
	}
	req.Name = strings.TrimSpace(req.Name)
	if err := checkAppName(req.Name); err != nil {
		b.writeError(w, r, err)
		return
	}
	a, err := b.store.CreateApp(r.Context(), req.Name)
	if err != nil {
		b.writeError(w, r, err)
		return
	}
	b.log.WithField("app", a.Name).Info("app created")
	writeJSON(w, http.StatusCreated, appJSON(a))
}

func (b *Broker) getApp(w http.ResponseWriter, r *http.Request) {
	a, err := b.store.AppByName(r.Context(), mux.Vars(r)["app"])
	if err != nil {
		b.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, appJSON(a))
}

// destroyApp refuses while the app owns add-ons: destroying them is a separate,
// confirmed action, so no data goes with a mistyped app name.
func (b *Broker) destroyApp(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	err := b.store.InTx(ctx, func(tx *store.Tx) error {
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
	if err != nil {
		b.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (b *Broker) getConfigVars(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	a, err := b.store.AppByName(ctx, mux.Vars(r)["app"])
	if err != nil {
		b.writeError(w, r, err)
		return
	}
	vars, err := appVars(ctx, b.store.Q, a.ID)
	if err != nil {
		b.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, vars)
}

// patchConfigVars sets (non-null) and unsets (null) user vars in one
// transaction. Vars owned by an attachment cannot be changed this way.
func (b *Broker) patchConfigVars(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var patch api.ConfigPatch
	if err := decodeBody(r, &patch, false); err != nil {
		b.writeError(w, r, err)
		return
	}
	var out api.ConfigVars
	err := b.store.InTx(ctx, func(tx *store.Tx) error {
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
		out, err = appVars(ctx, tx.Q, a.ID)
		return err
	})
	if err != nil {
		b.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}
