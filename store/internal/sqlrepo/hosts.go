package sqlrepo

import (
	"context"

	"larder/store"
)

// UpsertHost records an agent (registration is idempotent: a restarted agent
// registers again with its new URL or token).
func (q hostRepo) UpsertHost(ctx context.Context, h *store.Host) error {
	h.CreatedAt, h.UpdatedAt = q.now(), q.now()
	_, err := q.exec(ctx, `INSERT INTO hosts (name, url, token, draining, created_at, updated_at) VALUES (?, ?, ?, FALSE, ?, ?)
		ON CONFLICT (name) DO UPDATE SET url = excluded.url, token = excluded.token, updated_at = excluded.updated_at`,
		h.Name, h.URL, h.Token, h.CreatedAt, h.UpdatedAt)
	return err
}

// Hosts lists the registered agents.
func (q hostRepo) Hosts(ctx context.Context) ([]store.Host, error) {
	var out []store.Host
	return out, q.sel(ctx, &out, `SELECT * FROM hosts ORDER BY name`)
}

// SetHostDraining marks a host so no new node is placed on it.
func (q hostRepo) SetHostDraining(ctx context.Context, name string, draining bool) error {
	return q.execOne(ctx, "host", `UPDATE hosts SET draining = ?, updated_at = ? WHERE name = ?`, draining, q.now(), name)
}

// SetHostCursor records how far the broker has read a host's events.
func (q hostRepo) SetHostCursor(ctx context.Context, name, boot string, seq int64) error {
	_, err := q.exec(ctx, `UPDATE hosts SET event_boot = ?, event_seq = ? WHERE name = ?`, boot, seq, name)
	return err
}

// HostByName returns one registered host.
func (q hostRepo) HostByName(ctx context.Context, name string) (store.Host, error) {
	var h store.Host
	err := q.get(ctx, &h, `SELECT * FROM hosts WHERE name = ?`, name)
	return h, notFound(err, "no host named %s", name)
}
