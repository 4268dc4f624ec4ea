package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"larder/api"
)

// The Open Service Broker API, driven as a platform (Cloud Foundry, the
// Kubernetes service catalog) drives it, against a real broker and real nodes.

func TestOSBHeadersAuthAndCatalog(t *testing.T) {
	b := NewBroker(t, "LARDER_OSB_PASSWORD="+osbPassword)
	o := newOSB(t, b)
	for _, tc := range []struct {
		name   string
		edit   func(*http.Request)
		status int
		code   string
	}{
		{"2.17", nil, 200, ""},
		{"2.13", header("X-Broker-API-Version", "2.13"), 200, ""},
		{"2.14", header("X-Broker-API-Version", "2.14"), 200, ""},
		{"version missing", header("X-Broker-API-Version", ""), 412, "PreconditionFailed"},
		{"version empty", func(r *http.Request) { r.Header["X-Broker-Api-Version"] = []string{""} }, 412, "PreconditionFailed"},
		{"version 2.12", header("X-Broker-API-Version", "2.12"), 412, "PreconditionFailed"},
		{"version 3.0", header("X-Broker-API-Version", "3.0"), 412, "PreconditionFailed"},
		{"version garbage", header("X-Broker-API-Version", "latest"), 412, "PreconditionFailed"},
		{"no auth", func(r *http.Request) { r.Header.Del("Authorization") }, 401, "Unauthorized"},
		{"wrong password", func(r *http.Request) { r.SetBasicAuth("larder", "nope") }, 401, "Unauthorized"},
		{"wrong user", func(r *http.Request) { r.SetBasicAuth("admin", osbPassword) }, 401, "Unauthorized"},
		{"API token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+b.Token) }, 401, "Unauthorized"},
		{"auth before version", func(r *http.Request) { r.Header.Del("Authorization"); r.Header.Del("X-Broker-API-Version") }, 401, "Unauthorized"},
		{"identity", identity("cloudfoundry", `{"user_id":"u-1"}`), 200, ""},
		{"identity malformed", header("X-Broker-API-Originating-Identity", "cloudfoundry not-base64!"), 400, "BadRequest"},
		{"identity without value", header("X-Broker-API-Originating-Identity", "cloudfoundry"), 400, "BadRequest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			edit := []func(*http.Request){header("X-Broker-API-Request-Identity", "req-"+tc.name)}
			if tc.edit != nil {
				edit = append(edit, tc.edit)
			}
			r := o.do("GET", "/v2/catalog", nil, edit...)
			if r.Status != tc.status || r.str("error") != tc.code {
				t.Fatalf("GET /v2/catalog = %d %q, want %d %q: %s", r.Status, r.str("error"), tc.status, tc.code, r.Raw)
			}
			if got := r.Header.Get("X-Broker-API-Request-Identity"); got != "req-"+tc.name {
				t.Errorf("request identity echoed as %q, want %q", got, "req-"+tc.name)
			}
			if tc.status == 401 && r.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
		})
	}

	// The OSB password opens nothing on larder's own API.
	req, _ := http.NewRequest("GET", b.URL+"/apps", nil)
	req.SetBasicAuth("larder", osbPassword)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /apps with the OSB credentials = %v %v, want 401", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}

	// Service and plan ids never change, across restarts too.
	before := o.do("GET", "/v2/catalog", nil).Raw
	var c map[string]any
	json.Unmarshal([]byte(before), &c)
	svc := c["services"].([]any)[0].(map[string]any)
	for _, k := range []string{"bindable", "plan_updateable", "instances_retrievable", "bindings_retrievable"} {
		if svc[k] != true {
			t.Errorf("service %s = %v, want true", k, svc[k])
		}
	}
	plan := svc["plans"].([]any)[0].(map[string]any)
	schema := plan["schemas"].(map[string]any)["service_instance"].(map[string]any)["create"].(map[string]any)["parameters"].(map[string]any)
	props := schema["properties"].(map[string]any)
	if schema["$schema"] == nil || props["maxmemory_policy"].(map[string]any)["enum"] == nil || props["timeout"].(map[string]any)["minimum"] != 0.0 {
		t.Errorf("create parameters schema = %v", schema)
	}
	b.Stop()
	b.Start()
	if after := newOSB(t, b).do("GET", "/v2/catalog", nil).Raw; after != before {
		t.Errorf("catalog changed across a restart:\n%s\n%s", before, after)
	}
}

func TestOSBGeneratedPassword(t *testing.T) {
	b := NewBroker(t)
	data, err := os.ReadFile(filepath.Join(b.DataDir, "osb-password"))
	pw := strings.TrimSpace(string(data))
	if err != nil || len(pw) < 32 {
		t.Fatalf("osb-password file = %q, %v; want a generated password", pw, err)
	}
	o := &osbAPI{t: t, url: b.URL, user: "larder", pass: pw}
	if r := o.do("GET", "/v2/catalog", nil); r.Status != http.StatusOK {
		t.Errorf("catalog with the generated password = %d, want 200", r.Status)
	}
	o.pass = ""
	if r := o.do("GET", "/v2/catalog", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("catalog with an empty password = %d, want 401", r.Status)
	}
}

// TestOSBEndToEnd is a platform's life with one instance: provision async,
// poll, bind twice, use the credentials, change the plan, unbind one binding
// (its credentials stop working, the other's keep working), deprovision.
func TestOSBEndToEnd(t *testing.T) {
	b := NewBroker(t, "LARDER_OSB_PASSWORD="+osbPassword)
	o := newOSB(t, b)
	ctx := context.Background()
	const inst = "/v2/service_instances/8a3c7c1e-0d7e-4a55-9d8f-3a1b2c3d4e5f"
	who := identity("cloudfoundry", `{"user_id":"683ea748-3092-4ff4-b656-39cacc4d5360"}`)

	r := o.do("PUT", inst+"?accepts_incomplete=true", o.provision("mini", "space-1", map[string]any{"maxmemory_policy": "allkeys-lru"}), who)
	if r.Status != http.StatusAccepted || r.str("operation") == "" {
		t.Fatalf("provision = %d %s, want 202 with an operation", r.Status, r.Raw)
	}
	o.waitState(inst, r.str("operation"), "succeeded")
	for _, op := range []string{"provision", "update"} { // literal values, as public OSB checkers poll
		if r := o.do("GET", inst+"/last_operation?operation="+op, nil); r.Status != http.StatusOK || r.str("state") != "succeeded" {
			t.Errorf("last_operation?operation=%s = %d %s, want the latest operation, succeeded", op, r.Status, r.Raw)
		}
	}
	r = o.do("GET", inst, nil)
	params, _ := r.Body["parameters"].(map[string]any)
	if r.Status != http.StatusOK || r.str("plan_id") != o.plans["mini"] || params["maxmemory_policy"] != "allkeys-lru" {
		t.Fatalf("GET instance = %d %s, want the mini plan with allkeys-lru", r.Status, r.Raw)
	}

	// The instance is an ordinary add-on of an app derived from the space.
	var addon api.Addon
	addons, err := b.Client().Addons(ctx, "")
	for _, a := range addons {
		if strings.HasPrefix(a.App.Name, "osb-") {
			addon = a
		}
	}
	if err != nil || addon.Name == "" || addon.Settings.MaxMemoryPolicy != "allkeys-lru" {
		t.Fatalf("larder addons = %+v, %v; want the instance's add-on under an osb-… app", addons, err)
	}
	if out := b.MustLarder("addons").Stdout; !strings.Contains(out, addon.Name) || !strings.Contains(out, addon.App.Name) {
		t.Errorf("larder addons does not list %s of %s:\n%s", addon.Name, addon.App.Name, out)
	}
	evs, err := b.Client().Events(ctx, addon.App.Name, addon.Name)
	if err != nil || !eventsMention(evs, "osb.provision", "683ea748-3092-4ff4-b656-39cacc4d5360") {
		t.Errorf("events %+v (%v) do not record the originating identity", evs, err)
	}

	creds := map[string]osbResp{}
	for _, id := range []string{"b1", "b2"} {
		r := o.do("PUT", inst+"/service_bindings/"+id, o.bindBody("mini"), who)
		if r.Status != http.StatusCreated {
			t.Fatalf("bind %s = %d %s, want 201", id, r.Status, r.Raw)
		}
		creds[id] = r
	}
	c1, c2 := credsOf(t, creds["b1"]), credsOf(t, creds["b2"])
	if c1.Username == c2.Username || c1.Password == c2.Password || c1.Username == "default" {
		t.Fatalf("bindings share credentials: %s and %s", c1.Username, c2.Username)
	}
	if _, ok := creds["b1"].Body["credentials"].(map[string]any)["tls_uri"]; ok {
		t.Errorf("credentials carry a tls_uri, but larder has no TLS yet")
	}
	if _, ok := creds["b1"].Body["parameters"]; ok {
		t.Errorf("bind answer has parameters, which the spec does not give a PUT answer: %s", creds["b1"].Raw)
	}
	if eps, _ := creds["b1"].Body["endpoints"].([]any); len(eps) == 0 {
		t.Errorf("bind answer has no endpoints: %s", creds["b1"].Raw)
	}
	cl1, cl2 := redisClient(t, c1.URI), bindingClient(t, c2)
	if err := cl1.Set(ctx, "hello", "world", 0).Err(); err != nil {
		t.Fatalf("SET through binding b1: %v", err)
	}
	if got, err := cl2.Get(ctx, "hello").Result(); err != nil || got != "world" {
		t.Fatalf("GET through binding b2 = %q, %v; want world", got, err)
	}
	if err := cl1.Do(ctx, "config", "get", "maxmemory").Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Errorf("binding user CONFIG GET: %v, want NOPERM", err)
	}
	if r := o.do("PUT", inst+"/service_bindings/b1", o.bindBody("mini")); r.Status != http.StatusOK || credsOf(t, r) != c1 {
		t.Errorf("identical bind = %d, same credentials %v; want 200 and the same credentials", r.Status, credsOf(t, r) == c1)
	}
	if r := o.do("GET", inst+"/service_bindings/b2", nil); r.Status != http.StatusOK || credsOf(t, r) != c2 || r.Body["parameters"] == nil {
		t.Errorf("GET binding b2 = %d %s, want 200 with its credentials and parameters", r.Status, r.Raw)
	}
	checkNoBindingVars(t, b, c1, c2)

	// Plan change: mini → premium-0, live; the bindings keep working.
	r = o.do("PATCH", inst+"?accepts_incomplete=true", map[string]any{"service_id": o.service, "plan_id": o.plans["premium-0"],
		"previous_values": map[string]any{"plan_id": o.plans["mini"]}}, who)
	if r.Status != http.StatusAccepted || r.str("operation") == "" {
		t.Fatalf("plan change = %d %s, want 202 with an operation", r.Status, r.Raw)
	}
	o.waitState(inst, r.str("operation"), "succeeded")
	if r := o.do("GET", inst, nil); r.str("plan_id") != o.plans["premium-0"] {
		t.Errorf("plan after the change = %s, want premium-0", r.Raw)
	}
	if got, err := cl1.Get(ctx, "hello").Result(); err != nil || got != "world" {
		t.Fatalf("GET through b1 after the plan change = %q, %v; want world", got, err)
	}
	// Parameters change synchronously.
	if r := o.do("PATCH", inst, map[string]any{"service_id": o.service, "parameters": map[string]any{"timeout": 300}}); r.Status != http.StatusOK {
		t.Fatalf("parameter update = %d %s, want 200", r.Status, r.Raw)
	}
	if r := o.do("GET", inst, nil); r.Body["parameters"].(map[string]any)["timeout"] != 300.0 {
		t.Errorf("timeout after the update: %s", r.Raw)
	}

	// Unbind b1: its credentials stop working at once; b2's keep working.
	if r := o.do("DELETE", inst+"/service_bindings/b1?"+o.deleteQuery("premium-0"), nil, who); r.Status != http.StatusOK {
		t.Fatalf("unbind b1 = %d %s, want 200", r.Status, r.Raw)
	}
	err = redisClient(t, c1.URI).Ping(ctx).Err()
	if err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("new connection with b1's credentials: %v, want WRONGPASS", err)
	}
	if err := cl1.Get(ctx, "hello").Err(); err == nil {
		t.Errorf("b1's open connection still works after unbind")
	}
	if got, err := cl2.Get(ctx, "hello").Result(); err != nil || got != "world" {
		t.Errorf("GET through b2 after b1's unbind = %q, %v; want world", got, err)
	}
	if r := o.do("DELETE", inst+"/service_bindings/b1?"+o.deleteQuery("premium-0"), nil); r.Status != http.StatusGone {
		t.Errorf("second unbind of b1 = %d, want 410", r.Status)
	}
	if r := o.do("GET", inst+"/service_bindings/b1", nil); r.Status != http.StatusNotFound {
		t.Errorf("GET unbound b1 = %d, want 404", r.Status)
	}
	if r := o.do("GET", inst+"/service_bindings/b1/last_operation", nil); r.Status != http.StatusOK || r.str("state") != "succeeded" {
		t.Errorf("last_operation of unbound b1 = %d %s, want succeeded", r.Status, r.Raw)
	}
	if r := o.do("DELETE", inst+"/service_bindings/b2?"+o.deleteQuery("premium-0"), nil); r.Status != http.StatusOK {
		t.Fatalf("unbind b2 = %d %s", r.Status, r.Raw)
	}

	// Deprovision: async, polled to succeeded; the add-on and its node go.
	pids := nodePIDs(b.DataDir)
	r = o.do("DELETE", inst+"?accepts_incomplete=true&"+o.deleteQuery("premium-0"), nil, who)
	if r.Status != http.StatusAccepted || r.str("operation") == "" {
		t.Fatalf("deprovision = %d %s, want 202 with an operation", r.Status, r.Raw)
	}
	o.waitState(inst, r.str("operation"), "succeeded")
	if r := o.do("GET", inst+"/last_operation", nil); r.Status != http.StatusOK || r.str("state") != "succeeded" {
		t.Errorf("last_operation after the delete = %d %s, want succeeded", r.Status, r.Raw)
	}
	if r := o.do("DELETE", inst+"?accepts_incomplete=true&"+o.deleteQuery("premium-0"), nil); r.Status != http.StatusGone {
		t.Errorf("second deprovision = %d %s, want 410", r.Status, r.Raw)
	}
	if r := o.do("GET", inst, nil); r.Status != http.StatusNotFound {
		t.Errorf("GET deleted instance = %d, want 404", r.Status)
	}
	if out := b.MustLarder("addons").Stdout; strings.Contains(out, addon.Name) {
		t.Errorf("larder addons still lists %s:\n%s", addon.Name, out)
	}
	for _, pid := range pids {
		WaitFor(t, 10*time.Second, "node process to exit", func() error {
			if processAlive(pid) {
				return fmt.Errorf("pid %d alive", pid)
			}
			return nil
		})
	}
	if r := o.do("GET", "/v2/service_instances/never-seen/last_operation", nil); r.Status != http.StatusNotFound {
		t.Errorf("last_operation of an instance never seen = %d, want 404", r.Status)
	}
}
