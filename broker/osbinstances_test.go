package broker

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
		want  OSBPhase
	}{
		{"provision pending", row(active, OSBOpProvision), op(api.OpPending), addon(api.StateProvisioning), PhaseCreating},
		{"provision running", row(active, OSBOpProvision), op(api.OpRunning), addon(api.StateProvisioning), PhaseCreating},
		{"provision rolling back", row(active, OSBOpProvision), op(api.OpRunning), nil, PhaseCreating},
		{"provision failed", row(active, OSBOpProvision), op(api.OpFailed), nil, PhaseCreateFailed},
		{"provisioned", row(active, OSBOpProvision), op(api.OpSucceeded), addon(api.StateProvisioned), PhaseReady},
		{"provisioned, node failing", row(active, OSBOpProvision), op(api.OpSucceeded), addon(api.StateFailed), PhaseReady},
		{"updating", row(active, OSBOpUpdate), op(api.OpRunning), addon(api.StateProvisioned), PhaseUpdating},
		{"update failed", row(active, OSBOpUpdate), op(api.OpFailed), addon(api.StateProvisioned), PhaseReady},
		{"updated", row(active, OSBOpUpdate), op(api.OpSucceeded), addon(api.StateProvisioned), PhaseReady},
		{"deleting", row(active, OSBOpDeprovision), op(api.OpRunning), addon(api.StateDeprovisioning), PhaseDeleting},
		{"deleting, rows gone", row(active, OSBOpDeprovision), op(api.OpRunning), nil, PhaseDeleting},
		{"delete failed", row(active, OSBOpDeprovision), op(api.OpFailed), addon(api.StateDeprovisioning), PhaseDeleteFailed},
		{"deleted", row(active, OSBOpDeprovision), op(api.OpSucceeded), nil, PhaseDeleted},
		{"destroyed by larder", row(active, OSBOpProvision), op(api.OpSucceeded), nil, PhaseDeleted},
		{"being destroyed by larder", row(active, OSBOpProvision), op(api.OpSucceeded), addon(api.StateDeprovisioning), PhaseDeleting},
		{"operation row lost", row(active, OSBOpProvision), nil, addon(api.StateProvisioned), PhaseReady},
		{"recorded deleted", row(store.OSBDeleted, OSBOpDeprovision), op(api.OpSucceeded), nil, PhaseDeleted},
		{"forgotten", row(store.OSBForgotten, OSBOpDeprovision), nil, nil, PhaseForgotten},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := osbPhaseOf(tc.row, tc.op, tc.addon); got != tc.want {
				t.Fatalf("osbPhaseOf = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestOSBAddonName(t *testing.T) {
	if n := osbAddonName("0f8d7c1e-…"); attach.CheckAddonName(n) != nil {
		t.Errorf("add-on name %q is not a valid add-on name", n)
	}
}
