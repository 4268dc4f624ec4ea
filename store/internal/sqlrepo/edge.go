package sqlrepo

import (
	"context"
	"fmt"
	"strings"

	"larder/fault"
	"larder/store"
)

// edgeRow is an add-on's edge as one query returns it.
type edgeRow struct {
	AddonID   string `db:"addon_id"`
	Host      string `db:"host"`
	Allowlist string `db:"allowlist"`
	TLSOnly   bool   `db:"tls_only"`
	Port      int    `db:"port"`
	TLSPort   int    `db:"tls_port"`
}

func (r edgeRow) edge() store.Edge {
	e := store.Edge{AddonID: r.AddonID, Host: r.Host, Port: r.Port, TLSPort: r.TLSPort, TLSOnly: r.TLSOnly}
	if r.Allowlist != "" {
		e.Allowlist = strings.Split(r.Allowlist, "\n")
	}
	return e
}

const edgeSelect = `SELECT e.addon_id, e.host, e.allowlist, e.tls_only,
	COALESCE((SELECT port FROM edge_ports p WHERE p.addon_id = e.addon_id AND p.kind = 'plain'), 0) AS port,
	COALESCE((SELECT port FROM edge_ports p WHERE p.addon_id = e.addon_id AND p.kind = 'tls'), 0) AS tls_port
	FROM edges e`

// EnsureEdge records an add-on's edge unless it has one.
func (q edgeRepo) EnsureEdge(ctx context.Context, addonID, host string) error {
	_, err := q.exec(ctx, `INSERT INTO edges (addon_id, host) VALUES (?, ?) ON CONFLICT (addon_id) DO NOTHING`, addonID, host)
	if q.isForeignKey(err) {
		return fault.E(fault.NotFound, "no add-on with id %s", addonID)
	}
	return err
}

// ClaimEdgePort claims port for the add-on unless it is taken
// (ON CONFLICT (port) DO NOTHING: the transaction stays usable).
func (q edgeRepo) ClaimEdgePort(ctx context.Context, addonID, kind string, port int) (bool, error) {
	if kind != store.EdgePlain && kind != store.EdgeTLS {
		return false, fault.E(fault.Invalid, "edge port kind %q: want %s or %s", kind, store.EdgePlain, store.EdgeTLS)
	}
	res, err := q.exec(ctx, `INSERT INTO edge_ports (port, addon_id, kind) VALUES (?, ?, ?) ON CONFLICT (port) DO NOTHING`, port, addonID, kind)
	switch {
	case q.isUnique(err):
		return false, fault.E(fault.Conflict, "add-on %s already has a %s edge port", addonID, kind)
	case q.isForeignKey(err):
		return false, fault.E(fault.NotFound, "add-on %s has no edge", addonID)
	}
	return q.changed(res, err)
}

// UsedEdgePorts lists every claimed edge port.
func (q edgeRepo) UsedEdgePorts(ctx context.Context) ([]int, error) {
	var out []int
	return out, q.sel(ctx, &out, `SELECT port FROM edge_ports ORDER BY port`)
}

// EdgeOf returns an add-on's edge.
func (q edgeRepo) EdgeOf(ctx context.Context, addonID string) (store.Edge, error) {
	var r edgeRow
	err := q.get(ctx, &r, edgeSelect+` WHERE e.addon_id = ?`, addonID)
	return r.edge(), notFound(err, "add-on %s has no edge", addonID)
}

// Edges lists every add-on's edge.
func (q edgeRepo) Edges(ctx context.Context) ([]store.Edge, error) {
	var rows []edgeRow
	if err := q.sel(ctx, &rows, edgeSelect+` ORDER BY e.addon_id`); err != nil {
		return nil, err
	}
	out := make([]store.Edge, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.edge())
	}
	return out, nil
}

// SetEdgeAccess replaces an add-on's allowlist and TLS-only setting.
func (q edgeRepo) SetEdgeAccess(ctx context.Context, addonID string, allowlist []string, tlsOnly bool) error {
	for _, c := range allowlist {
		if c == "" || strings.ContainsAny(c, "\n") {
			return fault.E(fault.Invalid, "allowlist entry %q", c)
		}
	}
	err := q.execOne(ctx, "edge", `UPDATE edges SET allowlist = ?, tls_only = ? WHERE addon_id = ?`,
		strings.Join(allowlist, "\n"), tlsOnly, addonID)
	if fault.KindOf(err) == fault.NotFound {
		return fault.E(fault.NotFound, "add-on %s has no edge", addonID)
	}
	if err != nil {
		return fmt.Errorf("set edge access: %w", err)
	}
	return nil
}
