package broker

import (
	"testing"

	"larder/api"
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
		want  osbPhase
	}{
		{"provision pending", row(active, osbOpProvision), op(api.OpPending), addon(api.StateProvisioning), phaseCreating},
		{"provision running", row(active, osbOpProvision), op(api.OpRunning), addon(api.StateProvisioning), phaseCreating},
		{"provision rolling back", row(active, osbOpProvision), op(api.OpRunning), nil, phaseCreating},
		{"provision failed", row(active, osbOpProvision), op(api.OpFailed), nil, phaseCreateFailed},
		{"provisioned", row(active, osbOpProvision), op(api.OpSucceeded), addon(api.StateProvisioned), phaseReady},
		{"provisioned, node failing", row(active, osbOpProvision), op(api.OpSucceeded), addon(api.StateFailed), phaseReady},
		{"updating", row(active, osbOpUpdate), op(api.OpRunning), addon(api.StateProvisioned), phaseUpdating},
		{"update failed", row(active, osbOpUpdate), op(api.OpFailed), addon(api.StateProvisioned), phaseReady},
		{"updated", row(active, osbOpUpdate), op(api.OpSucceeded), addon(api.StateProvisioned), phaseReady},
		{"deleting", row(active, osbOpDeprovision), op(api.OpRunning), addon(api.StateDeprovisioning), phaseDeleting},
		{"deleting, rows gone", row(active, osbOpDeprovision), op(api.OpRunning), nil, phaseDeleting},
		{"delete failed", row(active, osbOpDeprovision), op(api.OpFailed), addon(api.StateDeprovisioning), phaseDeleteFailed},
		{"deleted", row(active, osbOpDeprovision), op(api.OpSucceeded), nil, phaseDeleted},
		{"destroyed by larder", row(active, osbOpProvision), op(api.OpSucceeded), nil, phaseDeleted},
		{"being destroyed by larder", row(active, osbOpProvision), op(api.OpSucceeded), addon(api.StateDeprovisioning), phaseDeleting},
		{"operation row lost", row(active, osbOpProvision), nil, addon(api.StateProvisioned), phaseReady},
		{"recorded deleted", row(store.OSBDeleted, osbOpDeprovision), op(api.OpSucceeded), nil, phaseDeleted},
		{"forgotten", row(store.OSBForgotten, osbOpDeprovision), nil, nil, phaseForgotten},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := osbPhaseOf(tc.row, tc.op, tc.addon); got != tc.want {
				t.Fatalf("osbPhaseOf = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestLastOperationOf(t *testing.T) {
	for _, tc := range []struct {
		op             store.Operation
		state          string
		usable, repeat *bool
	}{
		{store.Operation{Kind: "provision", State: api.OpRunning, Progress: "starting"}, osbInProgress, nil, nil},
		{store.Operation{Kind: "provision", State: api.OpPending}, osbInProgress, nil, nil},
		{store.Operation{Kind: "provision", State: api.OpSucceeded}, api.OpSucceeded, nil, nil},
		{store.Operation{Kind: "provision", State: api.OpFailed, Error: "no port"}, api.OpFailed, nil, nil},
		{store.Operation{Kind: "plan_change", State: api.OpFailed}, api.OpFailed, ptr(true), ptr(true)},
		{store.Operation{Kind: "deprovision", State: api.OpFailed}, api.OpFailed, ptr(false), nil},
	} {
		t.Run(tc.op.Kind+"/"+tc.op.State, func(t *testing.T) {
			got := lastOperationOf(tc.op)
			if got.State != tc.state || got.Description == "" {
				t.Errorf("state = %q, description %q; want %q and a description", got.State, got.Description, tc.state)
			}
			if !samePtr(got.InstanceUsable, tc.usable) || !samePtr(got.UpdateRepeatable, tc.repeat) {
				t.Errorf("instance_usable %v, update_repeatable %v; want %v, %v", got.InstanceUsable, got.UpdateRepeatable, tc.usable, tc.repeat)
			}
		})
	}
}

func ptr(b bool) *bool { return &b }

func samePtr(a, b *bool) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }
