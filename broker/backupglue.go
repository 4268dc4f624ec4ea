package broker

import (
	"context"

	"larder/broker/apps"
	"larder/broker/backups"
	"larder/broker/jobs"
	"larder/catalog"
	"larder/provisioner"
	"larder/store"
)

// The backup service (package broker/backups) takes, keeps and restores
// backups; backupGlue gives it the core's add-on names, operations, locks
// and node specs.

// newBackups builds b's backup service on its store, clock and log.
func newBackups(b *core) *backups.Service {
	cfg := b.cfg.Backups
	if cfg.Clock == nil {
		cfg.Clock = b.cfg.Clock
	}
	if cfg.Log == nil {
		cfg.Log = b.log
	}
	cfg.Lead = b.lead
	return backups.New(backupGlue{b}, cfg)
}

type backupGlue struct{ b *core }

var _ backups.Core = backupGlue{}

func (g backupGlue) Store() store.Store { return g.b.store }

func (g backupGlue) Catalog() *catalog.Catalog { return g.b.cfg.Catalog }

func (g backupGlue) ResolveAddon(ctx context.Context, q store.Q, app, ref string) (store.Addon, error) {
	return apps.Resolve(ctx, q, app, ref)
}

func (g backupGlue) NewOperation(ctx context.Context, tx store.Tx, a store.Addon, kind string, params any) (store.Operation, error) {
	return g.b.jobs.NewOperation(ctx, tx, a, kind, params)
}

func (g backupGlue) Run(op store.Operation, work jobs.Step) { g.b.jobs.Run(g.b.store, op, work) }

func (g backupGlue) SaveStep(ctx context.Context, q store.Q, op *store.Operation, step string, params any) error {
	return g.b.jobs.SaveStep(ctx, q, op, step, params)
}

func (g backupGlue) Lock(id string) func() { return g.b.jobs.Lock(id) }

func (g backupGlue) Specs(ctx context.Context, a store.Addon) ([]store.Node, []provisioner.NodeSpec, error) {
	return g.b.nodes.SpecsOf(ctx, g.b.store, a)
}

func (g backupGlue) HostUp(host string) bool { return g.b.hosts.IsUp(host) }

func (g backupGlue) Points() jobs.Points { return g.b.jobs.Points }
