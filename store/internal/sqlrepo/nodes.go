package sqlrepo

import (
	"context"

	"larder/fault"
	"larder/store"
)

// CreateNode inserts a node, claiming its (host, port). A port another node holds
// is a Conflict, so two concurrent provisions can never share one.
func (q nodeRepo) CreateNode(ctx context.Context, n *store.Node) error {
	ok, err := q.ClaimNode(ctx, n)
	if err == nil && !ok || q.isUnique(err) {
		return fault.E(fault.Conflict, "port %d on host %s is taken", n.Port, n.Host)
	}
	return err
}

// ClaimNode inserts a node unless its (host, port) is taken, and reports
// whether it did. A taken port is no error (INSERT … ON CONFLICT DO NOTHING),
// so a caller can try the next port inside one transaction: a failed
// statement would abort the whole transaction on PostgreSQL.
func (q nodeRepo) ClaimNode(ctx context.Context, n *store.Node) (bool, error) {
	if n.ID == "" {
		n.ID = store.NewID()
	}
	n.CreatedAt, n.UpdatedAt = q.now(), q.now()
	if n.Epoch == 0 {
		n.Epoch = 1
	}
	res, err := q.exec(ctx, `INSERT INTO nodes (id, addon_id, name, role, host, address, port, dir, pid, state, epoch, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (host, port) DO NOTHING`,
		n.ID, n.AddonID, n.Name, n.Role, n.Host, n.Address, n.Port, n.Dir, n.PID, n.State, n.Epoch, n.CreatedAt, n.UpdatedAt)
	return q.changed(res, err)
}

// MoveNodePort gives a node another port on its host unless another node
// holds that one there, and reports whether it did.
func (q nodeRepo) MoveNodePort(ctx context.Context, id string, port int) (bool, error) {
	res, err := q.exec(ctx, `UPDATE nodes SET port = ?, updated_at = ? WHERE id = ?
		AND NOT EXISTS (SELECT 1 FROM nodes o WHERE o.host = nodes.host AND o.port = ?)`, port, q.now(), id, port)
	return q.changed(res, err)
}

// UsedPorts lists the ports claimed on a host, or by any node on the same
// address (several hosts may share one, e.g. agents on one machine).
func (q nodeRepo) UsedPorts(ctx context.Context, host, address string) ([]int, error) {
	var out []int
	return out, q.sel(ctx, &out, `SELECT DISTINCT port FROM nodes WHERE host = ? OR (address = ? AND address != '') ORDER BY port`, host, address)
}

// NodeByID returns one node.
func (q nodeRepo) NodeByID(ctx context.Context, id string) (store.Node, error) {
	var n store.Node
	err := q.get(ctx, &n, `SELECT * FROM nodes WHERE id = ?`, id)
	return n, notFound(err, "no node with id %s", id)
}

// NodesOfAddon lists an add-on's nodes, primary first.
func (q nodeRepo) NodesOfAddon(ctx context.Context, addonID string) ([]store.Node, error) {
	var out []store.Node
	return out, q.sel(ctx, &out, `SELECT * FROM nodes WHERE addon_id = ? ORDER BY role = 'primary' DESC, created_at`, addonID)
}

// NodesOnHost lists the nodes placed on a host.
func (q nodeRepo) NodesOnHost(ctx context.Context, host string) ([]store.Node, error) {
	var out []store.Node
	return out, q.sel(ctx, &out, `SELECT * FROM nodes WHERE host = ? ORDER BY name`, host)
}

// UpdateNodeRuntime records where a node runs and in what state.
func (q nodeRepo) UpdateNodeRuntime(ctx context.Context, id, address, dir string, pid int, state string) error {
	return q.execOne(ctx, "node", `UPDATE nodes SET address = ?, dir = ?, pid = ?, state = ?, updated_at = ? WHERE id = ?`,
		address, dir, pid, state, q.now(), id)
}

// SetNodeState changes a node's state (and pid when pid > 0).
func (q nodeRepo) SetNodeState(ctx context.Context, id, state string, pid int) error {
	return q.execOne(ctx, "node", `UPDATE nodes SET state = ?, pid = CASE WHEN ? > 0 THEN ? ELSE pid END, updated_at = ? WHERE id = ?`,
		state, pid, pid, q.now(), id)
}

// DeleteNode removes a node row, freeing its port.
func (q nodeRepo) DeleteNode(ctx context.Context, id string) error {
	return q.execOne(ctx, "node", `DELETE FROM nodes WHERE id = ?`, id)
}

// SetNodeRole records a node's role after a switchover or failover, with the
// epoch it happened in. The epoch must be newer than the one the node's role
// was last written under: a write carrying an older (or the same) epoch is a
// Conflict and changes nothing.
func (q nodeRepo) SetNodeRole(ctx context.Context, id, role string, epoch int64) error {
	res, err := q.exec(ctx, `UPDATE nodes SET role = ?, epoch = ?, updated_at = ? WHERE id = ? AND epoch < ?`, role, epoch, q.now(), id, epoch)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	n, err := q.NodeByID(ctx, id)
	if err != nil {
		return err
	}
	return fault.E(fault.Conflict, "node %s: role written under epoch %d, not under the older epoch %d", n.Name, n.Epoch, epoch)
}

// NodeCounts returns how many nodes each host runs.
func (q nodeRepo) NodeCounts(ctx context.Context) (map[string]int, error) {
	var rows []struct {
		Host string `db:"host"`
		N    int    `db:"n"`
	}
	if err := q.sel(ctx, &rows, `SELECT host, COUNT(*) AS n FROM nodes GROUP BY host`); err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.Host] = r.N
	}
	return out, nil
}

// AllNodes lists every node.
func (q nodeRepo) AllNodes(ctx context.Context) ([]store.Node, error) {
	var out []store.Node
	return out, q.sel(ctx, &out, `SELECT * FROM nodes ORDER BY name`)
}

// NodeByName returns one node by its unique name.
func (q nodeRepo) NodeByName(ctx context.Context, name string) (store.Node, error) {
	var n store.Node
	err := q.get(ctx, &n, `SELECT * FROM nodes WHERE name = ?`, name)
	return n, notFound(err, "no node named %s", name)
}

// NodeAt returns the node listening on address:port, whichever add-on owns it.
func (q nodeRepo) NodeAt(ctx context.Context, address string, port int) (store.Node, error) {
	var n store.Node
	err := q.get(ctx, &n, `SELECT * FROM nodes WHERE address = ? AND port = ? ORDER BY created_at LIMIT 1`, address, port)
	return n, notFound(err, "no node at %s:%d", address, port)
}
