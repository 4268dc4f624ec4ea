package broker

import (
	"context"
	"fmt"
	"strings"

	"larder/api"
	"larder/broker/attach"
	"larder/catalog"
	"larder/fault"
	"larder/store"
)

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

// reconfigure applies a's settings and users to every running node; when one
// fails, the nodes already changed — and the one that failed, whose files
// may have changed before its engine refused — are put back as old had them.
func (b *Settings) reconfigure(ctx context.Context, old, a store.Addon) error {
	nodes, err := b.store.NodesOfAddon(ctx, a.ID)
	if err != nil {
		return err
	}
	specs, err := b.nodes.nodeSpecs(ctx, b.store, a, nodes)
	if err != nil {
		return err
	}
	oldSpecs, err := b.nodes.nodeSpecs(ctx, b.store, old, nodes)
	if err != nil {
		return err
	}
	for i, n := range nodes {
		if err := b.hosts.Of(n).Reconfigure(ctx, specs[i]); err != nil {
			for j := range nodes[:i+1] {
				if rerr := b.hosts.Of(nodes[j]).Reconfigure(context.WithoutCancel(ctx), oldSpecs[j]); rerr != nil {
					b.log.WithError(rerr).WithField("node", nodes[j].Name).Error("restore node settings")
				}
			}
			return fault.Wrap(fault.Unavailable, err, fmt.Sprintf("the %s node of %s did not take the change", n.Role, a.Name))
		}
	}
	return nil
}

// settledAddon resolves the add-on of a redis:* request and checks that it is
// running.
func (b *Settings) settledAddon(ctx context.Context, appName, addonName string) (store.Addon, error) {
	a, err := b.addons.resolveAddon(ctx, b.store, appName, addonName)
	if err != nil {
		return a, err
	}
	if a.State != api.StateProvisioned {
		return a, fault.E(fault.Conflict, "%s is %s; run `larder redis:wait %s -a %s` first", a.Name, a.State, a.Name, appName)
	}
	return a, nil
}

// patchSettings changes maxmemory policy, timeout or keyspace notifications on
// the running node (no restart) and keeps them in the store, so a restarted or
// rebuilt node gets them back.
func (b *Settings) PatchSettings(ctx context.Context, appName, addonName string, p api.SettingsPatch) (api.Settings, error) {
	a, err := b.settledAddon(ctx, appName, addonName)
	if err != nil {
		return api.Settings{}, err
	}
	next, err := b.changeSettings(ctx, a.ID, p)
	if err != nil {
		return api.Settings{}, err
	}
	return api.Settings{MaxMemoryPolicy: next.MaxMemoryPolicy, Timeout: next.Timeout, NotifyKeyspaceEvents: next.NotifyKeyspaceEvents}, nil
}

// changeSettings applies p to add-on id's running nodes and records it, under
// the add-on's lock; it returns the add-on as it now is.
func (b *Settings) changeSettings(ctx context.Context, id string, p api.SettingsPatch) (store.Addon, error) {
	unlock := b.locks.lock(id)
	defer unlock()
	a, err := b.store.AddonByID(ctx, id) // fresh, under the lock
	if err != nil {
		return a, err
	}
	next, err := ApplySettings(a, p)
	if err != nil {
		return a, err
	}
	if err := b.reconfigure(ctx, a, next); err != nil {
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
		c.CAPath, c.CACert = b.cfg.Edge.CAPath, b.cfg.Edge.CACert
	}
	return c, nil
}

func (b *Settings) GetCredentials(ctx context.Context, appName, addonName string) (api.Credentials, error) {
	a, err := b.settledAddon(ctx, appName, addonName)
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
	nodes, specs, err := b.nodes.specsOf(ctx, b.store, a)
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
	a, err := b.addons.resolveAddon(ctx, b.store, appName, addonName)
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
	nodes, specs, err := b.nodes.specsOf(ctx, b.store, a)
	if err != nil {
		return api.WaitStatus{}, err
	}
	for i, n := range nodes {
		lctx, cancel := context.WithTimeout(ctx, liveTimeout)
		_, err := b.hosts.Of(n).Info(lctx, specs[i])
		cancel()
		if err != nil {
			return api.WaitStatus{Waiting: true, Message: n.Role + " node not answering yet"}, nil
		}
	}
	return api.WaitStatus{Waiting: false, Message: "available"}, nil
}
