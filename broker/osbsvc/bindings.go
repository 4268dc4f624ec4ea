package osbsvc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"

	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/broker/attach"
	"larder/engine"
	"larder/fault"
	"larder/ha/coord"
	"larder/store"
)

// Bindings complete synchronously: a binding is an engine user, added to the
// ACL file of every node and loaded live with ACL LOAD, which takes
// milliseconds. Each binding has its own user and password, so deleting one
// revokes exactly that binding's access. Binding credentials are never
// config vars: bindings are not attachments.

// BindingUsers lists the engine users of an add-on's live bindings; node
// specs carry them as ExtraUsers.
func BindingUsers(ctx context.Context, q store.Q, addonID string) ([]engine.User, error) {
	bds, err := q.ActiveOSBBindingsOfAddon(ctx, addonID)
	if err != nil {
		return nil, err
	}
	users := make([]engine.User, 0, len(bds))
	for _, bd := range bds {
		users = append(users, engine.User{Name: bd.Username, Password: bd.Password})
	}
	return users, nil
}

// BindingTarget is where a binding's credentials point: the add-on's
// primary, as the binding's own user (url), and every node of the add-on.
func (b *Service) BindingTarget(ctx context.Context, a store.Addon, bd store.OSBBinding) (url string, primary store.Node, nodes []store.Node, err error) {
	nodes, err = b.store.NodesOfAddon(ctx, a.ID)
	if err != nil {
		return "", primary, nil, err
	}
	primary, ok := coord.PrimaryNode(nodes)
	if !ok {
		return "", primary, nil, fault.E(fault.Unavailable, "%s has no running primary", a.Name)
	}
	ep, _, err := attach.EndpointOf(ctx, b.store, a)
	if err != nil {
		return "", primary, nil, err
	}
	return ep.URL(bd.Username, bd.Password), primary, nodes, nil
}

// AddBinding records binding bd with a fresh engine user and password and
// loads its user on every node of the add-on. If a node refuses, the binding
// is removed again. replace says bd's id was a deleted binding's.
func (b *Service) AddBinding(ctx context.Context, bd store.OSBBinding, replace bool, who string) (store.Addon, store.OSBBinding, error) {
	bd.Username, bd.Password = newBindingUser(), attach.NewSecret()
	unlock := b.jobs.Lock(bd.AddonID)
	defer unlock()
	a, err := b.store.AddonByID(ctx, bd.AddonID) // fresh, under the lock
	if err != nil {
		return a, bd, err
	}
	if a.State != api.StateProvisioned {
		return a, bd, &Refusal{Code: "InstanceNotAvailable", Message: a.Name + " is " + a.State + "; bind once it is available"}
	}
	err = b.store.InTx(ctx, func(tx store.Tx) error {
		if replace {
			if err := tx.DeleteOSBBinding(ctx, bd.BindingID); err != nil {
				return err
			}
		}
		if err := tx.CreateOSBBinding(ctx, &bd); err != nil {
			return err
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "osb.bind",
			"service binding "+SafeText(bd.BindingID)+" created as engine user "+bd.Username+byWhom(who))
	})
	if err != nil {
		return a, bd, err
	}
	if err := b.nodes.Reconfigure(ctx, a, a); err != nil {
		rctx := context.WithoutCancel(ctx)
		if derr := b.store.DeleteOSBBinding(rctx, bd.BindingID); derr != nil {
			b.log.WithError(derr).WithField("addon", a.Name).Error("remove a binding its nodes refused")
		} else if rerr := b.nodes.Reconfigure(rctx, a, a); rerr != nil {
			b.log.WithError(rerr).WithField("addon", a.Name).Error("remove a refused binding's user from the nodes")
		}
		return a, bd, err
	}
	b.log.WithFields(logrus.Fields{"addon": a.Name, "instance": bd.InstanceID, "binding": bd.BindingID, "user": bd.Username}).Info("service binding created")
	return a, bd, nil
}

// newBindingUser returns a fresh engine user name for a binding.
func newBindingUser() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "osb-" + hex.EncodeToString(b[:])
}

// RemoveBinding deletes binding bd and its user on every node, and
// closes the user's connections: its credentials stop working at once. If a
// node refuses, the binding is put back as it was.
func (b *Service) RemoveBinding(ctx context.Context, bd store.OSBBinding, who string) error {
	unlock := b.jobs.Lock(bd.AddonID)
	defer unlock()
	a, err := b.store.AddonByID(ctx, bd.AddonID)
	if fault.KindOf(err) == fault.NotFound { // the nodes went with the add-on
		return b.store.MarkOSBBindingDeleted(ctx, bd.BindingID, b.now())
	}
	if err != nil {
		return err
	}
	err = b.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.MarkOSBBindingDeleted(ctx, bd.BindingID, b.now()); err != nil {
			return err
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "osb.unbind",
			"service binding "+SafeText(bd.BindingID)+" deleted; engine user "+bd.Username+" removed"+byWhom(who))
	})
	if err != nil {
		return err
	}
	if err := b.nodes.Reconfigure(ctx, a, a); err != nil {
		rctx := context.WithoutCancel(ctx)
		if rerr := b.store.RestoreOSBBinding(rctx, bd); rerr != nil {
			b.log.WithError(rerr).WithField("addon", a.Name).Error("put back a binding its nodes kept")
		} else if rerr := b.nodes.Reconfigure(rctx, a, a); rerr != nil {
			b.log.WithError(rerr).WithField("addon", a.Name).Error("put back a binding's user on the nodes")
		}
		return err
	}
	b.disconnectBinding(ctx, a, bd.Username)
	b.log.WithFields(logrus.Fields{"instance": bd.InstanceID, "binding": bd.BindingID, "user": bd.Username}).Info("service binding deleted")
	return nil
}

// disconnectBinding closes connections still authenticated as a removed
// binding user. The engine's ACL LOAD already closes those of users it
// drops, in which case CLIENT KILL answers "No such user": nothing is left.
func (b *Service) disconnectBinding(ctx context.Context, a store.Addon, user string) {
	nodes, specs, err := b.nodes.SpecsOf(ctx, b.store, a)
	if err != nil {
		b.log.WithError(err).WithField("addon", a.Name).Warn("close connections of a deleted binding")
		return
	}
	for i, n := range nodes {
		err := b.hosts.Of(n).DisconnectUser(ctx, specs[i], user)
		if err != nil && !strings.Contains(err.Error(), "No such user") {
			b.log.WithError(err).WithFields(logrus.Fields{"addon": a.Name, "node": n.Name}).Warn("close connections of a deleted binding")
		}
	}
}

// LookupBinding reads binding bid of instance iid, whatever its state;
// found is false when it never existed under that instance.
func (b *Service) LookupBinding(ctx context.Context, iid, bid string) (store.OSBBinding, bool, error) {
	if err := b.Forget(ctx); err != nil {
		return store.OSBBinding{}, false, err
	}
	bd, err := b.store.OSBBindingByID(ctx, bid)
	if fault.KindOf(err) == fault.NotFound || err == nil && bd.InstanceID != iid {
		return store.OSBBinding{}, false, nil
	}
	return bd, err == nil, err
}
