package osbsvc

import (
	"testing"

	"larder/api"
	"larder/broker/attach"
	"larder/store"
)

func TestOSBPhaseOf(t *testing.T) {
	op := func(state string) *store.Operation { return &store.Operation{State: state} }
	addon := func(state string) *store.Addon { return &store.Addon{State: state} }
	row := func(state, kind string) store.OSBInstance {
		return store.OSBInstance{State: state, OperationKind: kind}
	}
	active := store.OSBActive
	for _, tc := range []struct {
		name  string
		row   store.OSBInstance
		op    *store.Operation
		addon *store.Addon
		want  Phase
	}{
		{"provision pending", row(active, OpProvision), op(api.OpPending), addon(api.StateProvisioning), PhaseCreating},
		{"provision running", row(active, OpProvision), op(api.OpRunning), addon(api.StateProvisioning), PhaseCreating},
		{"provision rolling back", row(active, OpProvision), op(api.OpRunning), nil, PhaseCreating},
		{"provision failed", row(active, OpProvision), op(api.OpFailed), nil, PhaseCreateFailed},
		{"provisioned", row(active, OpProvision), op(api.OpSucceeded), addon(api.StateProvisioned), PhaseReady},
		{"provisioned, node failing", row(active, OpProvision), op(api.OpSucceeded), addon(api.StateFailed), PhaseReady},
		{"updating", row(active, OpUpdate), op(api.OpRunning), addon(api.StateProvisioned), PhaseUpdating},
		{"update failed", row(active, OpUpdate), op(api.OpFailed), addon(api.StateProvisioned), PhaseReady},
		{"updated", row(active, OpUpdate), op(api.OpSucceeded), addon(api.StateProvisioned), PhaseReady},
		{"deleting", row(active, OpDeprovision), op(api.OpRunning), addon(api.StateDeprovisioning), PhaseDeleting},
		{"deleting, rows gone", row(active, OpDeprovision), op(api.OpRunning), nil, PhaseDeleting},
		{"delete failed", row(active, OpDeprovision), op(api.OpFailed), addon(api.StateDeprovisioning), PhaseDeleteFailed},
		{"deleted", row(active, OpDeprovision), op(api.OpSucceeded), nil, PhaseDeleted},
		{"destroyed by larder", row(active, OpProvision), op(api.OpSucceeded), nil, PhaseDeleted},
		{"being destroyed by larder", row(active, OpProvision), op(api.OpSucceeded), addon(api.StateDeprovisioning), PhaseDeleting},
		{"operation row lost", row(active, OpProvision), nil, addon(api.StateProvisioned), PhaseReady},
		{"recorded deleted", row(store.OSBDeleted, OpDeprovision), op(api.OpSucceeded), nil, PhaseDeleted},
		{"forgotten", row(store.OSBForgotten, OpDeprovision), nil, nil, PhaseForgotten},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := phaseOf(tc.row, tc.op, tc.addon); got != tc.want {
				t.Fatalf("phaseOf = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestOSBAddonName(t *testing.T) {
	if n := addonName("0f8d7c1e-…"); attach.CheckAddonName(n) != nil {
		t.Errorf("add-on name %q is not a valid add-on name", n)
	}
}
