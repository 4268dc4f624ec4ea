package sqlrepo

import (
	"context"

	"larder/fault"
	"larder/store"
)

// CreateApp inserts an app; a taken name is a Conflict.
func (q appRepo) CreateApp(ctx context.Context, name string) (store.App, error) {
	a := store.App{ID: store.NewID(), Name: name, CreatedAt: q.now()}
	_, err := q.exec(ctx, `INSERT INTO apps (id, name, created_at) VALUES (?, ?, ?)`, a.ID, a.Name, a.CreatedAt)
	if q.isUnique(err) {
		return store.App{}, fault.E(fault.Conflict, "app %s already exists", name)
	}
	return a, err
}

// EnsureApp creates the app unless it exists (INSERT … ON CONFLICT DO
// NOTHING: no failed statement inside the caller's transaction) and returns it.
func (q appRepo) EnsureApp(ctx context.Context, name string) (store.App, error) {
	if _, err := q.exec(ctx, `INSERT INTO apps (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		store.NewID(), name, q.now()); err != nil {
		return store.App{}, err
	}
	return q.AppByName(ctx, name)
}

// AppByName returns the named app.
func (q appRepo) AppByName(ctx context.Context, name string) (store.App, error) {
	var a store.App
	err := q.get(ctx, &a, `SELECT * FROM apps WHERE name = ?`, name)
	return a, notFound(err, "no app named %s", name)
}

// Apps lists every app by name.
func (q appRepo) Apps(ctx context.Context) ([]store.App, error) {
	var out []store.App
	return out, q.sel(ctx, &out, `SELECT * FROM apps ORDER BY name`)
}

// DeleteApp removes an app with its user config vars and attachments.
func (q appRepo) DeleteApp(ctx context.Context, id string) error {
	return q.execOne(ctx, "app", `DELETE FROM apps WHERE id = ?`, id)
}

// UserVars returns the vars users set on an app (not the add-on ones).
func (q appRepo) UserVars(ctx context.Context, appID string) (map[string]string, error) {
	var rows []struct {
		Name  string `db:"name"`
		Value string `db:"value"`
	}
	if err := q.sel(ctx, &rows, `SELECT name, value FROM config_vars WHERE app_id = ?`, appID); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.Name] = r.Value
	}
	return out, nil
}

// SetUserVar sets one user var.
func (q appRepo) SetUserVar(ctx context.Context, appID, name, value string) error {
	_, err := q.exec(ctx, `INSERT INTO config_vars (app_id, name, value) VALUES (?, ?, ?)
		ON CONFLICT (app_id, name) DO UPDATE SET value = excluded.value`, appID, name, value)
	return err
}

// UnsetUserVar removes one user var; a missing var is not an error.
func (q appRepo) UnsetUserVar(ctx context.Context, appID, name string) error {
	_, err := q.exec(ctx, `DELETE FROM config_vars WHERE app_id = ? AND name = ?`, appID, name)
	return err
}
