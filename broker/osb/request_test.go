package osb

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"larder/api"
	"larder/catalog"
)

func osbRequest(method, target, body string) *http.Request {
	return httptest.NewRequest(method, target, strings.NewReader(body))
}

// answer is the status and error code err gets; 0 and "" for nil.
func answer(err error) (int, string) {
	if err == nil {
		return 0, ""
	}
	oe := toOSBError(err)
	return oe.status, oe.code
}

func TestCheckAPIVersion(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want int
	}{
		{"2.17", 0}, {"2.13", 0}, {"2.14", 0}, {" 2.16 ", 0}, {"2.18", 0},
		{"", 412}, {"2.12", 412}, {"2.0", 412}, {"1.99", 412}, {"3.0", 412}, {"2", 412},
		{"2.x", 412}, {"2.+13", 412}, {"abc", 412}, {"2.17.1", 412}, {"-2.17", 412},
	} {
		t.Run(tc.v, func(t *testing.T) {
			got, code := answer(checkAPIVersion(tc.v))
			if got != tc.want {
				t.Fatalf("checkAPIVersion(%q) = %d, want %d", tc.v, got, tc.want)
			}
			if got == 412 && code != "PreconditionFailed" {
				t.Errorf("error code = %q, want PreconditionFailed", code)
			}
		})
	}
}

func TestParseOrigin(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name, header string
		want         string // "" with wantErr false: no identity
		wantErr      bool
	}{
		{"absent", "", "", false},
		{"cloudfoundry", "cloudfoundry " + b64(`{"user_id": "683ea748"}`), `cloudfoundry {"user_id":"683ea748"}`, false},
		{"kubernetes", "kubernetes " + b64(`{"username":"duke","uid":"c2dde242","groups":["admin"]}`),
			`kubernetes {"username":"duke","uid":"c2dde242","groups":["admin"]}`, false},
		{"unpadded base64", "cf " + strings.TrimRight(b64(`{"a":1}`), "="), `cf {"a":1}`, false},
		{"no value", "cloudfoundry", "", true},
		{"no platform", " " + b64(`{}`), "", true},
		{"not base64", "cloudfoundry !!!", "", true},
		{"not an object", "cloudfoundry " + b64(`["x"]`), "", true},
		{"null", "cloudfoundry " + b64(`null`), "", true},
		{"not JSON", "cloudfoundry " + b64(`user=1`), "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseOrigin(tc.header)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseOrigin(%q) error = %v, want error %v", tc.header, err, tc.wantErr)
			}
			if status, _ := answer(err); err != nil && status != 400 {
				t.Errorf("status = %d, want 400", status)
			}
			if got != tc.want {
				t.Errorf("parseOrigin(%q) = %q, want %q", tc.header, got, tc.want)
			}
		})
	}
}

func TestParseParams(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       string // canonical JSON
		wantErr    string // part of the description
	}{
		{"none", `{}`, `{}`, ""},
		{"policy", `{"maxmemory_policy":"allkeys-lru"}`, `{"maxmemory_policy":"allkeys-lru"}`, ""},
		{"timeout", `{"timeout":300}`, `{"timeout":300}`, ""},
		{"both, other order", `{"timeout":0,"maxmemory_policy":"volatile-ttl"}`, `{"maxmemory_policy":"volatile-ttl","timeout":0}`, ""},
		{"bad policy", `{"maxmemory_policy":"lru"}`, "", "valid policies"},
		{"policy not a string", `{"maxmemory_policy":3}`, "", "must be a string"},
		{"policy null", `{"maxmemory_policy":null}`, "", "must be a string"},
		{"negative timeout", `{"timeout":-1}`, "", "invalid timeout"},
		{"huge timeout", `{"timeout":99999999999}`, "", "integer"},
		{"timeout over a year", `{"timeout":31536001}`, "", "invalid timeout"},
		{"fractional timeout", `{"timeout":1.5}`, "", "integer"},
		{"timeout as string", `{"timeout":"30"}`, "", "integer"},
		{"unknown", `{"maxmemory":"1gb"}`, "", "unknown parameter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var raw map[string]json.RawMessage
			if err := json.Unmarshal([]byte(tc.body), &raw); err != nil {
				t.Fatal(err)
			}
			p, err := parseParams(raw)
			if tc.wantErr != "" {
				status, _ := answer(err)
				if err == nil || status != 400 || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseParams(%s) = %v (status %d), want a 400 mentioning %q", tc.body, err, status, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseParams(%s): %v", tc.body, err)
			}
			if got := p.canonical(); got != tc.want {
				t.Errorf("canonical = %s, want %s", got, tc.want)
			}
			if got := paramsFromJSON(p.canonical()).canonical(); got != tc.want {
				t.Errorf("round trip = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestParseProvision(t *testing.T) {
	cat := catalog.Builtin()
	svc, mini := osbServiceID("larder-redis"), osbPlanID("larder-redis", "mini")
	valid := `{"service_id":"` + svc + `","plan_id":"` + mini + `","organization_guid":"org","space_guid":"space"`
	for _, tc := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"minimal", valid + `}`, 0, ""},
		{"full", valid + `,"context":{"platform":"cloudfoundry","organization_guid":"org","space_guid":"space","instance_name":"x"},
			"parameters":{"maxmemory_policy":"allkeys-lfu","timeout":10},"maintenance_info":{"version":"1.0.0"},"vendor_field":[1,2]}`, 0, ""},
		{"empty body", ``, 400, "BadRequest"},
		{"malformed JSON", `{"service_id":`, 400, "BadRequest"},
		{"array", `[]`, 400, "BadRequest"},
		{"missing service_id", `{"plan_id":"` + mini + `","organization_guid":"o","space_guid":"s"}`, 400, "BadRequest"},
		{"missing plan_id", `{"service_id":"` + svc + `","organization_guid":"o","space_guid":"s"}`, 400, "BadRequest"},
		{"missing space_guid", `{"service_id":"` + svc + `","plan_id":"` + mini + `","organization_guid":"o"}`, 400, "BadRequest"},
		{"unknown service", `{"service_id":"nope","plan_id":"` + mini + `","organization_guid":"o","space_guid":"s"}`, 400, "BadRequest"},
		{"unknown plan", `{"service_id":"` + svc + `","plan_id":"nope","organization_guid":"o","space_guid":"s"}`, 400, "BadRequest"},
		{"service_id not a string", `{"service_id":1,"plan_id":"` + mini + `","organization_guid":"o","space_guid":"s"}`, 400, "BadRequest"},
		{"context not an object", valid + `,"context":"cf"}`, 400, "BadRequest"},
		{"parameters not an object", valid + `,"parameters":[1]}`, 400, "BadRequest"},
		{"bad policy", valid + `,"parameters":{"maxmemory_policy":"sometimes"}}`, 400, "BadRequest"},
		{"maintenance mismatch", valid + `,"maintenance_info":{"version":"0.9.0"}}`, 422, "MaintenanceInfoConflict"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parseProvision(osbRequest("PUT", "/v2/service_instances/i", tc.body), cat)
			status, code := answer(err)
			if status != tc.status || code != tc.code {
				t.Fatalf("parseProvision = %d %s (%v), want %d %s", status, code, err, tc.status, tc.code)
			}
			if err == nil && (s.Service.Name != "larder-redis" || s.Plan.Name != "mini" || api.CheckName(api.AppName, s.Owner) != nil) {
				t.Errorf("spec = %+v, want larder-redis:mini with a valid owner app", s)
			}
		})
	}
}

func TestParseUpdateAndBind(t *testing.T) {
	cat := catalog.Builtin()
	svc, p0 := osbServiceID("larder-redis"), osbPlanID("larder-redis", "premium-0")
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"plan only", `{"service_id":"` + svc + `","plan_id":"` + p0 + `"}`, 0},
		{"parameters only", `{"service_id":"` + svc + `","parameters":{"timeout":5},"previous_values":{"plan_id":"x"}}`, 0},
		{"missing service_id", `{"plan_id":"` + p0 + `"}`, 400},
		{"unknown plan", `{"service_id":"` + svc + `","plan_id":"nope"}`, 400},
		{"bad timeout", `{"service_id":"` + svc + `","parameters":{"timeout":-5}}`, 400},
		{"maintenance mismatch", `{"service_id":"` + svc + `","maintenance_info":{"version":"2.0.0"}}`, 422},
	} {
		t.Run("update/"+tc.name, func(t *testing.T) {
			_, err := parseUpdate(osbRequest("PATCH", "/", tc.body), cat)
			if status, _ := answer(err); status != tc.status {
				t.Fatalf("parseUpdate = %d (%v), want %d", status, err, tc.status)
			}
		})
	}
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"minimal", `{"service_id":"` + svc + `","plan_id":"` + p0 + `"}`, 0},
		{"with resource", `{"service_id":"` + svc + `","plan_id":"` + p0 + `","app_guid":"a","bind_resource":{"app_guid":"a"},"parameters":{}}`, 0},
		{"missing plan", `{"service_id":"` + svc + `"}`, 400},
		{"empty app_guid", `{"service_id":"` + svc + `","plan_id":"` + p0 + `","app_guid":""}`, 400},
		{"parameters", `{"service_id":"` + svc + `","plan_id":"` + p0 + `","parameters":{"ttl":1}}`, 400},
		{"rotation", `{"predecessor_binding_id":"b0"}`, 400},
		{"malformed", `{`, 400},
	} {
		t.Run("bind/"+tc.name, func(t *testing.T) {
			_, err := parseBind(osbRequest("PUT", "/", tc.body), cat)
			if status, _ := answer(err); status != tc.status {
				t.Fatalf("parseBind = %d (%v), want %d", status, err, tc.status)
			}
		})
	}
}

func TestOSBOwnerApp(t *testing.T) {
	cf := osbOwnerApp("org-1", "space-1", osbContext{Platform: "cloudfoundry"})
	if cf != osbOwnerApp("org-1", "space-1", osbContext{}) {
		t.Errorf("the owner of a space depends on the context's presence")
	}
	if cf == osbOwnerApp("org-1", "space-2", osbContext{}) {
		t.Errorf("two spaces share owner app %s", cf)
	}
	k8s := osbOwnerApp("cluster", "ns-uid", osbContext{Platform: "kubernetes", Namespace: "shop", ClusterID: "c1"})
	if k8s != osbOwnerApp("other", "other", osbContext{Platform: "kubernetes", Namespace: "shop", ClusterID: "c1"}) {
		t.Errorf("a kubernetes namespace's owner depends on org/space guids")
	}
	for _, name := range []string{cf, k8s, osbOwnerApp("", "", osbContext{})} {
		if api.CheckName(api.AppName, name) != nil {
			t.Errorf("owner app %q is not a valid app name", name)
		}
	}
}

func TestUUID5(t *testing.T) {
	// RFC 4122's DNS namespace and Python's uuid.uuid5(NAMESPACE_DNS, "python.org").
	dns := [16]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	if got, want := uuid5(dns, "python.org"), "886313e1-3b8a-5372-9b90-0c9aee199e5d"; got != want {
		t.Errorf("uuid5 = %s, want %s", got, want)
	}
	// The ids platforms know larder by: they must never change.
	if got, want := osbServiceID("larder-redis"), "ccadf13e-1538-537d-8f6f-78e6a82af907"; got != want {
		t.Errorf("service id = %s, want %s", got, want)
	}
	if got, want := osbPlanID("larder-redis", "mini"), "2b0cfbcc-d10e-5183-b1cf-3bb01ae32ca3"; got != want {
		t.Errorf("mini plan id = %s, want %s", got, want)
	}
}

func TestOSBCatalog(t *testing.T) {
	c := osbCatalogOf(catalog.Builtin())
	if len(c.Services) != 1 {
		t.Fatalf("services = %d, want 1", len(c.Services))
	}
	s := c.Services[0]
	if !s.Bindable || !s.PlanUpdateable || !s.InstancesRetrievable || !s.BindingsRetrievable {
		t.Errorf("service flags = %+v, want bindable, plan_updateable, instances and bindings retrievable", s)
	}
	ids := map[string]bool{s.ID: true}
	for _, p := range s.Plans {
		if ids[p.ID] {
			t.Errorf("plan %s reuses id %s", p.Name, p.ID)
		}
		ids[p.ID] = true
		for _, k := range []string{"memory_bytes", "connections", "persistence", "ha"} {
			if _, ok := p.Metadata[k]; !ok {
				t.Errorf("plan %s metadata lacks %s", p.Name, k)
			}
		}
	}
	raw, err := json.Marshal(s.Plans[0].Schemas)
	if err != nil {
		t.Fatal(err)
	}
	var schemas struct {
		ServiceInstance map[string]struct {
			Parameters struct {
				Schema     string `json:"$schema"`
				Properties map[string]struct {
					Type    string   `json:"type"`
					Enum    []string `json:"enum"`
					Minimum *int     `json:"minimum"`
				} `json:"properties"`
			} `json:"parameters"`
		} `json:"service_instance"`
	}
	if err := json.Unmarshal(raw, &schemas); err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"create", "update"} {
		p := schemas.ServiceInstance[op].Parameters
		if p.Schema == "" {
			t.Errorf("%s schema has no $schema", op)
		}
		if pol := p.Properties["maxmemory_policy"]; pol.Type != "string" || len(pol.Enum) != len(catalog.MaxMemoryPolicies) {
			t.Errorf("%s maxmemory_policy = %+v, want a string enum of %d policies", op, pol, len(catalog.MaxMemoryPolicies))
		}
		if to := p.Properties["timeout"]; to.Type != "integer" || to.Minimum == nil || *to.Minimum != 0 {
			t.Errorf("%s timeout = %+v, want an integer with minimum 0", op, to)
		}
	}
	if len(raw) > 64<<10 {
		t.Errorf("schemas are %d bytes; the spec allows 64 kB", len(raw))
	}
}

// FuzzParseBodies feeds arbitrary bodies to every OSB body parser: none may
// panic, and whatever is accepted must be consistent.
func FuzzParseBodies(f *testing.F) {
	svc, mini := osbServiceID("larder-redis"), osbPlanID("larder-redis", "mini")
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, `{"service_id":1}`,
		`{"service_id":"` + svc + `","plan_id":"` + mini + `","organization_guid":"o","space_guid":"s"}`,
		`{"service_id":"` + svc + `","plan_id":"` + mini + `","organization_guid":"o","space_guid":"s","parameters":{"timeout":5,"maxmemory_policy":"allkeys-lru"},"context":{"platform":"kubernetes","namespace":"n"}}`,
		`{"service_id":"` + svc + `","parameters":{"timeout":1e3}}`,
		`{"service_id":"` + svc + `","plan_id":"` + mini + `","bind_resource":{"app_guid":"x"},"app_guid":"x"}`,
		`{"parameters":{"timeout":"-0"},"maintenance_info":{"version":1}}`,
	} {
		f.Add(seed)
	}
	cat := catalog.Builtin()
	f.Fuzz(func(t *testing.T, body string) {
		if s, err := parseProvision(osbRequest("PUT", "/", body), cat); err == nil {
			if s.Service == nil || s.Plan == nil || osbPlanID(s.Service.Name, s.Plan.Name) != s.PlanID {
				t.Fatalf("accepted provision with inconsistent plan: %+v", s)
			}
			if api.CheckName(api.AppName, s.Owner) != nil {
				t.Fatalf("owner app %q is not a valid app name", s.Owner)
			}
			if again := paramsFromJSON(s.Params.canonical()).canonical(); again != s.Params.canonical() {
				t.Fatalf("parameters do not round-trip: %s then %s", s.Params.canonical(), again)
			}
		} else if status, _ := answer(err); status != 400 && status != 422 {
			t.Fatalf("provision error status %d (%v), want 400 or 422", status, err)
		}
		if s, err := parseUpdate(osbRequest("PATCH", "/", body), cat); err == nil {
			if s.ServiceID != svc {
				t.Fatalf("accepted update of unknown service %q", s.ServiceID)
			}
		} else if status, _ := answer(err); status != 400 && status != 422 {
			t.Fatalf("update error status %d (%v), want 400 or 422", status, err)
		}
		if _, err := parseBind(osbRequest("PUT", "/", body), cat); err != nil {
			if status, _ := answer(err); status != 400 {
				t.Fatalf("bind error status %d (%v), want 400", status, err)
			}
		}
	})
}

// FuzzParseOrigin checks that any header is either refused or turned into a
// single printable line.
func FuzzParseOrigin(f *testing.F) {
	f.Add("cloudfoundry eyJ1c2VyX2lkIjoieCJ9")
	f.Add("kubernetes e30=")
	f.Add("x \x00")
	f.Fuzz(func(t *testing.T, h string) {
		got, err := parseOrigin(h)
		if err != nil {
			return
		}
		if strings.ContainsAny(got, "\r\n\x00") || len(got) > 512+len("…") {
			t.Fatalf("parseOrigin(%q) = %q: not a safe event line", h, got)
		}
	})
}
