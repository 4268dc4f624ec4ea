package osb

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"larder/api"
	"larder/broker/settings"
	"larder/catalog"
	"larder/fault"
	"larder/internal/httpjson"
	"larder/store"
)

// This file reads OSB request bodies, checked against the catalog before
// anything is changed. It holds no I/O beyond the request itself, so it is
// fuzzed directly.

// osbParams are the parameters instances take. nil fields were not given.
type osbParams struct {
	MaxMemoryPolicy *string `json:"maxmemory_policy,omitempty"`
	Timeout         *int    `json:"timeout,omitempty"`
}

// parseParams validates parameters against the schema the catalog
// announces, with the same rules as larder's own settings commands.
func parseParams(raw map[string]json.RawMessage) (osbParams, error) {
	var p osbParams
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := bytes.TrimSpace(raw[k])
		switch k {
		case "maxmemory_policy":
			var s string
			if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &s) != nil {
				return p, fault.E(fault.BadRequest, "parameter maxmemory_policy must be a string")
			}
			p.MaxMemoryPolicy = &s
		case "timeout":
			var n json.Number
			if len(v) == 0 || !(v[0] == '-' || v[0] >= '0' && v[0] <= '9') || json.Unmarshal(v, &n) != nil {
				return p, fault.E(fault.BadRequest, "parameter timeout must be an integer number of seconds")
			}
			t, err := strconv.ParseInt(n.String(), 10, 32)
			if err != nil {
				return p, fault.E(fault.BadRequest, "parameter timeout must be an integer number of seconds, 0 to %d", settings.MaxTimeout)
			}
			ti := int(t)
			p.Timeout = &ti
		default:
			return p, fault.E(fault.BadRequest, "unknown parameter %q; supported: maxmemory_policy, timeout", truncateText(k, 64))
		}
	}
	if !p.empty() {
		if _, err := settings.ApplySettings(store.Addon{}, p.patch()); err != nil {
			return p, fault.E(fault.BadRequest, "%s", fault.Message(err))
		}
	}
	return p, nil
}

func (p osbParams) empty() bool { return p.MaxMemoryPolicy == nil && p.Timeout == nil }

func (p osbParams) patch() api.SettingsPatch {
	return api.SettingsPatch{MaxMemoryPolicy: p.MaxMemoryPolicy, Timeout: p.Timeout}
}

// merge returns p with the values q gives laid over it.
func (p osbParams) merge(q osbParams) osbParams {
	if q.MaxMemoryPolicy != nil {
		p.MaxMemoryPolicy = q.MaxMemoryPolicy
	}
	if q.Timeout != nil {
		p.Timeout = q.Timeout
	}
	return p
}

// canonical is p as JSON with a fixed key order: equal parameters give equal text.
func (p osbParams) canonical() string {
	b, _ := json.Marshal(p)
	return string(b)
}

func paramsFromJSON(s string) osbParams {
	var p osbParams
	json.Unmarshal([]byte(s), &p)
	return p
}

// osbContext holds the fields of the platform's context object larder reads.
type osbContext struct {
	Platform         string `json:"platform"`
	OrganizationGUID string `json:"organization_guid"`
	SpaceGUID        string `json:"space_guid"`
	Namespace        string `json:"namespace"`
	ClusterID        string `json:"clusterid"`
}

// parseContext checks that a context is an object and returns it compacted.
func parseContext(raw json.RawMessage) (osbContext, string, error) {
	var c osbContext
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return c, "", nil
	}
	if raw[0] != '{' || json.Unmarshal(raw, &c) != nil {
		return c, "", fault.E(fault.BadRequest, "context must be an object whose platform, organization_guid, space_guid, namespace and clusterid are strings")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return c, "", fault.E(fault.BadRequest, "context is not valid JSON")
	}
	return c, compact.String(), nil
}

func checkMaintenance(m *osbMaintenanceInfo) error {
	if m != nil && m.Version != "" && m.Version != osbMaintenanceVersion {
		return osbErr(http.StatusUnprocessableEntity, "MaintenanceInfoConflict",
			"maintenance_info.version %q does not match the catalog's %s; fetch the catalog again",
			truncateText(m.Version, 32), osbMaintenanceVersion)
	}
	return nil
}

type provisionBody struct {
	ServiceID        string                     `json:"service_id"`
	PlanID           string                     `json:"plan_id"`
	OrganizationGUID string                     `json:"organization_guid"`
	SpaceGUID        string                     `json:"space_guid"`
	Context          json.RawMessage            `json:"context"`
	Parameters       map[string]json.RawMessage `json:"parameters"`
	MaintenanceInfo  *osbMaintenanceInfo        `json:"maintenance_info"`
}

// provisionSpec is a valid provision request.
type provisionSpec struct {
	Service          *catalog.Service
	Plan             *catalog.Plan
	ServiceID        string
	PlanID           string
	OrganizationGUID string
	SpaceGUID        string
	Params           osbParams
	Context          string // compact JSON, "" when none was sent
	Owner            string // the app that owns the add-on
}

func parseProvision(r *http.Request, c *catalog.Catalog) (provisionSpec, error) {
	var body provisionBody
	if err := httpjson.Decode(r, &body, false); err != nil {
		return provisionSpec{}, err
	}
	var s provisionSpec
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"service_id", body.ServiceID}, {"plan_id", body.PlanID},
		{"organization_guid", body.OrganizationGUID}, {"space_guid", body.SpaceGUID},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return s, fault.E(fault.BadRequest, "missing %s", strings.Join(missing, ", "))
	}
	svc, plan, err := osbResolve(c, body.ServiceID, body.PlanID)
	if err != nil {
		return s, err
	}
	ctx, ctxJSON, err := parseContext(body.Context)
	if err != nil {
		return s, err
	}
	params, err := parseParams(body.Parameters)
	if err != nil {
		return s, err
	}
	if err := checkMaintenance(body.MaintenanceInfo); err != nil {
		return s, err
	}
	return provisionSpec{
		Service: svc, Plan: plan, ServiceID: body.ServiceID, PlanID: body.PlanID,
		OrganizationGUID: body.OrganizationGUID, SpaceGUID: body.SpaceGUID, Params: params, Context: ctxJSON,
		Owner: osbOwnerApp(body.OrganizationGUID, body.SpaceGUID, ctx),
	}, nil
}

type updateBody struct {
	ServiceID       string                     `json:"service_id"`
	PlanID          string                     `json:"plan_id"`
	Context         json.RawMessage            `json:"context"`
	Parameters      map[string]json.RawMessage `json:"parameters"`
	MaintenanceInfo *osbMaintenanceInfo        `json:"maintenance_info"`
}

// updateSpec is a valid update request; nil fields were not given.
type updateSpec struct {
	ServiceID string
	Plan      *catalog.Plan
	Params    *osbParams
	Context   string
}

func parseUpdate(r *http.Request, c *catalog.Catalog) (updateSpec, error) {
	var body updateBody
	if err := httpjson.Decode(r, &body, false); err != nil {
		return updateSpec{}, err
	}
	if body.ServiceID == "" {
		return updateSpec{}, fault.E(fault.BadRequest, "missing service_id")
	}
	svc, err := osbFindService(c, body.ServiceID)
	if err != nil {
		return updateSpec{}, err
	}
	s := updateSpec{ServiceID: body.ServiceID}
	if body.PlanID != "" {
		if s.Plan, err = osbPlanOf(svc, body.PlanID); err != nil {
			return updateSpec{}, err
		}
	}
	if _, s.Context, err = parseContext(body.Context); err != nil {
		return updateSpec{}, err
	}
	if body.Parameters != nil {
		p, err := parseParams(body.Parameters)
		if err != nil {
			return updateSpec{}, err
		}
		s.Params = &p
	}
	return s, checkMaintenance(body.MaintenanceInfo)
}

type bindBody struct {
	ServiceID            string                     `json:"service_id"`
	PlanID               string                     `json:"plan_id"`
	AppGUID              *string                    `json:"app_guid"`
	BindResource         json.RawMessage            `json:"bind_resource"`
	Context              json.RawMessage            `json:"context"`
	Parameters           map[string]json.RawMessage `json:"parameters"`
	PredecessorBindingID string                     `json:"predecessor_binding_id"`
}

// bindSpec is a valid bind request.
type bindSpec struct {
	ServiceID string
	PlanID    string
	Params    string // canonical JSON; bindings take no parameters yet
}

func parseBind(r *http.Request, c *catalog.Catalog) (bindSpec, error) {
	var body bindBody
	if err := httpjson.Decode(r, &body, false); err != nil {
		return bindSpec{}, err
	}
	if body.PredecessorBindingID != "" {
		return bindSpec{}, fault.E(fault.BadRequest, "binding rotation is not supported (binding_rotatable is false): create a new binding and delete the old one")
	}
	if body.ServiceID == "" || body.PlanID == "" {
		return bindSpec{}, fault.E(fault.BadRequest, "service_id and plan_id are required")
	}
	if _, _, err := osbResolve(c, body.ServiceID, body.PlanID); err != nil {
		return bindSpec{}, err
	}
	if body.AppGUID != nil && *body.AppGUID == "" {
		return bindSpec{}, fault.E(fault.BadRequest, "app_guid, when given, must not be empty")
	}
	if br := bytes.TrimSpace(body.BindResource); len(br) > 0 && string(br) != "null" && br[0] != '{' {
		return bindSpec{}, fault.E(fault.BadRequest, "bind_resource must be an object")
	}
	if _, _, err := parseContext(body.Context); err != nil {
		return bindSpec{}, err
	}
	keys := make([]string, 0, len(body.Parameters))
	for k := range body.Parameters {
		keys = append(keys, k)
	}
	if len(keys) > 0 {
		sort.Strings(keys)
		return bindSpec{}, fault.E(fault.BadRequest, "unknown parameter %q: bindings take no parameters", truncateText(keys[0], 64))
	}
	return bindSpec{ServiceID: body.ServiceID, PlanID: body.PlanID, Params: "{}"}, nil
}

// osbOwnerApp names the app that owns a platform's instances: one per Cloud
// Foundry space or Kubernetes namespace, "osb-" and a hash of the stable ids
// (names change, guids do not). It is always a valid app name (api.AppName).
func osbOwnerApp(org, space string, c osbContext) string {
	key := "cloudfoundry/" + org + "/" + space
	if c.Platform == "kubernetes" && c.Namespace != "" {
		key = "kubernetes/" + c.ClusterID + "/" + c.Namespace
	}
	sum := sha1.Sum([]byte(key))
	return "osb-" + hex.EncodeToString(sum[:])[:10]
}
