package osb

import (
	"testing"

	"larder/api"
	"larder/store"
)

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
