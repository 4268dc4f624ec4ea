package osb

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"larder/api"
	"larder/broker/osbsvc"
	"larder/fault"
	"larder/store"
)

// Bindings complete synchronously (201/200): a binding is an engine user,
// added to the ACL file of every node and loaded live with ACL LOAD, which
// takes milliseconds. Each binding has its own user and password, so deleting
// one revokes exactly that binding's access. Binding credentials are never
// config vars: bindings are not attachments.

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
func (o *API) bindingBody(ctx context.Context, a store.Addon, bd store.OSBBinding) (osbBindingBody, error) {
	url, n, nodes, err := o.b.OSB.BindingTarget(ctx, a, bd)
	if err != nil {
		return osbBindingBody{}, err
	}
	body := osbBindingBody{
		Credentials: osbCredentials{URI: url, Host: n.Address, Port: n.Port, Username: bd.Username, Password: bd.Password},
	}
	for _, n := range nodes {
		if n.Address != "" {
			body.Endpoints = append(body.Endpoints, osbEndpoint{Host: n.Address, Ports: []string{strconv.Itoa(n.Port)}, Protocol: "tcp"})
		}
	}
	return body, nil
}

// bind answers PUT …/service_bindings/:bid: 201 with new credentials, 200
// with the same ones for an identical request, 409 for a different one.
func (o *API) bind(r *http.Request) (int, any, error) {
	ctx := r.Context()
	iid, bid := mux.Vars(r)["instance_id"], mux.Vars(r)["binding_id"]
	_, err := acceptsIncomplete(r)
	if err == nil {
		err = checkResourceID("binding", bid)
	}
	var s bindSpec
	if err == nil {
		s, err = parseBind(r, o.b.Catalog())
	}
	if err != nil {
		return 0, nil, err
	}
	who, _ := originOf(r)
	in, found, unlock, err := o.lockInstance(ctx, iid)
	defer unlock()
	if err != nil {
		return 0, nil, err
	}
	switch {
	case !found, in.Phase == osbsvc.PhaseCreateFailed, in.Phase == osbsvc.PhaseDeleted, in.Phase == osbsvc.PhaseForgotten, in.Addon == nil:
		return 0, nil, fault.E(fault.NotFound, "no service instance %s", iid)
	case in.Phase == osbsvc.PhaseCreating:
		return 0, nil, concurrencyError("service instance %s is still being created; bind once last_operation says succeeded", iid)
	case in.Phase == osbsvc.PhaseDeleting, in.Phase == osbsvc.PhaseDeleteFailed:
		return 0, nil, concurrencyError("service instance %s is being deleted", iid)
	case s.ServiceID != in.Row.ServiceID:
		return 0, nil, fault.E(fault.BadRequest, "service_id does not match the service of instance %s", iid)
	}
	replace := false
	old, err := o.b.Store().OSBBindingByID(ctx, bid)
	switch {
	case err == nil && old.State == store.OSBActive:
		if old.InstanceID != iid || old.ServiceID != s.ServiceID || old.PlanID != s.PlanID || old.Parameters != s.Params {
			return 0, nil, fault.E(fault.Conflict, "service binding %s already exists with other attributes", bid)
		}
		return o.bindingAnswer(r, http.StatusOK, *in.Addon, old)
	case err == nil:
		replace = true // a deleted binding's id, used again
	case fault.KindOf(err) != fault.NotFound:
		return 0, nil, err
	}
	a, bd, err := o.b.OSB.AddBinding(ctx, store.OSBBinding{BindingID: bid, InstanceID: iid, AddonID: in.Addon.ID,
		ServiceID: s.ServiceID, PlanID: s.PlanID, Parameters: s.Params}, replace, who)
	if err != nil {
		return 0, nil, err
	}
	return o.bindingAnswer(r, http.StatusCreated, a, bd)
}

func (o *API) bindingAnswer(r *http.Request, status int, a store.Addon, bd store.OSBBinding) (int, any, error) {
	body, err := o.bindingBody(r.Context(), a, bd)
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

// unbind answers DELETE …/service_bindings/:bid: the binding's user is
// removed from every node (ACL LOAD), its connections are closed, and its
// credentials stop working at once.
func (o *API) unbind(r *http.Request) (int, any, error) {
	ctx := r.Context()
	iid, bid := mux.Vars(r)["instance_id"], mux.Vars(r)["binding_id"]
	_, serviceID, err := deleteRequest(r)
	if err != nil {
		return 0, nil, err
	}
	who, _ := originOf(r)
	unlock := o.b.OSB.LockInstance(iid)
	defer unlock()
	if err := o.b.OSB.Forget(ctx); err != nil {
		return 0, nil, err
	}
	bd, err := o.b.Store().OSBBindingByID(ctx, bid)
	switch {
	case fault.KindOf(err) == fault.NotFound, err == nil && (bd.State != store.OSBActive || bd.InstanceID != iid):
		return gone()
	case err != nil:
		return 0, nil, err
	case serviceID != bd.ServiceID:
		return 0, nil, fault.E(fault.BadRequest, "service_id does not match the service of binding %s", bid)
	}
	if err := o.b.OSB.RemoveBinding(ctx, bd, who); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, struct{}{}, nil
}

// getBinding answers GET …/service_bindings/:bid with its credentials.
func (o *API) getBinding(r *http.Request) (int, any, error) {
	ctx := r.Context()
	iid, bid := mux.Vars(r)["instance_id"], mux.Vars(r)["binding_id"]
	bd, found, err := o.b.OSB.LookupBinding(ctx, iid, bid)
	if err != nil {
		return 0, nil, err
	}
	if !found || bd.State != store.OSBActive {
		return 0, nil, fault.E(fault.NotFound, "no service binding %s", bid)
	}
	a, err := o.b.Store().AddonByID(ctx, bd.AddonID)
	if err != nil {
		return 0, nil, err
	}
	return o.bindingAnswer(r, http.StatusOK, a, bd)
}

// bindingLastOperation answers GET …/service_bindings/:bid/last_operation.
// Bindings are made and deleted synchronously, so a binding that exists, or
// whose deletion is remembered, has succeeded.
func (o *API) bindingLastOperation(r *http.Request) (int, any, error) {
	iid, bid := mux.Vars(r)["instance_id"], mux.Vars(r)["binding_id"]
	bd, found, err := o.b.OSB.LookupBinding(r.Context(), iid, bid)
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
