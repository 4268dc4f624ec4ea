// Package osbsvc is the orchestration side of the Open Service Broker API
// (package broker/osb is its HTTP adapter, thin over this service): an
// instance is an ordinary add-on (owned by an app derived from the
// platform's org/space or namespace) and a binding is an engine user of that
// add-on with its own password, so unbinding revokes exactly one binding's
// access. It records instances and bindings beside their add-ons and runs
// their changes through the broker's add-ons, nodes and settings (Deps).
// This file holds instances; bindings.go holds bindings.
package osbsvc

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/broker/changes"
	"larder/catalog"
	"larder/fault"
	"larder/store"
)

// Config sets up the Open Service Broker API.
type Config struct {
	Username string // Basic auth user; default DefaultUsername
	// Password is the Basic auth password. While it is empty every request
	// is refused with 401: the API is never open.
	Password string
	// Retention is how long a deleted instance or binding is remembered, so
	// a platform polling late still learns that the deletion succeeded; after
	// that only its id is kept (410 rather than 404). Default 24h.
	Retention time.Duration
	Now       func() time.Time // the clock; default time.Now
}

// DefaultUsername is the Basic auth user when none is configured.
const DefaultUsername = "larder"

// DefaultRetention is how long finished deletions are remembered.
const DefaultRetention = 24 * time.Hour

// Config is the broker's OSB set-up with its defaults filled in.
func (b *Service) Config() Config {
	c := b.cfg
	if c.Username == "" {
		c.Username = DefaultUsername
	}
	if c.Retention <= 0 {
		c.Retention = DefaultRetention
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (b *Service) now() time.Time { return b.Config().Now().UTC() }

// Refusal is a request the core turns down for a reason the OSB spec
// names with its own error code (InstanceNotAvailable,
// PlanChangeNotSupported…); the OSB adapter answers it with 422.
type Refusal struct {
	Code    string
	Message string
}

func (e *Refusal) Error() string { return e.Message }

// OSB operation kinds, as recorded on an instance.
const (
	OpProvision   = "provision"
	OpUpdate      = "update"
	OpDeprovision = "deprovision"
)

// Phase is where an instance stands, as the spec's rules need it. It is
// derived from the instance row, its last operation and its add-on, so it is
// right even after a broker restart resumed (or finished) the work.
type Phase int

const (
	PhaseCreating     Phase = iota // provision running
	PhaseCreateFailed              // provision failed; the add-on was rolled back
	PhaseReady                     // provisioned and idle
	PhaseUpdating                  // plan change running
	PhaseDeleting                  // deprovision running (or a larder destroy)
	PhaseDeleteFailed              // deprovision failed; the add-on is still there
	PhaseDeleted                   // gone; remembered until the retention passes
	PhaseForgotten                 // gone; only the id is left
)

// OpDone reports whether op has ended, either way.
func OpDone(op store.Operation) bool { j := changes.OperationJSON(op); return j.Done() }

// phaseOf works out an instance's phase. op is its last OSB operation and
// addon its add-on; either is nil when it no longer exists.
func phaseOf(row store.OSBInstance, op *store.Operation, addon *store.Addon) Phase {
	switch row.State {
	case store.OSBForgotten:
		return PhaseForgotten
	case store.OSBDeleted:
		return PhaseDeleted
	}
	running := op != nil && !OpDone(*op)
	failed := op != nil && op.State == api.OpFailed
	switch row.OperationKind {
	case OpDeprovision:
		switch {
		case running:
			return PhaseDeleting
		case failed && addon != nil:
			return PhaseDeleteFailed
		}
		return PhaseDeleted
	case OpProvision:
		switch {
		case running:
			return PhaseCreating
		case failed:
			return PhaseCreateFailed
		}
	}
	switch {
	case addon == nil:
		return PhaseDeleted // destroyed outside OSB (larder addons:destroy)
	case addon.State == api.StateDeprovisioning:
		return PhaseDeleting
	case row.OperationKind == OpUpdate && running:
		return PhaseUpdating
	}
	return PhaseReady
}

// Instance is an instance with what its phase was derived from.
type Instance struct {
	Row   store.OSBInstance
	Op    *store.Operation // its last OSB operation; nil when gone
	Addon *store.Addon     // nil when gone
	Phase Phase
}

// Forget reduces deletions older than the retention to their ids.
func (b *Service) Forget(ctx context.Context) error {
	return b.store.ForgetOSB(ctx, b.now().Add(-b.Config().Retention))
}

// LockInstance serialises OSB requests on one instance (and its
// bindings); the caller calls the returned unlock.
func (b *Service) LockInstance(id string) (unlock func()) {
	return b.jobs.Lock("osb-instance:" + id)
}

// LoadInstance reads an instance; found is false for an id never seen. A
// deletion that finished since the last look (e.g. resumed after a restart) is
// recorded here.
func (b *Service) LoadInstance(ctx context.Context, id string) (in Instance, found bool, err error) {
	if err := b.Forget(ctx); err != nil {
		return in, false, err
	}
	if in.Row, err = b.store.OSBInstanceByID(ctx, id); err != nil {
		if fault.KindOf(err) == fault.NotFound {
			return in, false, nil
		}
		return in, false, err
	}
	if in.Row.OperationID != "" {
		op, err := b.store.OperationByID(ctx, in.Row.OperationID)
		if err != nil && fault.KindOf(err) != fault.NotFound {
			return in, true, err
		}
		if err == nil {
			in.Op = &op
		}
	}
	if in.Row.State == store.OSBActive {
		a, err := b.store.AddonByID(ctx, in.Row.AddonID)
		if err != nil && fault.KindOf(err) != fault.NotFound {
			return in, true, err
		}
		if err == nil {
			in.Addon = &a
		}
	}
	in.Phase = phaseOf(in.Row, in.Op, in.Addon)
	if in.Phase == PhaseDeleted && in.Row.State == store.OSBActive {
		at := b.now()
		if in.Op != nil && in.Row.OperationKind == OpDeprovision && in.Op.State == api.OpSucceeded {
			at = in.Op.UpdatedAt
		}
		if err := b.store.MarkOSBInstanceDeleted(ctx, id, at); err != nil {
			return in, true, err
		}
		in.Row.State, in.Row.DeletedAt = store.OSBDeleted, &at
		if at.Before(b.now().Add(-b.Config().Retention)) {
			in.Phase = PhaseForgotten
		}
	}
	return in, true, nil
}

// MarkInstanceDeleted records instance id as deleted now.
func (b *Service) MarkInstanceDeleted(ctx context.Context, id string) error {
	return b.store.MarkOSBInstanceDeleted(ctx, id, b.now())
}

// Provision is a valid provision request, as the instance records it.
type Provision struct {
	Service, Plan    string // catalog names
	ServiceID        string
	PlanID           string
	OrganizationGUID string
	SpaceGUID        string
	Settings         api.SettingsPatch // the parameters, checked
	Parameters       string            // the parameters as canonical JSON
	Context          string            // compact JSON, "" when none was sent
	Owner            string            // the app that owns the add-on
}

// StartProvision records, in one transaction, the owner app when it is
// new, the add-on with its node and provision operation (as addons:create
// does), the settings the parameters ask for, and the instance row (replacing
// a row of the id that is free again); then starts the provision.
func (b *Service) StartProvision(ctx context.Context, id string, s Provision, replace bool, who string) (store.Operation, error) {
	var a store.Addon
	var op store.Operation
	err := b.store.InTx(ctx, func(tx store.Tx) error {
		if replace {
			if err := tx.DeleteOSBInstance(ctx, id); err != nil {
				return err
			}
		}
		if _, err := tx.EnsureApp(ctx, s.Owner); err != nil {
			return err
		}
		policy := catalog.DefaultMaxMemoryPolicy
		if s.Settings.MaxMemoryPolicy != nil {
			policy = *s.Settings.MaxMemoryPolicy
		}
		var err error
		a, op, err = b.addons.RecordAddonTx(ctx, tx, s.Owner, addonName(id), "", s.Service, s.Plan, policy)
		if err != nil {
			return err
		}
		if s.Settings.Timeout != nil && *s.Settings.Timeout != a.Timeout {
			a.Timeout = *s.Settings.Timeout
			if err := tx.UpdateAddonSettings(ctx, a.ID, a.MaxMemoryPolicy, a.Timeout, a.NotifyKeyspaceEvents); err != nil {
				return err
			}
		}
		row := store.OSBInstance{
			InstanceID: id, AddonID: a.ID, ServiceID: s.ServiceID, PlanID: s.PlanID,
			OrganizationGUID: s.OrganizationGUID, SpaceGUID: s.SpaceGUID,
			Parameters: s.Parameters, Context: orEmptyObject(s.Context),
			OperationID: op.ID, OperationKind: OpProvision,
		}
		if err := tx.CreateOSBInstance(ctx, &row); err != nil {
			return err
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "osb.provision", "service instance "+SafeText(id)+" requested"+byWhom(who))
	})
	if err != nil {
		return op, err
	}
	b.log.WithFields(logrus.Fields{"addon": a.Name, "app": a.AppName, "plan": s.Plan, "instance": id}).Info("provisioning service instance")
	b.jobs.Run(b.store, op, b.nodes.ProvisionStep(a.ID, false))
	return op, nil
}

// Update is a change of a ready instance.
type Update struct {
	InstanceID string
	Addon      store.Addon
	Plan       string            // the plan to be on; Addon.Plan for no change
	Settings   api.SettingsPatch // applied live; nil fields for none
	// What the instance row records of the request.
	PlanID, Parameters, Context string
}

// UpdateInstance applies the settings (live, at once), then starts the
// plan change, if any, and records the request on the instance. When the
// plan change is refused the settings are put back, so a refused update
// changes nothing. The operation is the plan change's (no ID for none).
func (b *Service) UpdateInstance(ctx context.Context, u Update, who string) (store.Operation, error) {
	a := u.Addon
	planChange := u.Plan != a.Plan
	op, err := b.applyUpdate(ctx, a, u.Plan, planChange, u.Settings)
	if err != nil {
		return op, err
	}
	err = b.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.SetOSBInstanceRequest(ctx, u.InstanceID, u.PlanID, u.Parameters, u.Context); err != nil {
			return err
		}
		if planChange {
			if err := tx.SetOSBInstanceOperation(ctx, u.InstanceID, op.ID, OpUpdate); err != nil {
				return err
			}
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "osb.update", "service instance "+SafeText(u.InstanceID)+" updated"+byWhom(who))
	})
	if err != nil {
		return op, err
	}
	if planChange {
		b.log.WithFields(logrus.Fields{"addon": a.Name, "instance": u.InstanceID, "plan": u.Plan}).Info("changing plan of service instance")
	}
	return op, nil
}

// applyUpdate is UpdateOSBInstance's change of the add-on.
func (b *Service) applyUpdate(ctx context.Context, a store.Addon, plan string, planChange bool, patch api.SettingsPatch) (store.Operation, error) {
	settingsChange := patch.MaxMemoryPolicy != nil || patch.Timeout != nil
	if settingsChange {
		if _, err := b.settings.ChangeSettings(ctx, a.ID, patch); err != nil {
			return store.Operation{}, err
		}
	}
	if !planChange {
		return store.Operation{}, nil
	}
	op, err := b.addons.StartPlanChange(ctx, a, plan)
	if err == nil {
		return op, nil
	}
	if settingsChange {
		old := api.SettingsPatch{MaxMemoryPolicy: &a.MaxMemoryPolicy, Timeout: &a.Timeout}
		if _, rerr := b.settings.ChangeSettings(context.WithoutCancel(ctx), a.ID, old); rerr != nil {
			b.log.WithError(rerr).WithField("addon", a.Name).Error("put back settings after a refused plan change")
		}
	}
	if fault.KindOf(err) == fault.Invalid {
		return store.Operation{}, &Refusal{Code: "PlanChangeNotSupported", Message: fault.Message(err)}
	}
	return store.Operation{}, err
}

// byWhom renders an originating identity for an event line.
func byWhom(who string) string {
	if who == "" {
		return " (no originating identity)"
	}
	return " by " + who
}

func orEmptyObject(s string) string {
	if s == "" {
		return "{}"
	}
	return s
}

// addonName is the add-on name of an instance: stable and recognisable in
// `larder addons`.
func addonName(instanceID string) string {
	sum := sha1.Sum([]byte(instanceID))
	return "redis-osb-" + hex.EncodeToString(sum[:])[:10]
}

// SafeText drops control characters from text that goes into logs and events.
func SafeText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}
