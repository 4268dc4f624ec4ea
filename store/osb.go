package store

import "time"

// States of Open Service Broker rows.
const (
	OSBActive    = "active"    // the instance or binding exists (or is being created or deleted)
	OSBDeleted   = "deleted"   // deleted; remembered so a late poll still learns it succeeded
	OSBForgotten = "forgotten" // only the id is left, to answer 410 rather than 404
)

// OSBInstance is a platform's service instance: an add-on and the request
// that made it.
type OSBInstance struct {
	InstanceID       string     `db:"instance_id"`
	AddonID          string     `db:"addon_id"`
	ServiceID        string     `db:"service_id"`
	PlanID           string     `db:"plan_id"`
	OrganizationGUID string     `db:"organization_guid"`
	SpaceGUID        string     `db:"space_guid"`
	Parameters       string     `db:"parameters"`
	Context          string     `db:"context"`
	OperationID      string     `db:"operation_id"`
	OperationKind    string     `db:"operation_kind"`
	State            string     `db:"state"`
	CreatedAt        time.Time  `db:"created_at"`
	UpdatedAt        time.Time  `db:"updated_at"`
	DeletedAt        *time.Time `db:"deleted_at"`
}

// OSBBinding is a platform's binding: an engine user of the instance's add-on.
type OSBBinding struct {
	BindingID  string     `db:"binding_id"`
	InstanceID string     `db:"instance_id"`
	AddonID    string     `db:"addon_id"`
	ServiceID  string     `db:"service_id"`
	PlanID     string     `db:"plan_id"`
	Username   string     `db:"username"`
	Password   string     `db:"password"`
	Parameters string     `db:"parameters"`
	State      string     `db:"state"`
	CreatedAt  time.Time  `db:"created_at"`
	DeletedAt  *time.Time `db:"deleted_at"`
}
