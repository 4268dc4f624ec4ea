package broker

// The broker's internals its external tests (package broker_test, which
// builds its brokers with brokertest like the adapters' tests) reach.

import (
	"context"

	"larder/api"
	"larder/engine"
	"larder/ha/coord"
	"larder/provisioner"
	"larder/store"
)

// Target is the engine address of node n of add-on a.
var Target = func(a store.Addon, n store.Node) engine.Target { return target(a, n) }

// Coord is b's HA coordinator.
func (b *Broker) Coord() *coord.Coordinator { return b.coord }

// StopReconciler stops b's reconciler, for tests that play the hosts' statuses.
func (b *Broker) StopReconciler() { b.recon.Close() }

// NoteHostStatus records st as if its host had reported it.
func (b *Broker) NoteHostStatus(st provisioner.HostStatus) { b.hosts.NoteStatus(st) }

// WaitOperation waits until operation id has ended.
func (b *Broker) WaitOperation(ctx context.Context, id string) error {
	return b.osb.waitOperation(ctx, id)
}

// RunSwitchover records a switchover of a from primary to standby directly
// and runs its step, as two coordinators that each decided before seeing the
// other's operation would: newOperation would refuse the second up front,
// and a race is about the step's epoch check.
func (b *Broker) RunSwitchover(ctx context.Context, a store.Addon, primary, standby store.Node) error {
	op := store.Operation{AddonID: a.ID, AddonName: a.Name, Kind: opSwitchover, State: api.OpPending,
		Params: encodeParams(switchoverParams{Primary: primary.ID, Standby: standby.ID, Epoch: a.Epoch})}
	if err := b.store.CreateOperation(ctx, &op); err != nil {
		return err
	}
	return b.pairs.switchoverStep(op, false)(ctx, func(string) {})
}

// CommitRoleSwap commits a's roles swapped (the store's compare-and-set),
// without the add-on's lock.
func (b *Broker) CommitRoleSwap(ctx context.Context, a store.Addon, newPrimary, newStandby store.Node, kind, msg string) error {
	return b.pairs.commitRoleSwap(ctx, a, newPrimary, newStandby, kind, msg)
}
