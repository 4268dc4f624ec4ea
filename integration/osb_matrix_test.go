package integration

import (
	"net/http"
	"strings"
	"testing"
)

// TestOSBStatusCodes walks the spec's status codes for every endpoint on a
// settled instance. Each row is one request against the state the rows
// before it left, so the order matters.
func TestOSBStatusCodes(t *testing.T) {
	b := NewBroker(t, "LARDER_OSB_PASSWORD="+osbPassword)
	o := newOSB(t, b)
	const inst = "/v2/service_instances/inst-a"
	const never = "/v2/service_instances/never-seen"
	r := o.do("PUT", inst+"?accepts_incomplete=true", o.provision("mini", "space-m", map[string]any{"timeout": 60}))
	if r.Status != http.StatusAccepted {
		t.Fatalf("provision = %d %s", r.Status, r.Raw)
	}
	o.waitState(inst, r.str("operation"), "succeeded")

	mini, p0 := o.plans["mini"], o.plans["premium-0"]
	withParams := func(params map[string]any) map[string]any { return o.provision("mini", "space-m", params) }
	patch := func(fields map[string]any) map[string]any {
		body := map[string]any{"service_id": o.service}
		for k, v := range fields {
			body[k] = v
		}
		return body
	}
	provisionWith := func(edit func(map[string]any)) map[string]any {
		body := withParams(nil)
		edit(body)
		return body
	}
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		code               string // the error code, for errors
		desc               string // part of the description
	}{
		// Provision.
		{"provision without accepts_incomplete", "PUT", "/v2/service_instances/new-1", withParams(nil), 422, "AsyncRequired", "accepts_incomplete"},
		{"provision accepts_incomplete=false", "PUT", "/v2/service_instances/new-1?accepts_incomplete=false", withParams(nil), 422, "AsyncRequired", ""},
		{"provision accepts_incomplete=maybe", "PUT", "/v2/service_instances/new-1?accepts_incomplete=maybe", withParams(nil), 400, "BadRequest", "accepts_incomplete"},
		{"provision malformed JSON", "PUT", "/v2/service_instances/new-1?accepts_incomplete=true", `{"service_id": `, 400, "BadRequest", "malformed JSON"},
		{"provision without body", "PUT", "/v2/service_instances/new-1?accepts_incomplete=true", "", 400, "BadRequest", ""},
		{"provision without space_guid", "PUT", "/v2/service_instances/new-1?accepts_incomplete=true",
			provisionWith(func(m map[string]any) { delete(m, "space_guid") }), 400, "BadRequest", "space_guid"},
		{"provision unknown service", "PUT", "/v2/service_instances/new-1?accepts_incomplete=true",
			provisionWith(func(m map[string]any) { m["service_id"] = "nope" }), 400, "BadRequest", "service_id"},
		{"provision unknown plan", "PUT", "/v2/service_instances/new-1?accepts_incomplete=true",
			provisionWith(func(m map[string]any) { m["plan_id"] = "nope" }), 400, "BadRequest", "plan_id"},
		{"provision bad maxmemory_policy", "PUT", "/v2/service_instances/new-1?accepts_incomplete=true",
			withParams(map[string]any{"maxmemory_policy": "forget-everything"}), 400, "BadRequest", "valid policies"},
		{"provision negative timeout", "PUT", "/v2/service_instances/new-1?accepts_incomplete=true",
			withParams(map[string]any{"timeout": -1}), 400, "BadRequest", "timeout"},
		{"provision unknown parameter", "PUT", "/v2/service_instances/new-1?accepts_incomplete=true",
			withParams(map[string]any{"memory": "1gb"}), 400, "BadRequest", "unknown parameter"},
		{"provision other maintenance version", "PUT", "/v2/service_instances/new-1?accepts_incomplete=true",
			provisionWith(func(m map[string]any) { m["maintenance_info"] = map[string]any{"version": "0.1.0"} }), 422, "MaintenanceInfoConflict", ""},
		{"provision identical, settled", "PUT", inst + "?accepts_incomplete=true", withParams(map[string]any{"timeout": 60}), 200, "", ""},
		{"provision identical, sync", "PUT", inst, withParams(map[string]any{"timeout": 60}), 200, "", ""},
		{"provision other parameters", "PUT", inst + "?accepts_incomplete=true", withParams(map[string]any{"timeout": 61}), 409, "Conflict", ""},
		{"provision other plan", "PUT", inst + "?accepts_incomplete=true", o.provision("premium-0", "space-m", map[string]any{"timeout": 60}), 409, "Conflict", ""},
		{"provision other space", "PUT", inst + "?accepts_incomplete=true", o.provision("mini", "space-x", map[string]any{"timeout": 60}), 409, "Conflict", ""},
		// Fetch.
		{"fetch", "GET", inst, nil, 200, "", ""},
		{"fetch with hints", "GET", inst + "?service_id=" + o.service + "&plan_id=" + mini, nil, 200, "", ""},
		{"fetch never seen", "GET", never, nil, 404, "NotFound", ""},
		// Update.
		{"update never seen", "PATCH", never, patch(nil), 404, "NotFound", ""},
		{"update malformed JSON", "PATCH", inst, `{`, 400, "BadRequest", ""},
		{"update without service_id", "PATCH", inst, map[string]any{"plan_id": p0}, 400, "BadRequest", "service_id"},
		{"update unknown plan", "PATCH", inst, patch(map[string]any{"plan_id": "nope"}), 400, "BadRequest", "plan_id"},
		{"update bad maxmemory_policy", "PATCH", inst, patch(map[string]any{"parameters": map[string]any{"maxmemory_policy": "x"}}), 400, "BadRequest", "valid policies"},
		{"update plan without accepts_incomplete", "PATCH", inst, patch(map[string]any{"plan_id": p0}), 422, "AsyncRequired", ""},
		{"update other maintenance version", "PATCH", inst + "?accepts_incomplete=true", patch(map[string]any{"maintenance_info": map[string]any{"version": "9.9.9"}}), 422, "MaintenanceInfoConflict", ""},
		{"update nothing", "PATCH", inst, patch(map[string]any{"plan_id": mini}), 200, "", ""},
		{"update context only", "PATCH", inst, patch(map[string]any{"context": map[string]any{"platform": "cloudfoundry", "instance_name": "renamed"}}), 200, "", ""},
		{"update parameters", "PATCH", inst, patch(map[string]any{"parameters": map[string]any{"maxmemory_policy": "allkeys-lru"}}), 200, "", ""},
		// last_operation.
		{"last_operation", "GET", inst + "/last_operation", nil, 200, "", ""},
		// A value the broker never returned means the latest operation (both
		// public OSB checkers poll with a literal "provision").
		{"last_operation unknown operation", "GET", inst + "/last_operation?operation=bogus", nil, 200, "", ""},
		{"last_operation literal provision", "GET", inst + "/last_operation?operation=provision", nil, 200, "", ""},
		{"last_operation never seen", "GET", never + "/last_operation", nil, 404, "NotFound", ""},
		// Bind.
		{"bind on an instance never seen", "PUT", never + "/service_bindings/b-x", o.bindBody("mini"), 404, "NotFound", ""},
		{"bind malformed JSON", "PUT", inst + "/service_bindings/b-1", `{"service_id"`, 400, "BadRequest", ""},
		{"bind without plan_id", "PUT", inst + "/service_bindings/b-1", map[string]any{"service_id": o.service}, 400, "BadRequest", "plan_id"},
		{"bind with parameters", "PUT", inst + "/service_bindings/b-1", map[string]any{"service_id": o.service, "plan_id": mini, "parameters": map[string]any{"x": 1}}, 400, "BadRequest", "parameter"},
		{"bind rotation", "PUT", inst + "/service_bindings/b-2", map[string]any{"predecessor_binding_id": "b-1"}, 400, "BadRequest", "rotation"},
		{"bind", "PUT", inst + "/service_bindings/b-1", o.bindBody("mini"), 201, "", ""},
		{"bind identical", "PUT", inst + "/service_bindings/b-1?accepts_incomplete=true", o.bindBody("mini"), 200, "", ""},
		{"bind other plan", "PUT", inst + "/service_bindings/b-1", o.bindBody("premium-0"), 409, "Conflict", ""},
		{"bind same id on another instance", "PUT", "/v2/service_instances/inst-b/service_bindings/b-1", o.bindBody("mini"), 404, "NotFound", ""},
		// Fetch binding and its last_operation.
		{"fetch binding", "GET", inst + "/service_bindings/b-1", nil, 200, "", ""},
		{"fetch binding never seen", "GET", inst + "/service_bindings/b-none", nil, 404, "NotFound", ""},
		{"fetch binding under another instance", "GET", never + "/service_bindings/b-1", nil, 404, "NotFound", ""},
		{"binding last_operation", "GET", inst + "/service_bindings/b-1/last_operation", nil, 200, "", ""},
		{"binding last_operation never seen", "GET", inst + "/service_bindings/b-none/last_operation", nil, 404, "NotFound", ""},
		// Unbind.
		{"unbind without plan_id", "DELETE", inst + "/service_bindings/b-1?service_id=" + o.service, nil, 400, "BadRequest", "plan_id"},
		{"unbind never seen", "DELETE", inst + "/service_bindings/b-none?" + o.deleteQuery("mini"), nil, 410, "", ""},
		{"unbind", "DELETE", inst + "/service_bindings/b-1?" + o.deleteQuery("mini"), nil, 200, "", ""},
		{"unbind again", "DELETE", inst + "/service_bindings/b-1?" + o.deleteQuery("mini"), nil, 410, "", ""},
		{"fetch unbound binding", "GET", inst + "/service_bindings/b-1", nil, 404, "NotFound", ""},
		{"rebind a deleted binding's id", "PUT", inst + "/service_bindings/b-1", o.bindBody("mini"), 201, "", ""},
		{"unbind it", "DELETE", inst + "/service_bindings/b-1?" + o.deleteQuery("mini"), nil, 200, "", ""},
		// Deprovision.
		{"deprovision without service_id", "DELETE", inst + "?accepts_incomplete=true&plan_id=" + mini, nil, 400, "BadRequest", "service_id"},
		{"deprovision other service_id", "DELETE", inst + "?accepts_incomplete=true&service_id=nope&plan_id=" + mini, nil, 400, "BadRequest", ""},
		{"deprovision without accepts_incomplete", "DELETE", inst + "?" + o.deleteQuery("mini"), nil, 422, "AsyncRequired", ""},
		{"deprovision never seen", "DELETE", never + "?accepts_incomplete=true&" + o.deleteQuery("mini"), nil, 410, "", ""},
		{"deprovision", "DELETE", inst + "?accepts_incomplete=true&" + o.deleteQuery("mini"), nil, 202, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := o.do(tc.method, tc.path, tc.body)
			if r.Status != tc.status || r.str("error") != tc.code {
				t.Fatalf("%s %s = %d %q, want %d %q: %s", tc.method, tc.path, r.Status, r.str("error"), tc.status, tc.code, r.Raw)
			}
			if tc.desc != "" && !strings.Contains(r.str("description"), tc.desc) {
				t.Errorf("description %q does not mention %q", r.str("description"), tc.desc)
			}
			if r.Status == http.StatusGone && r.Raw != "{}\n" {
				t.Errorf("410 body = %q, want {}", r.Raw)
			}
		})
	}
	o.waitState(inst, "", "succeeded")
	if r := o.do("DELETE", inst+"?accepts_incomplete=true&"+o.deleteQuery("mini"), nil); r.Status != http.StatusGone {
		t.Errorf("deprovision after it succeeded = %d, want 410", r.Status)
	}
}
