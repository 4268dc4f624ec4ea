// Package settings is the broker's service for a running add-on's
// settings (maxmemory policy, timeout, keyspace notifications, applied live),
// its credentials (shown, and rotated as an operation that never leaves an
// app without a working password) and its state (redis:info, redis:wait).
// It changes nodes through the broker's node placement (Nodes) and reads
// the HA and fork/follow parts of redis:info from their services.
package settings

import (
	"context"
	"fmt"
	"strings"

	"larder/api"
	"larder/broker/apps"
	"larder/broker/attach"
	"larder/broker/hostset"
	"larder/broker/jobs"
	"larder/catalog"
	"larder/fault"
	"larder/provisioner"
	"larder/store"

	"github.com/sirupsen/logrus"
)

// Settings changes an add-on's settings and credentials and reports its
// state (redis:info, wait).
type Settings struct {
	store   store.Store
	hosts   *hostset.Set
	jobs    *jobs.Runner
	log     logrus.FieldLogger
	nodes   Nodes
	pairs   Pairs
	sources Sources
	ca      CA
}

// CA is the CA that signed the edge's certificate, which redis:credentials
// shows beside a TLS URL ("" when the operator gave the edge its own).
type CA struct{ Path, PEM string }

// Deps are the parts of the broker settings work with.
type Deps struct {
	Store   store.Store
	Hosts   *hostset.Set
	Jobs    *jobs.Runner
	Log     logrus.FieldLogger
	Nodes   Nodes
	Pairs   Pairs
	Sources Sources
	CA      CA
}

// Nodes is what settings ask of the broker's node placement.
type Nodes interface {
	SpecsOf(ctx context.Context, q store.Q, a store.Addon) ([]store.Node, []provisioner.NodeSpec, error)
	PlanOf(a store.Addon) (*catalog.Plan, error)
	Reconfigure(ctx context.Context, old, a store.Addon) error
	ReconfigureReachable(ctx context.Context, a store.Addon) error
}

// Pairs tells how an add-on's HA pair stands, for redis:info.
type Pairs interface {
	WritesPaused(ctx context.Context, a store.Addon) string
	HAInfo(ctx context.Context, a store.Addon, nodes []store.Node) (*api.HAInfo, string)
}

// Sources fills redis:info's fork and follow parts.
type Sources interface {
	AddSourceInfo(ctx context.Context, info *api.RedisInfo, a store.Addon)
}

// New returns the settings service and registers how credential rotations
// resume.
func New(d Deps) *Settings {
	b := &Settings{store: d.Store, hosts: d.Hosts, jobs: d.Jobs, log: d.Log, nodes: d.Nodes, pairs: d.Pairs, sources: d.Sources, ca: d.CA}
	d.Jobs.Register(opCredentials, jobs.Kind{Resume: func(op store.Operation) jobs.Step { return b.rotationStep(op, nil) }})
	return b
}

// keyspaceFlags are the engine's notify-keyspace-events letters.
const keyspaceFlags = "KEg$lshzxetmdnA"

// MaxTimeout bounds redis:timeout: a year of idling is already "forever".
const MaxTimeout = 365 * 24 * 3600

func checkKeyspaceFlags(s string) error {
	for _, r := range s {
		if !strings.ContainsRune(keyspaceFlags, r) {
			return fault.E(fault.Invalid, "invalid keyspace notification flag %q in %q; use letters from %s ('' disables)", r, s, keyspaceFlags)
		}
	}
	if s != "" && !strings.ContainsAny(s, "KE") {
		return fault.E(fault.Invalid, "keyspace notifications %q need K (keyspace) or E (keyevent) to emit anything, e.g. KEA", s)
	}
	return nil
}

// ApplySettings validates p against a's current settings and returns the
// resulting add-on.
func ApplySettings(a store.Addon, p api.SettingsPatch) (store.Addon, error) {
	if p.MaxMemoryPolicy == nil && p.Timeout == nil && p.NotifyKeyspaceEvents == nil {
		return a, fault.E(fault.Invalid, "no setting given: use maxmemory_policy, timeout or notify_keyspace_events")
	}
	if p.MaxMemoryPolicy != nil {
		if err := catalog.ValidateMaxMemoryPolicy(*p.MaxMemoryPolicy); err != nil {
			return a, err
		}
		a.MaxMemoryPolicy = *p.MaxMemoryPolicy
	}
	if p.Timeout != nil {
		if *p.Timeout < 0 || *p.Timeout > MaxTimeout {
			return a, fault.E(fault.Invalid, "invalid timeout %d: use 0 (idle forever) to %d seconds", *p.Timeout, MaxTimeout)
		}
		a.Timeout = *p.Timeout
	}
	if p.NotifyKeyspaceEvents != nil {
		if err := checkKeyspaceFlags(*p.NotifyKeyspaceEvents); err != nil {
			return a, err
		}
		a.NotifyKeyspaceEvents = *p.NotifyKeyspaceEvents
	}
	return a, nil
}

// patchSettings changes maxmemory policy, timeout or keyspace notifications on
// the running node (no restart) and keeps them in the store, so a restarted or
// rebuilt node gets them back.
func (b *Settings) PatchSettings(ctx context.Context, appName, addonName string, p api.SettingsPatch) (api.Settings, error) {
	a, err := apps.Settled(ctx, b.store, appName, addonName)
	if err != nil {
		return api.Settings{}, err
	}
	next, err := b.ChangeSettings(ctx, a.ID, p)
	if err != nil {
		return api.Settings{}, err
	}
	return api.Settings{MaxMemoryPolicy: next.MaxMemoryPolicy, Timeout: next.Timeout, NotifyKeyspaceEvents: next.NotifyKeyspaceEvents}, nil
}

// ChangeSettings applies p to add-on id's running nodes and records it, under
// the add-on's lock; it returns the add-on as it now is.
func (b *Settings) ChangeSettings(ctx context.Context, id string, p api.SettingsPatch) (store.Addon, error) {
	unlock := b.jobs.Lock(id)
	defer unlock()
	a, err := b.store.AddonByID(ctx, id) // fresh, under the lock
	if err != nil {
		return a, err
	}
	next, err := ApplySettings(a, p)
	if err != nil {
		return a, err
	}
	if err := b.nodes.Reconfigure(ctx, a, next); err != nil {
		return a, err
	}
	err = b.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.UpdateAddonSettings(ctx, a.ID, next.MaxMemoryPolicy, next.Timeout, next.NotifyKeyspaceEvents); err != nil {
			return err
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "settings.update", fmt.Sprintf("maxmemory_policy=%s timeout=%d notify_keyspace_events=%q",
			next.MaxMemoryPolicy, next.Timeout, next.NotifyKeyspaceEvents))
	})
	return next, err
}

func (b *Settings) credentialsOf(ctx context.Context, a store.Addon) (api.Credentials, error) {
	ep, ok, err := attach.EndpointOf(ctx, b.store, a)
	if err != nil {
		return api.Credentials{}, err
	}
	if !ok {
		return api.Credentials{}, fault.E(fault.Unavailable, "%s has no running primary", a.Name)
	}
	c := api.Credentials{Addon: api.Ref{ID: a.ID, Name: a.Name}, URL: ep.URL(a.CustomerUser, a.CustomerPassword),
		TLSURL: ep.TLSURL(a.CustomerUser, a.CustomerPassword)}
	if c.TLSURL != "" {
		c.CAPath, c.CACert = b.ca.Path, b.ca.PEM
	}
	return c, nil
}

func (b *Settings) GetCredentials(ctx context.Context, appName, addonName string) (api.Credentials, error) {
	a, err := apps.Settled(ctx, b.store, appName, addonName)
	if err != nil {
		return api.Credentials{}, err
	}
	c, err := b.credentialsOf(ctx, a)
	if err != nil {
		return api.Credentials{}, err
	}
	return c, nil
}

func (b *Settings) disconnectCustomer(ctx context.Context, a store.Addon) error {
	nodes, specs, err := b.nodes.SpecsOf(ctx, b.store, a)
	if err != nil {
		return err
	}
	for i := range nodes {
		if err := b.hosts.Of(nodes[i]).DisconnectUser(ctx, specs[i], a.CustomerUser); err != nil {
			return err
		}
	}
	return nil
}

// waitStatus answers redis:wait: whether the add-on is still coming up.
func (b *Settings) WaitStatus(ctx context.Context, appName string, addonName string) (api.WaitStatus, error) {
	a, err := apps.Resolve(ctx, b.store, appName, addonName)
	if err != nil {
		return api.WaitStatus{}, err
	}
	switch a.State {
	case api.StateProvisioning:
		return api.WaitStatus{Waiting: true, Message: "provisioning"}, nil
	case api.StateFailed:
		return api.WaitStatus{}, fault.E(fault.Unavailable, "%s failed: %s", a.Name, a.StateReason)
	case api.StateDeprovisioning:
		return api.WaitStatus{}, fault.E(fault.Conflict, "%s is being destroyed", a.Name)
	}
	nodes, specs, err := b.nodes.SpecsOf(ctx, b.store, a)
	if err != nil {
		return api.WaitStatus{}, err
	}
	for i, n := range nodes {
		lctx, cancel := context.WithTimeout(ctx, hostset.LiveTimeout)
		_, err := b.hosts.Of(n).Info(lctx, specs[i])
		cancel()
		if err != nil {
			return api.WaitStatus{Waiting: true, Message: n.Role + " node not answering yet"}, nil
		}
	}
	return api.WaitStatus{Waiting: false, Message: "available"}, nil
}
