package pairs

// The internals pairs' external tests (package pairs_test, which builds its
// brokers with brokertest like the adapters' tests) reach.

import (
	"context"

	"larder/api"
	"larder/broker/jobs"
	"larder/ha/coord"
	"larder/provisioner"
	"larder/store"
)

// Coord is b's HA coordinator.
func (b *Pairs) Coord() *coord.Coordinator { return b.coord }

// StopReconciler stops b's reconciler, for tests that play the hosts' statuses.
func (b *Pairs) StopReconciler() { b.recon.Close() }

// NoteHostStatus records st as if its host had reported it.
func (b *Pairs) NoteHostStatus(st provisioner.HostStatus) { b.hosts.NoteStatus(st) }

// RunSwitchover records a switchover of a from primary to standby directly
// and runs its step, as two coordinators that each decided before seeing the
// other's operation would: NewOperation would refuse the second up front,
// and a race is about the step's epoch check.
func (b *Pairs) RunSwitchover(ctx context.Context, a store.Addon, primary, standby store.Node) error {
	op := store.Operation{AddonID: a.ID, AddonName: a.Name, Kind: opSwitchover, State: api.OpPending,
		Params: jobs.EncodeParams(switchoverParams{Primary: primary.ID, Standby: standby.ID, Epoch: a.Epoch})}
	if err := b.store.CreateOperation(ctx, &op); err != nil {
		return err
	}
	return b.switchoverStep(op, false)(ctx, func(string) {})
}

// CommitRoleSwap commits a's roles swapped (the store's compare-and-set),
// without the add-on's lock.
func (b *Pairs) CommitRoleSwap(ctx context.Context, a store.Addon, newPrimary, newStandby store.Node, kind, msg string) error {
	return b.commitRoleSwap(ctx, a, newPrimary, newStandby, kind, msg)
}
