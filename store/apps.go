package store

import (
	"context"

	"larder/fault"
)

// CreateApp inserts an app; a taken name is a Conflict.
func (q Q) CreateApp(ctx context.Context, name string) (App, error) {
	a := App{ID: NewID(), Name: name, CreatedAt: q.now()}
	_, err := q.exec(ctx, `INSERT INTO apps (id, name, created_at) VALUES (?, ?, ?)`, a.ID, a.Name, a.CreatedAt)
	if isUnique(err) {
		return App{}, fault.E(fault.Conflict, "app %s already exists", name)
	}
	return a, err
}

// AppByName returns the named app.
func (q Q) AppByName(ctx context.Context, name string) (App, error) {
	var a App
	err := q.get(ctx, &a, `SELECT * FROM apps WHERE name = ?`, name)
	return a, notFound(err, "no app named %s", name)
}

// Apps lists every app by name.
func (q Q) Apps(ctx context.Context) ([]App, error) {
	var out []App
	return out, q.sel(ctx, &out, `SELECT * FROM apps ORDER BY name`)
}

// DeleteApp removes an app with its user config vars and attachments.
func (q Q) DeleteApp(ctx context.Context, id string) error {
	return q.execOne(ctx, "app", `DELETE FROM apps WHERE id = ?`, id)
}

// UserVars returns the vars users set on an app (not the add-on ones).
func (q Q) UserVars(ctx context.Context, appID string) (map[string]string, error) {
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
func (q Q) SetUserVar(ctx context.Context, appID, name, value string) error {
	_, err := q.exec(ctx, `INSERT INTO config_vars (app_id, name, value) VALUES (?, ?, ?)
		ON CONFLICT (app_id, name) DO UPDATE SET value = excluded.value`, appID, name, value)
	return err
}

// UnsetUserVar removes one user var; a missing var is not an error.
func (q Q) UnsetUserVar(ctx context.Context, appID, name string) error {
	_, err := q.exec(ctx, `DELETE FROM config_vars WHERE app_id = ? AND name = ?`, appID, name)
	return err
}
