package sqlrepo

import (
	"context"

	"larder/fault"
	"larder/store"
)

// Add-ons are scanned by hand, not by sqlx's reflection: listing 10 000 of
// them is a page users wait for, and reflection cost a third of it.
const (
	// addonShown selects what a listing shows of an add-on, in addonDest's
	// order: each column costs a listing of 10 000 SQLite a millisecond.
	addonShown = `SELECT addons.id, addons.name, addons.service, addons.plan, addons.app_id, apps.name,
	addons.state, addons.state_reason, addons.maxmemory_policy, addons.timeout, addons.notify_keyspace_events,
	addons.engine, addons.engine_version, addons.created_at, addons.updated_at`
	// addonCols selects the whole add-on: its credentials and epoch too.
	addonCols = addonShown + `, addons.admin_password, addons.customer_user, addons.customer_password,
	addons.epoch, addons.repl_password, addons.customer_password_alt`
	addonsFrom = ` FROM addons JOIN apps ON apps.id = addons.app_id `
	nShown     = 15
)

// addonDest is where a row of addonCols goes in a.
func addonDest(a *store.Addon) [21]any {
	return [...]any{&a.ID, &a.Name, &a.Service, &a.Plan, &a.AppID, &a.AppName,
		&a.State, &a.StateReason, &a.MaxMemoryPolicy, &a.Timeout, &a.NotifyKeyspaceEvents,
		&a.Engine, &a.EngineVersion, &a.CreatedAt, &a.UpdatedAt,
		&a.AdminPassword, &a.CustomerUser, &a.CustomerPassword, &a.Epoch, &a.ReplPassword, &a.CustomerPasswordAlt}
}

// addon reads the one add-on query selects (sql.ErrNoRows when none).
func (q addonRepo) addon(ctx context.Context, query string, args ...any) (store.Addon, error) {
	var a store.Addon
	d := addonDest(&a)
	err := q.x.QueryRowxContext(ctx, q.d.rebind(addonCols+addonsFrom+query), args...).Scan(d[:]...)
	return a, q.d.reach(err)
}

// addons reads the add-ons query selects (cols, addonShown or addonCols),
// room made for about n of them up front (growing a slice of 10 000
// add-ons cost a fifth of listing them).
func (q addonRepo) addons(ctx context.Context, cols string, n int, query string, args ...any) ([]store.Addon, error) {
	out, err := q.scanAddons(ctx, cols, n, query, args...)
	return out, q.d.reach(err)
}

func (q addonRepo) scanAddons(ctx context.Context, cols string, n int, query string, args ...any) ([]store.Addon, error) {
	rows, err := q.x.QueryContext(ctx, q.d.rebind(cols+addonsFrom+query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	width := len(addonDest(&store.Addon{}))
	if cols == addonShown {
		width = nShown
	}
	out := make([]store.Addon, 0, n)
	for rows.Next() {
		out = append(out, store.Addon{})
		d := addonDest(&out[len(out)-1])
		if err := rows.Scan(d[:width]...); err != nil {
			return nil, err
		}
	}
	return out, rows.Err()
}

// CreateAddon inserts an add-on; a taken name is a Conflict.
func (q addonRepo) CreateAddon(ctx context.Context, a *store.Addon) error {
	if a.ID == "" {
		a.ID = store.NewID()
	}
	a.CreatedAt, a.UpdatedAt = q.now(), q.now()
	if a.Epoch == 0 {
		a.Epoch = 1
	}
	_, err := q.exec(ctx, `INSERT INTO addons (id, name, service, plan, app_id, state, state_reason,
		maxmemory_policy, timeout, notify_keyspace_events, engine, engine_version,
		admin_password, customer_user, customer_password, epoch, created_at, updated_at, repl_password)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.Name, a.Service, a.Plan, a.AppID, a.State, a.StateReason,
		a.MaxMemoryPolicy, a.Timeout, a.NotifyKeyspaceEvents, a.Engine, a.EngineVersion,
		a.AdminPassword, a.CustomerUser, a.CustomerPassword, a.Epoch, a.CreatedAt, a.UpdatedAt, a.ReplPassword)
	if q.isUnique(err) {
		return fault.E(fault.Conflict, "an add-on named %s already exists", a.Name)
	}
	return err
}

// AddonByID returns one add-on.
func (q addonRepo) AddonByID(ctx context.Context, id string) (store.Addon, error) {
	a, err := q.addon(ctx, `WHERE addons.id = ?`, id)
	return a, notFound(err, "no add-on with id %s", id)
}

// AddonByName returns one add-on by its global name.
func (q addonRepo) AddonByName(ctx context.Context, name string) (store.Addon, error) {
	a, err := q.addon(ctx, `WHERE addons.name = ?`, name)
	return a, notFound(err, "no add-on named %s", name)
}

// Addons lists every add-on, by name.
func (q addonRepo) Addons(ctx context.Context) ([]store.Addon, error) {
	return q.list(ctx, addonCols, "")
}

// AddonsOfApp lists add-ons owned by or attached to an app, by name.
func (q addonRepo) AddonsOfApp(ctx context.Context, appID string) ([]store.Addon, error) {
	return q.addons(ctx, addonCols, 0, ofApp+` ORDER BY addons.name`, appID, appID)
}

// ListedAddons lists what a listing shows of add-ons: see store.AddonRepo.
func (q addonRepo) ListedAddons(ctx context.Context, appID string) ([]store.Addon, error) {
	return q.list(ctx, addonShown, appID)
}

// ofApp selects the add-ons an app owns or is attached to.
const ofApp = `WHERE addons.app_id = ? OR addons.id IN (SELECT addon_id FROM attachments WHERE app_id = ?)`

// list reads cols of the add-ons of app appID (AddonsOfApp's), or of every
// add-on when appID is "", by name.
func (q addonRepo) list(ctx context.Context, cols, appID string) ([]store.Addon, error) {
	if appID != "" {
		return q.addons(ctx, cols, 0, ofApp+` ORDER BY addons.name`, appID, appID)
	}
	var n int
	if err := q.get(ctx, &n, `SELECT COUNT(*) FROM addons`); err != nil {
		return nil, err
	}
	return q.addons(ctx, cols, n, `ORDER BY addons.name`)
}

// CountOwnedAddons counts the add-ons an app owns.
func (q addonRepo) CountOwnedAddons(ctx context.Context, appID string) (int, error) {
	var n int
	return n, q.get(ctx, &n, `SELECT COUNT(*) FROM addons WHERE app_id = ?`, appID)
}

// SetAddonState moves an add-on to state with a reason (empty when healthy).
func (q addonRepo) SetAddonState(ctx context.Context, id, state, reason string) error {
	return q.execOne(ctx, "add-on", `UPDATE addons SET state = ?, state_reason = ?, updated_at = ? WHERE id = ?`,
		state, reason, q.now(), id)
}

// SetAddonEngine records the engine and version an add-on runs.
func (q addonRepo) SetAddonEngine(ctx context.Context, id, engine, version string) error {
	return q.execOne(ctx, "add-on", `UPDATE addons SET engine = ?, engine_version = ?, updated_at = ? WHERE id = ?`,
		engine, version, q.now(), id)
}

// DeleteAddon removes an add-on with its attachments and nodes.
func (q addonRepo) DeleteAddon(ctx context.Context, id string) error {
	return q.execOne(ctx, "add-on", `DELETE FROM addons WHERE id = ?`, id)
}

// UpdateAddonSettings records an add-on's customer-tunable settings.
func (q addonRepo) UpdateAddonSettings(ctx context.Context, id, policy string, timeout int, notify string) error {
	return q.execOne(ctx, "add-on", `UPDATE addons SET maxmemory_policy = ?, timeout = ?, notify_keyspace_events = ?, updated_at = ? WHERE id = ?`,
		policy, timeout, notify, q.now(), id)
}

// SetCustomerPasswords records the customer's password — every attached
// app's URL is derived from it, so they all change with this one row — and
// the second one its nodes also accept while a rotation is under way ("" for
// none).
func (q addonRepo) SetCustomerPasswords(ctx context.Context, id, password, alt string) error {
	return q.execOne(ctx, "add-on", `UPDATE addons SET customer_password = ?, customer_password_alt = ?, updated_at = ? WHERE id = ?`,
		password, alt, q.now(), id)
}

// SetAddonPlan records the plan an add-on now runs on.
func (q addonRepo) SetAddonPlan(ctx context.Context, id, plan string) error {
	return q.execOne(ctx, "add-on", `UPDATE addons SET plan = ?, updated_at = ? WHERE id = ?`, plan, q.now(), id)
}

// HandOverAddon gives a spare add-on to its owner: see store.AddonRepo.
func (q addonRepo) HandOverAddon(ctx context.Context, id, from, to, name string) (bool, error) {
	now := q.now()
	res, err := q.exec(ctx, `UPDATE addons SET app_id = ?, name = ?, created_at = ?, updated_at = ? WHERE id = ? AND app_id = ?`,
		to, name, now, now, id, from)
	if q.isUnique(err) {
		return false, fault.E(fault.Conflict, "an add-on named %s already exists", name)
	}
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// AdvanceEpoch moves an add-on's epoch from read, the epoch its caller read
// before deciding on a change of roles, to read+1 and returns it. It is a
// compare-and-set: when another writer moved the epoch first, nothing changes
// and the answer is a Conflict, so of two promotions decided on the same
// state exactly one is recorded.
func (q addonRepo) AdvanceEpoch(ctx context.Context, id string, read int64) (int64, error) {
	res, err := q.exec(ctx, `UPDATE addons SET epoch = epoch + 1, updated_at = ? WHERE id = ? AND epoch = ?`, q.now(), id, read)
	if err != nil {
		return 0, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return read + 1, err
	}
	now, err := q.AddonEpoch(ctx, id)
	if err != nil {
		return 0, err
	}
	return 0, fault.E(fault.Conflict, "the roles of this add-on changed under epoch %d since they were read under epoch %d", now, read)
}

// AddonEpoch returns an add-on's epoch.
func (q addonRepo) AddonEpoch(ctx context.Context, id string) (int64, error) {
	var e int64
	err := q.get(ctx, &e, `SELECT epoch FROM addons WHERE id = ?`, id)
	return e, notFound(err, "no add-on with id %s", id)
}
