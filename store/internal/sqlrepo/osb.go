package sqlrepo

import (
	"context"
	"time"

	"larder/fault"
	"larder/store"
)

// CreateOSBInstance inserts an instance; an id already present is a Conflict.
func (q osbRepo) CreateOSBInstance(ctx context.Context, in *store.OSBInstance) error {
	in.CreatedAt, in.UpdatedAt = q.now(), q.now()
	if in.State == "" {
		in.State = store.OSBActive
	}
	_, err := q.exec(ctx, `INSERT INTO osb_instances (instance_id, addon_id, service_id, plan_id, organization_guid,
		space_guid, parameters, context, operation_id, operation_kind, state, created_at, updated_at, deleted_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		in.InstanceID, in.AddonID, in.ServiceID, in.PlanID, in.OrganizationGUID, in.SpaceGUID,
		in.Parameters, in.Context, in.OperationID, in.OperationKind, in.State, in.CreatedAt, in.UpdatedAt, in.DeletedAt)
	if q.isUnique(err) {
		return fault.E(fault.Conflict, "service instance %s already exists", in.InstanceID)
	}
	return err
}

// OSBInstanceByID returns one instance, whatever its state.
func (q osbRepo) OSBInstanceByID(ctx context.Context, id string) (store.OSBInstance, error) {
	var in store.OSBInstance
	err := q.get(ctx, &in, `SELECT * FROM osb_instances WHERE instance_id = ?`, id)
	return in, notFound(err, "no service instance %s", id)
}

// OSBInstancesOfAddon lists the instances recorded for an add-on (one, unless
// ids were reused).
func (q osbRepo) OSBInstancesOfAddon(ctx context.Context, addonID string) ([]store.OSBInstance, error) {
	var out []store.OSBInstance
	return out, q.sel(ctx, &out, `SELECT * FROM osb_instances WHERE addon_id = ? ORDER BY created_at`, addonID)
}

// SetOSBInstanceOperation records the instance's latest async operation.
func (q osbRepo) SetOSBInstanceOperation(ctx context.Context, id, opID, kind string) error {
	return q.execOne(ctx, "service instance", `UPDATE osb_instances SET operation_id = ?, operation_kind = ?, updated_at = ?
		WHERE instance_id = ?`, opID, kind, q.now(), id)
}

// SetOSBInstanceRequest records what the platform last asked an instance to be.
func (q osbRepo) SetOSBInstanceRequest(ctx context.Context, id, planID, parameters, context string) error {
	return q.execOne(ctx, "service instance", `UPDATE osb_instances SET plan_id = ?, parameters = ?, context = ?, updated_at = ?
		WHERE instance_id = ?`, planID, parameters, context, q.now(), id)
}

// MarkOSBInstanceDeleted records that an instance's deletion finished at at,
// together with the deletion of every binding it still had.
func (q osbRepo) MarkOSBInstanceDeleted(ctx context.Context, id string, at time.Time) error {
	if err := q.execOne(ctx, "service instance", `UPDATE osb_instances SET state = ?, deleted_at = ?, updated_at = ?
		WHERE instance_id = ?`, store.OSBDeleted, at.UTC(), q.now(), id); err != nil {
		return err
	}
	_, err := q.exec(ctx, `UPDATE osb_bindings SET state = ?, password = '', deleted_at = ?
		WHERE instance_id = ? AND state = ?`, store.OSBDeleted, at.UTC(), id, store.OSBActive)
	return err
}

// DeleteOSBInstance removes an instance row and the binding rows it left, so
// that its id can be used again. Live bindings are never removed this way.
func (q osbRepo) DeleteOSBInstance(ctx context.Context, id string) error {
	if _, err := q.exec(ctx, `DELETE FROM osb_bindings WHERE instance_id = ? AND state != ?`, id, store.OSBActive); err != nil {
		return err
	}
	return q.execOne(ctx, "service instance", `DELETE FROM osb_instances WHERE instance_id = ?`, id)
}

// ForgetOSB reduces instances and bindings deleted before cutoff to their ids:
// their requests, contexts and parameters are dropped. Timestamps are stored as
// UTC text, so comparing them compares the instants.
func (q osbRepo) ForgetOSB(ctx context.Context, cutoff time.Time) error {
	if _, err := q.exec(ctx, `UPDATE osb_instances SET state = ?, parameters = '{}', context = '{}', updated_at = ?
		WHERE state = ? AND deleted_at < ?`, store.OSBForgotten, q.now(), store.OSBDeleted, cutoff.UTC()); err != nil {
		return err
	}
	_, err := q.exec(ctx, `UPDATE osb_bindings SET state = ?, password = '', parameters = '{}'
		WHERE state = ? AND deleted_at < ?`, store.OSBForgotten, store.OSBDeleted, cutoff.UTC())
	return err
}

// CreateOSBBinding inserts a binding; an id already present is a Conflict.
func (q osbRepo) CreateOSBBinding(ctx context.Context, bd *store.OSBBinding) error {
	bd.CreatedAt = q.now()
	if bd.State == "" {
		bd.State = store.OSBActive
	}
	_, err := q.exec(ctx, `INSERT INTO osb_bindings (binding_id, instance_id, addon_id, service_id, plan_id,
		username, password, parameters, state, created_at, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		bd.BindingID, bd.InstanceID, bd.AddonID, bd.ServiceID, bd.PlanID,
		bd.Username, bd.Password, bd.Parameters, bd.State, bd.CreatedAt, bd.DeletedAt)
	if q.isUnique(err) {
		return fault.E(fault.Conflict, "service binding %s already exists", bd.BindingID)
	}
	return err
}

// OSBBindingByID returns one binding, whatever its state.
func (q osbRepo) OSBBindingByID(ctx context.Context, id string) (store.OSBBinding, error) {
	var bd store.OSBBinding
	err := q.get(ctx, &bd, `SELECT * FROM osb_bindings WHERE binding_id = ?`, id)
	return bd, notFound(err, "no service binding %s", id)
}

// ActiveOSBBindingsOfAddon lists an add-on's live bindings, oldest first.
func (q osbRepo) ActiveOSBBindingsOfAddon(ctx context.Context, addonID string) ([]store.OSBBinding, error) {
	var out []store.OSBBinding
	return out, q.sel(ctx, &out, `SELECT * FROM osb_bindings WHERE addon_id = ? AND state = ? ORDER BY created_at, binding_id`,
		addonID, store.OSBActive)
}

// MarkOSBBindingDeleted records a binding's deletion at at and drops its password.
func (q osbRepo) MarkOSBBindingDeleted(ctx context.Context, id string, at time.Time) error {
	return q.execOne(ctx, "service binding", `UPDATE osb_bindings SET state = ?, password = '', deleted_at = ?
		WHERE binding_id = ? AND state = ?`, store.OSBDeleted, at.UTC(), id, store.OSBActive)
}

// RestoreOSBBinding puts back a binding whose deletion could not be carried
// out, password included.
func (q osbRepo) RestoreOSBBinding(ctx context.Context, bd store.OSBBinding) error {
	return q.execOne(ctx, "service binding", `UPDATE osb_bindings SET state = ?, password = ?, deleted_at = NULL
		WHERE binding_id = ?`, store.OSBActive, bd.Password, bd.BindingID)
}

// DeleteOSBBinding removes a binding row: a create rolled back, or a deleted
// binding whose id is used again.
func (q osbRepo) DeleteOSBBinding(ctx context.Context, id string) error {
	return q.execOne(ctx, "service binding", `DELETE FROM osb_bindings WHERE binding_id = ?`, id)
}
