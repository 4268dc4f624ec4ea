package sqlrepo

import (
	"context"
	"time"

	"larder/store"
)

// CreateOperation inserts an operation.
func (q operationRepo) CreateOperation(ctx context.Context, op *store.Operation) error {
	if op.ID == "" {
		op.ID = store.NewID()
	}
	op.CreatedAt, op.UpdatedAt = q.now(), q.now()
	if op.Params == "" {
		op.Params = "{}"
	}
	op.LeaseUntil = op.LeaseUntil.UTC()
	_, err := q.exec(ctx, `INSERT INTO operations (id, addon_id, addon_name, kind, state, progress, error, params, step,
		owner, lease_until, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		op.ID, op.AddonID, op.AddonName, op.Kind, op.State, op.Progress, op.Error, op.Params, op.Step,
		op.Owner, op.LeaseUntil, op.CreatedAt, op.UpdatedAt)
	return err
}

// ClaimOperation takes an unfinished operation no one holds.
func (q operationRepo) ClaimOperation(ctx context.Context, id, owner string, now time.Time, ttl time.Duration) (bool, error) {
	return q.changed(q.exec(ctx, `UPDATE operations SET owner = ?, lease_until = ?
		WHERE id = ? AND state NOT IN ('succeeded', 'failed') AND (owner = '' OR lease_until < ?)`,
		owner, now.Add(ttl).UTC(), id, now.UTC()))
}

// RenewOperation extends a lease its owner still holds.
func (q operationRepo) RenewOperation(ctx context.Context, id, owner string, now time.Time, ttl time.Duration) (bool, error) {
	return q.changed(q.exec(ctx, `UPDATE operations SET lease_until = ? WHERE id = ? AND owner = ?`,
		now.Add(ttl).UTC(), id, owner))
}

// ReleaseOperation gives up a lease.
func (q operationRepo) ReleaseOperation(ctx context.Context, id, owner string) error {
	_, err := q.exec(ctx, `UPDATE operations SET owner = '', lease_until = ? WHERE id = ? AND owner = ?`, time.Time{}, id, owner)
	return err
}

// SetOperationStep records the point an operation has reached and its
// params while owner holds it.
func (q operationRepo) SetOperationStep(ctx context.Context, id, owner, step, params string) (bool, error) {
	return q.changed(q.exec(ctx, `UPDATE operations SET step = ?, params = ?, updated_at = ? WHERE id = ? AND owner = ?`,
		step, params, q.now(), id, owner))
}

// UnfinishedOperationsOf lists an add-on's operations not yet succeeded or
// failed, oldest first.
func (q operationRepo) UnfinishedOperationsOf(ctx context.Context, addonID string) ([]store.Operation, error) {
	var out []store.Operation
	return out, q.sel(ctx, &out, `SELECT * FROM operations WHERE addon_id = ? AND state NOT IN ('succeeded', 'failed') ORDER BY created_at`, addonID)
}

// OperationByID returns one operation.
func (q operationRepo) OperationByID(ctx context.Context, id string) (store.Operation, error) {
	var op store.Operation
	err := q.get(ctx, &op, `SELECT * FROM operations WHERE id = ?`, id)
	return op, notFound(err, "no operation with id %s", id)
}

// UpdateOperation sets an operation's state, progress and error.
func (q operationRepo) UpdateOperation(ctx context.Context, id, state, progress, errMsg string) error {
	return q.execOne(ctx, "operation", `UPDATE operations SET state = ?, progress = ?, error = ?, updated_at = ? WHERE id = ?`,
		state, progress, errMsg, q.now(), id)
}

// UpdateOwnedOperation sets an operation's state, progress and error while
// owner holds it.
func (q operationRepo) UpdateOwnedOperation(ctx context.Context, id, owner, state, progress, errMsg string) (bool, error) {
	return q.changed(q.exec(ctx, `UPDATE operations SET state = ?, progress = ?, error = ?, updated_at = ? WHERE id = ? AND owner = ?`,
		state, progress, errMsg, q.now(), id, owner))
}

// UnfinishedOperations lists operations not yet succeeded or failed, oldest first.
func (q operationRepo) UnfinishedOperations(ctx context.Context) ([]store.Operation, error) {
	var out []store.Operation
	return out, q.sel(ctx, &out, `SELECT * FROM operations WHERE state NOT IN ('succeeded', 'failed') ORDER BY created_at`)
}

// AddEvent appends an event to an add-on's history.
func (q operationRepo) AddEvent(ctx context.Context, addonID, addonName, kind, message string) error {
	_, err := q.exec(ctx, `INSERT INTO events (addon_id, addon_name, kind, message, created_at) VALUES (?, ?, ?, ?, ?)`,
		addonID, addonName, kind, message, q.now())
	return err
}

// EventsOfAddon lists an add-on's events, oldest first.
func (q operationRepo) EventsOfAddon(ctx context.Context, addonID string) ([]store.Event, error) {
	var out []store.Event
	return out, q.sel(ctx, &out, `SELECT * FROM events WHERE addon_id = ? ORDER BY id`, addonID)
}
