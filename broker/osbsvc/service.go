package osbsvc

import (
	"context"

	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/broker/hostset"
	"larder/broker/jobs"
	"larder/provisioner"
	"larder/store"
)

// Service runs the Open Service Broker instance and binding operations.
type Service struct {
	cfg      Config
	store    store.Store
	hosts    *hostset.Set
	jobs     *jobs.Runner
	log      logrus.FieldLogger
	addons   Addons
	nodes    Nodes
	settings Settings
}

// Deps are the parts of the broker the service works with.
type Deps struct {
	Store    store.Store
	Hosts    *hostset.Set
	Jobs     *jobs.Runner
	Log      logrus.FieldLogger
	Addons   Addons
	Nodes    Nodes
	Settings Settings
}

// Addons records, destroys and re-plans add-ons as larder's own commands do.
type Addons interface {
	RecordAddonTx(ctx context.Context, tx store.Tx, appName, name, attName, service, plan, policy string) (store.Addon, store.Operation, error)
	BeginDestroy(ctx context.Context, tx store.Tx, a store.Addon, why string) error
	StartPlanChange(ctx context.Context, a store.Addon, plan string) (store.Operation, error)
}

// Nodes starts and removes an add-on's nodes and brings them to the store.
type Nodes interface {
	ProvisionStep(addonID string, resume bool) jobs.Step
	DeprovisionStep(addonID string) jobs.Step
	SpecsOf(ctx context.Context, q store.Q, a store.Addon) ([]store.Node, []provisioner.NodeSpec, error)
	Reconfigure(ctx context.Context, old, a store.Addon) error
}

// Settings changes an add-on's settings on its running nodes.
type Settings interface {
	ChangeSettings(ctx context.Context, id string, p api.SettingsPatch) (store.Addon, error)
}

// New returns the service over cfg (defaults filled in by Config).
func New(cfg Config, d Deps) *Service {
	return &Service{cfg: cfg, store: d.Store, hosts: d.Hosts, jobs: d.Jobs, log: d.Log,
		addons: d.Addons, nodes: d.Nodes, settings: d.Settings}
}
