package store

import "context"

// CreateOperation inserts an operation.
func (q Q) CreateOperation(ctx context.Context, op *Operation) error {
	if op.ID == "" {
		op.ID = NewID()
	}
	op.CreatedAt, op.UpdatedAt = q.now(), q.now()
	if op.Params == "" {
		op.Params = "{}"
	}
	_, err := q.exec(ctx, `INSERT INTO operations (id, addon_id, addon_name, kind, state, progress, error, params, step, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		op.ID, op.AddonID, op.AddonName, op.Kind, op.State, op.Progress, op.Error, op.Params, op.Step, op.CreatedAt, op.UpdatedAt)
	return err
}

// SetOperationStep records the point an operation has reached and its
// params as they now are.
func (q Q) SetOperationStep(ctx context.Context, id, step, params string) error {
	return q.execOne(ctx, "operation", `UPDATE operations SET step = ?, params = ?, updated_at = ? WHERE id = ?`,
		step, params, q.now(), id)
}

// UnfinishedOperationsOf lists an add-on's operations not yet succeeded or
// failed, oldest first.
func (q Q) UnfinishedOperationsOf(ctx context.Context, addonID string) ([]Operation, error) {
	var out []Operation
	return out, q.sel(ctx, &out, `SELECT * FROM operations WHERE addon_id = ? AND state NOT IN ('succeeded', 'failed') ORDER BY created_at`, addonID)
}

// OperationByID returns one operation.
func (q Q) OperationByID(ctx context.Context, id string) (Operation, error) {
	var op Operation
	err := q.get(ctx, &op, `SELECT * FROM operations WHERE id = ?`, id)
	return op, notFound(err, "no operation with id %s", id)
}

// UpdateOperation sets an operation's state, progress and error.
func (q Q) UpdateOperation(ctx context.Context, id, state, progress, errMsg string) error {
	return q.execOne(ctx, "operation", `UPDATE operations SET state = ?, progress = ?, error = ?, updated_at = ? WHERE id = ?`,
		state, progress, errMsg, q.now(), id)
}

// UnfinishedOperations lists operations not yet succeeded or failed, oldest first.
func (q Q) UnfinishedOperations(ctx context.Context) ([]Operation, error) {
	var out []Operation
	return out, q.sel(ctx, &out, `SELECT * FROM operations WHERE state NOT IN ('succeeded', 'failed') ORDER BY created_at`)
}

// AddEvent appends an event to an add-on's history.
func (q Q) AddEvent(ctx context.Context, addonID, addonName, kind, message string) error {
	_, err := q.exec(ctx, `INSERT INTO events (addon_id, addon_name, kind, message, created_at) VALUES (?, ?, ?, ?, ?)`,
		addonID, addonName, kind, message, q.now())
	return err
}

// EventsOfAddon lists an add-on's events, oldest first.
func (q Q) EventsOfAddon(ctx context.Context, addonID string) ([]Event, error) {
	var out []Event
	return out, q.sel(ctx, &out, `SELECT * FROM events WHERE addon_id = ? ORDER BY id`, addonID)
}
