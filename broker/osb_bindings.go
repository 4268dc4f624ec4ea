package broker

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"
	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/engine"
	"larder/fault"
	"larder/store"
)

// Bindings complete synchronously (201/200): a binding is an engine user,
// added to the ACL file of every node and loaded live with ACL LOAD, which
// takes milliseconds. Each binding has its own user and password, so deleting
// one revokes exactly that binding's access. Binding credentials are never
// config vars: bindings are not attachments.

// osbBindingUsers lists the engine users of an add-on's live bindings; node
// specs carry them as ExtraUsers.
func osbBindingUsers(ctx context.Context, q store.Q, addonID string) ([]engine.User, error) {
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

type osbCredentials struct {
	URI      string `json:"uri"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Username string `json:"username"`
	Password string `json:"password"`
}

type osbEndpoint struct {
	Host     string   `json:"host"`
	Ports    []string `json:"ports"`
	Protocol string   `json:"protocol"`
}

type osbBindingBody struct {
	Credentials osbCredentials `json:"credentials"`
	Endpoints   []osbEndpoint  `json:"endpoints"`
	// Parameters are the bind request's, and only in a GET of the binding:
	// the PUT answer has no such field in the spec.
	Parameters json.RawMessage `json:"parameters,omitempty"`
}

// bindingBody renders a binding's credentials: the add-on's primary, as the
// binding's own user.
func (b *Broker) bindingBody(ctx context.Context, a store.Addon, bd store.OSBBinding) (osbBindingBody, error) {
	nodes, err := b.store.NodesOfAddon(ctx, a.ID)
	if err != nil {
		return osbBindingBody{}, err
	}
	n, ok := primaryNode(nodes)
	if !ok {
		return osbBindingBody{}, fault.E(fault.Unavailable, "%s has no running primary", a.Name)
	}
	as := a
	as.CustomerUser, as.CustomerPassword = bd.Username, bd.Password
	body := osbBindingBody{
		Credentials: osbCredentials{URI: addonURL(as, n), Host: n.Address, Port: n.Port, Username: bd.Username, Password: bd.Password},
	}
	for _, n := range nodes {
		if n.Address != "" {
			body.Endpoints = append(body.Endpoints, osbEndpoint{Host: n.Address, Ports: []string{strconv.Itoa(n.Port)}, Protocol: "tcp"})
		}
	}
	return body, nil
}

// osbBind answers PUT …/service_bindings/:bid: 201 with new credentials, 200
// with the same ones for an identical request, 409 for a different one.
func (b *Broker) osbBind(r *http.Request) (int, any, error) {
	ctx := r.Context()
	iid, bid := mux.Vars(r)["instance_id"], mux.Vars(r)["binding_id"]
	_, err := acceptsIncomplete(r)
	if err == nil {
		err = checkResourceID("binding", bid)
	}
	var s bindSpec
	if err == nil {
		s, err = parseBind(r, b.cfg.Catalog)
	}
	if err != nil {
		return 0, nil, err
	}
	who, _ := originOf(r)
	unlock := b.locks.lock(osbLockKey(iid))
	defer unlock()
	in, found, err := b.loadOSBInstance(ctx, iid)
	if err != nil {
		return 0, nil, err
	}
	switch {
	case !found, in.phase == phaseCreateFailed, in.phase == phaseDeleted, in.phase == phaseForgotten, in.addon == nil:
		return 0, nil, fault.E(fault.NotFound, "no service instance %s", iid)
	case in.phase == phaseCreating:
		return 0, nil, concurrencyError("service instance %s is still being created; bind once last_operation says succeeded", iid)
	case in.phase == phaseDeleting, in.phase == phaseDeleteFailed:
		return 0, nil, concurrencyError("service instance %s is being deleted", iid)
	case s.ServiceID != in.row.ServiceID:
		return 0, nil, fault.E(fault.BadRequest, "service_id does not match the service of instance %s", iid)
	}
	replace := false
	old, err := b.store.OSBBindingByID(ctx, bid)
	switch {
	case err == nil && old.State == store.OSBActive:
		if old.InstanceID != iid || old.ServiceID != s.ServiceID || old.PlanID != s.PlanID || old.Parameters != s.Params {
			return 0, nil, fault.E(fault.Conflict, "service binding %s already exists with other attributes", bid)
		}
		return b.bindingAnswer(r, http.StatusOK, *in.addon, old)
	case err == nil:
		replace = true // a deleted binding's id, used again
	case fault.KindOf(err) != fault.NotFound:
		return 0, nil, err
	}
	bd := store.OSBBinding{BindingID: bid, InstanceID: iid, AddonID: in.addon.ID, ServiceID: s.ServiceID, PlanID: s.PlanID,
		Username: newBindingUser(), Password: newSecret(), Parameters: s.Params}
	a, err := b.addBindingUser(ctx, in.addon.ID, bd, replace, who)
	if err != nil {
		return 0, nil, err
	}
	b.log.WithFields(logrus.Fields{"addon": a.Name, "instance": iid, "binding": bid, "user": bd.Username}).Info("service binding created")
	return b.bindingAnswer(r, http.StatusCreated, a, bd)
}

func (b *Broker) bindingAnswer(r *http.Request, status int, a store.Addon, bd store.OSBBinding) (int, any, error) {
	body, err := b.bindingBody(r.Context(), a, bd)
	if err != nil {
		return 0, nil, err
	}
	if r.Method == http.MethodGet {
		body.Parameters = json.RawMessage("{}")
		if json.Valid([]byte(bd.Parameters)) && strings.HasPrefix(bd.Parameters, "{") {
			body.Parameters = json.RawMessage(bd.Parameters)
		}
	}
	return status, body, nil
}

// addBindingUser records binding bd and loads its user on every node of the
// add-on. If a node refuses, the binding is removed again.
func (b *Broker) addBindingUser(ctx context.Context, addonID string, bd store.OSBBinding, replace bool, who string) (store.Addon, error) {
	unlock := b.locks.lock(addonID)
	defer unlock()
	a, err := b.store.AddonByID(ctx, addonID) // fresh, under the lock
	if err != nil {
		return a, err
	}
	if a.State != api.StateProvisioned {
		return a, osbErr(http.StatusUnprocessableEntity, "InstanceNotAvailable", "%s is %s; bind once it is available", a.Name, a.State)
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
			"service binding "+safeText(bd.BindingID)+" created as engine user "+bd.Username+byWhom(who))
	})
	if err != nil {
		return a, err
	}
	if err := b.reconfigure(ctx, a, a); err != nil {
		rctx := context.WithoutCancel(ctx)
		if derr := b.store.DeleteOSBBinding(rctx, bd.BindingID); derr != nil {
			b.log.WithError(derr).WithField("addon", a.Name).Error("remove a binding its nodes refused")
		} else if rerr := b.reconfigure(rctx, a, a); rerr != nil {
			b.log.WithError(rerr).WithField("addon", a.Name).Error("remove a refused binding's user from the nodes")
		}
		return a, err
	}
	return a, nil
}

// osbUnbind answers DELETE …/service_bindings/:bid: the binding's user is
// removed from every node (ACL LOAD), its connections are closed, and its
// credentials stop working at once.
func (b *Broker) osbUnbind(r *http.Request) (int, any, error) {
	ctx := r.Context()
	iid, bid := mux.Vars(r)["instance_id"], mux.Vars(r)["binding_id"]
	_, err := acceptsIncomplete(r)
	var serviceID string
	if err == nil {
		serviceID, _, err = deleteQuery(r)
	}
	if err != nil {
		return 0, nil, err
	}
	who, _ := originOf(r)
	unlock := b.locks.lock(osbLockKey(iid))
	defer unlock()
	if err := b.forgetOSB(ctx); err != nil {
		return 0, nil, err
	}
	bd, err := b.store.OSBBindingByID(ctx, bid)
	switch {
	case fault.KindOf(err) == fault.NotFound, err == nil && (bd.State != store.OSBActive || bd.InstanceID != iid):
		return gone()
	case err != nil:
		return 0, nil, err
	case serviceID != bd.ServiceID:
		return 0, nil, fault.E(fault.BadRequest, "service_id does not match the service of binding %s", bid)
	}
	if err := b.removeBindingUser(ctx, bd, who); err != nil {
		return 0, nil, err
	}
	b.log.WithFields(logrus.Fields{"instance": iid, "binding": bid, "user": bd.Username}).Info("service binding deleted")
	return http.StatusOK, struct{}{}, nil
}

// removeBindingUser deletes binding bd and its user on every node. If a node
// refuses, the binding is put back as it was.
func (b *Broker) removeBindingUser(ctx context.Context, bd store.OSBBinding, who string) error {
	unlock := b.locks.lock(bd.AddonID)
	defer unlock()
	a, err := b.store.AddonByID(ctx, bd.AddonID)
	if fault.KindOf(err) == fault.NotFound { // the nodes went with the add-on
		return b.store.MarkOSBBindingDeleted(ctx, bd.BindingID, b.osbNow())
	}
	if err != nil {
		return err
	}
	err = b.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.MarkOSBBindingDeleted(ctx, bd.BindingID, b.osbNow()); err != nil {
			return err
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "osb.unbind",
			"service binding "+safeText(bd.BindingID)+" deleted; engine user "+bd.Username+" removed"+byWhom(who))
	})
	if err != nil {
		return err
	}
	if err := b.reconfigure(ctx, a, a); err != nil {
		rctx := context.WithoutCancel(ctx)
		if rerr := b.store.RestoreOSBBinding(rctx, bd); rerr != nil {
			b.log.WithError(rerr).WithField("addon", a.Name).Error("put back a binding its nodes kept")
		} else if rerr := b.reconfigure(rctx, a, a); rerr != nil {
			b.log.WithError(rerr).WithField("addon", a.Name).Error("put back a binding's user on the nodes")
		}
		return err
	}
	b.disconnectBinding(ctx, a, bd.Username)
	return nil
}

// disconnectBinding closes connections still authenticated as a removed
// binding user. The engine's ACL LOAD already closes those of users it
// drops, in which case CLIENT KILL answers "No such user": nothing is left.
func (b *Broker) disconnectBinding(ctx context.Context, a store.Addon, user string) {
	nodes, specs, err := b.specsOf(ctx, b.store, a)
	if err != nil {
		b.log.WithError(err).WithField("addon", a.Name).Warn("close connections of a deleted binding")
		return
	}
	for i, n := range nodes {
		err := b.hostFor(n).DisconnectUser(ctx, specs[i], user)
		if err != nil && !strings.Contains(err.Error(), "No such user") {
			b.log.WithError(err).WithFields(logrus.Fields{"addon": a.Name, "node": n.Name}).Warn("close connections of a deleted binding")
		}
	}
}

// lookupBinding reads binding bid of instance iid, whatever its state; found
// is false when it never existed under that instance.
func (b *Broker) lookupBinding(ctx context.Context, iid, bid string) (store.OSBBinding, bool, error) {
	if err := b.forgetOSB(ctx); err != nil {
		return store.OSBBinding{}, false, err
	}
	bd, err := b.store.OSBBindingByID(ctx, bid)
	if fault.KindOf(err) == fault.NotFound || err == nil && bd.InstanceID != iid {
		return store.OSBBinding{}, false, nil
	}
	return bd, err == nil, err
}

// osbGetBinding answers GET …/service_bindings/:bid with its credentials.
func (b *Broker) osbGetBinding(r *http.Request) (int, any, error) {
	ctx := r.Context()
	iid, bid := mux.Vars(r)["instance_id"], mux.Vars(r)["binding_id"]
	bd, found, err := b.lookupBinding(ctx, iid, bid)
	if err != nil {
		return 0, nil, err
	}
	if !found || bd.State != store.OSBActive {
		return 0, nil, fault.E(fault.NotFound, "no service binding %s", bid)
	}
	a, err := b.store.AddonByID(ctx, bd.AddonID)
	if err != nil {
		return 0, nil, err
	}
	return b.bindingAnswer(r, http.StatusOK, a, bd)
}

// osbBindingLastOperation answers GET …/service_bindings/:bid/last_operation.
// Bindings are made and deleted synchronously, so a binding that exists, or
// whose deletion is remembered, has succeeded.
func (b *Broker) osbBindingLastOperation(r *http.Request) (int, any, error) {
	iid, bid := mux.Vars(r)["instance_id"], mux.Vars(r)["binding_id"]
	bd, found, err := b.lookupBinding(r.Context(), iid, bid)
	switch {
	case err != nil:
		return 0, nil, err
	case !found:
		return 0, nil, fault.E(fault.NotFound, "no service binding %s", bid)
	case bd.State == store.OSBForgotten:
		return gone()
	case bd.State == store.OSBDeleted:
		return http.StatusOK, osbLastOperationBody{State: api.OpSucceeded, Description: "binding deleted"}, nil
	default:
		return http.StatusOK, osbLastOperationBody{State: api.OpSucceeded, Description: "binding created"}, nil
	}
}
