package osb

import (
	"crypto/sha1"
	"fmt"
	"net/http"

	"larder/broker"
	"larder/broker/settings"
	"larder/catalog"
	"larder/fault"
)

// osbNamespace is the UUID namespace larder's service and plan ids are made
// in. Platforms know services and plans by id only, so it never changes.
var osbNamespace = [16]byte{0x6c, 0x61, 0x72, 0x64, 0x65, 0x72, 0x4f, 0x53, 0x42, 0x6e, 0x73, 0x2d, 0x76, 0x32, 0x2e, 0x31}

// nameUUID returns the name-based UUID of name in larder's namespace: the
// same name gives the same id on every broker, forever.
func nameUUID(name string) string { return uuid5(osbNamespace, name) }

// uuid5 is RFC 4122's name-based UUID (SHA-1, version 5).
func uuid5(namespace [16]byte, name string) string {
	h := sha1.New()
	h.Write(namespace[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

func osbServiceID(service string) string { return nameUUID("service/" + service) }

func osbPlanID(service, plan string) string { return nameUUID("plan/" + service + "/" + plan) }

// osbMaintenanceVersion is what every plan's maintenance_info announces. A
// request naming another version is refused with MaintenanceInfoConflict;
// raising it is how a future layout change would be offered as an upgrade.
const osbMaintenanceVersion = "1.0.0"

type osbMaintenanceInfo struct {
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`
}

func maintenanceInfo() *osbMaintenanceInfo {
	return &osbMaintenanceInfo{Version: osbMaintenanceVersion, Description: "larder node layout 1"}
}

type osbCatalogBody struct {
	Services []osbService `json:"services"`
}

type osbService struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	Description          string         `json:"description"`
	Tags                 []string       `json:"tags"`
	Bindable             bool           `json:"bindable"`
	InstancesRetrievable bool           `json:"instances_retrievable"`
	BindingsRetrievable  bool           `json:"bindings_retrievable"`
	AllowContextUpdates  bool           `json:"allow_context_updates"`
	PlanUpdateable       bool           `json:"plan_updateable"`
	Metadata             map[string]any `json:"metadata"`
	Plans                []osbPlan      `json:"plans"`
}

type osbPlan struct {
	ID               string              `json:"id"`
	Name             string              `json:"name"`
	Description      string              `json:"description"`
	Free             bool                `json:"free"`
	Bindable         bool                `json:"bindable"`
	PlanUpdateable   bool                `json:"plan_updateable"`
	BindingRotatable bool                `json:"binding_rotatable"`
	Metadata         map[string]any      `json:"metadata"`
	Schemas          map[string]any      `json:"schemas"`
	MaintenanceInfo  *osbMaintenanceInfo `json:"maintenance_info"`
}

// osbCatalogOf renders a plan catalog as an OSB catalog.
func osbCatalogOf(c *catalog.Catalog) osbCatalogBody {
	out := osbCatalogBody{Services: []osbService{}}
	for _, s := range c.Services {
		svc := osbService{
			ID: osbServiceID(s.Name), Name: s.Name, Description: firstNonEmpty(s.Description, s.HumanName, s.Name),
			Tags:     []string{"redis", "valkey", "key-value", "caching", "larder"},
			Bindable: true, InstancesRetrievable: true, BindingsRetrievable: true, PlanUpdateable: true,
			Metadata: map[string]any{
				"displayName":         firstNonEmpty(s.HumanName, s.Name),
				"longDescription":     s.Description,
				"providerDisplayName": "larder",
			},
		}
		for _, p := range s.Plans {
			svc.Plans = append(svc.Plans, osbPlan{
				ID: osbPlanID(s.Name, p.Name), Name: p.Name, Description: firstNonEmpty(p.Description, p.HumanName, p.Name),
				Free: p.PriceCents == 0, Bindable: true, PlanUpdateable: true,
				Metadata: map[string]any{
					"displayName":  firstNonEmpty(p.HumanName, p.Name),
					"bullets":      []string{p.Description},
					"costs":        []any{map[string]any{"amount": map[string]float64{"usd": float64(p.PriceCents) / 100}, "unit": "MONTHLY"}},
					"memory":       broker.HumanBytes(p.MaxMemoryBytes),
					"memory_bytes": p.MaxMemoryBytes,
					"connections":  p.MaxClients,
					"persistence":  p.Persistence,
					"ha":           p.HA,
				},
				Schemas:         osbSchemas(),
				MaintenanceInfo: maintenanceInfo(),
			})
		}
		out.Services = append(out.Services, svc)
	}
	return out
}

// osbSchemas describes the parameters instances take (the same at create and
// update) and that bindings take none.
func osbSchemas() map[string]any {
	var policies []string
	for _, p := range catalog.MaxMemoryPolicies {
		policies = append(policies, p.Name)
	}
	params := func(defaults bool) map[string]any {
		policy := map[string]any{"type": "string", "enum": policies,
			"description": "what the engine does when memory is full (maxmemory-policy)"}
		timeout := map[string]any{"type": "integer", "minimum": 0, "maximum": settings.MaxTimeout,
			"description": "seconds after which an idle client connection is closed; 0 keeps it open"}
		if defaults {
			policy["default"] = catalog.DefaultMaxMemoryPolicy
			timeout["default"] = 0
		}
		return map[string]any{"parameters": map[string]any{
			"$schema": "http://json-schema.org/draft-04/schema#", "type": "object", "additionalProperties": false,
			"properties": map[string]any{"maxmemory_policy": policy, "timeout": timeout},
		}}
	}
	return map[string]any{
		"service_instance": map[string]any{"create": params(true), "update": params(false)},
		"service_binding": map[string]any{"create": map[string]any{"parameters": map[string]any{
			"$schema": "http://json-schema.org/draft-04/schema#", "type": "object", "additionalProperties": false,
		}}},
	}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// osbResolve finds the catalog service and plan behind OSB ids.
func osbResolve(c *catalog.Catalog, serviceID, planID string) (*catalog.Service, *catalog.Plan, error) {
	svc, err := osbFindService(c, serviceID)
	if err != nil {
		return nil, nil, err
	}
	p, err := osbPlanOf(svc, planID)
	return svc, p, err
}

func osbFindService(c *catalog.Catalog, serviceID string) (*catalog.Service, error) {
	for i := range c.Services {
		if osbServiceID(c.Services[i].Name) == serviceID {
			return &c.Services[i], nil
		}
	}
	return nil, fault.E(fault.BadRequest, "unknown service_id %q: see GET /v2/catalog", truncateText(serviceID, 64))
}

func osbPlanOf(svc *catalog.Service, planID string) (*catalog.Plan, error) {
	for i := range svc.Plans {
		if osbPlanID(svc.Name, svc.Plans[i].Name) == planID {
			return &svc.Plans[i], nil
		}
	}
	return nil, fault.E(fault.BadRequest, "unknown plan_id %q for service %s: see GET /v2/catalog", truncateText(planID, 64), svc.Name)
}

func (o *API) catalog(r *http.Request) (int, any, error) {
	return http.StatusOK, osbCatalogOf(o.b.Catalog()), nil
}
