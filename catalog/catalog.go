// Package catalog holds larder's services and plans: what each plan promises
// (memory, connections, persistence, HA) and how a user's "service:plan" text
// maps to one. The built-in catalog can be replaced by a JSON file an operator
// writes, so plan sizes are a deployment decision, not a code change.
package catalog

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"larder/fault"
)

// DefaultService is the slug users type in addons:create.
const DefaultService = "larder-redis"

// Plan is one size of a service.
type Plan struct {
	Name           string `json:"name"`              // short name, e.g. "premium-0"
	HumanName      string `json:"human_name"`        // e.g. "Premium 0"
	Description    string `json:"description"`       // one line a user reads before choosing
	MaxMemoryBytes int64  `json:"maxmemory_bytes"`   // the engine's maxmemory
	MaxClients     int    `json:"max_clients"`       // connections the customer may open
	Persistence    bool   `json:"persistence"`       // appendonly yes + appendfsync everysec
	HA             bool   `json:"ha"`                // primary + standby
	PriceCents     int    `json:"price_cents"`       // per month, for display only
	Default        bool   `json:"default,omitempty"` // the plan used when none is named
}

// Service is an add-on service and its plans, smallest first.
type Service struct {
	Name        string `json:"name"`
	HumanName   string `json:"human_name"`
	Description string `json:"description"`
	Plans       []Plan `json:"plans"`
}

// Catalog is the set of services a broker offers.
type Catalog struct {
	Services []Service `json:"services"`
}

const mb = 1 << 20

// Builtin returns the catalog larder ships with, sized in Heroku's spirit.
func Builtin() *Catalog {
	persistent := "AOF persistence (appendfsync everysec); HA standby with automatic failover."
	return &Catalog{Services: []Service{{
		Name:        DefaultService,
		HumanName:   "larder Redis",
		Description: "Valkey/Redis key-value store, wired into your app as REDIS_URL.",
		Plans: []Plan{
			{Name: "mini", HumanName: "Mini", MaxMemoryBytes: 25 * mb, MaxClients: 20, PriceCents: 300, Default: true,
				Description: "25 MB, 20 connections, no persistence: data is lost when the node restarts."},
			{Name: "premium-0", HumanName: "Premium 0", MaxMemoryBytes: 50 * mb, MaxClients: 40, Persistence: true, HA: true, PriceCents: 1500,
				Description: "50 MB, 40 connections. " + persistent},
			{Name: "premium-1", HumanName: "Premium 1", MaxMemoryBytes: 100 * mb, MaxClients: 80, Persistence: true, HA: true, PriceCents: 3000,
				Description: "100 MB, 80 connections. " + persistent},
			{Name: "premium-2", HumanName: "Premium 2", MaxMemoryBytes: 250 * mb, MaxClients: 200, Persistence: true, HA: true, PriceCents: 6000,
				Description: "250 MB, 200 connections. " + persistent},
			{Name: "premium-3", HumanName: "Premium 3", MaxMemoryBytes: 500 * mb, MaxClients: 400, Persistence: true, HA: true, PriceCents: 12000,
				Description: "500 MB, 400 connections. " + persistent},
			{Name: "premium-4", HumanName: "Premium 4", MaxMemoryBytes: 750 * mb, MaxClients: 1000, Persistence: true, HA: true, PriceCents: 20000,
				Description: "750 MB, 1000 connections. " + persistent},
			{Name: "premium-5", HumanName: "Premium 5", MaxMemoryBytes: 1024 * mb, MaxClients: 1000, Persistence: true, HA: true, PriceCents: 25000,
				Description: "1 GB, 1000 connections. " + persistent},
		},
	}}}
}

// Load reads a catalog from a JSON file and validates it.
func Load(path string) (*Catalog, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read catalog %s: %w", path, err)
	}
	var c Catalog
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("parse catalog %s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	return &c, nil
}

// Validate checks that names are unique and sizes make sense.
func (c *Catalog) Validate() error {
	if len(c.Services) == 0 {
		return fmt.Errorf("no services")
	}
	seen := map[string]bool{}
	for _, s := range c.Services {
		if !validSlug(s.Name) {
			return fmt.Errorf("service name %q: use lowercase letters, digits and dashes", s.Name)
		}
		if seen[s.Name] {
			return fmt.Errorf("service %q listed twice", s.Name)
		}
		seen[s.Name] = true
		if len(s.Plans) == 0 {
			return fmt.Errorf("service %q has no plans", s.Name)
		}
		plans := map[string]bool{}
		for _, p := range s.Plans {
			switch {
			case !validSlug(p.Name):
				return fmt.Errorf("plan name %q: use lowercase letters, digits and dashes", p.Name)
			case plans[p.Name]:
				return fmt.Errorf("plan %s:%s listed twice", s.Name, p.Name)
			case p.MaxMemoryBytes < mb:
				return fmt.Errorf("plan %s:%s: maxmemory_bytes must be at least 1 MB", s.Name, p.Name)
			case p.MaxClients < 1:
				return fmt.Errorf("plan %s:%s: max_clients must be at least 1", s.Name, p.Name)
			}
			plans[p.Name] = true
		}
	}
	return nil
}

func validSlug(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// Service returns the named service.
func (c *Catalog) Service(name string) (*Service, error) {
	for i := range c.Services {
		if c.Services[i].Name == name {
			return &c.Services[i], nil
		}
	}
	return nil, fault.E(fault.NotFound, "unknown add-on service %q; available: %s", name, strings.Join(c.serviceNames(), ", "))
}

func (c *Catalog) serviceNames() []string {
	var names []string
	for _, s := range c.Services {
		names = append(names, s.Name)
	}
	sort.Strings(names)
	return names
}

// Plan returns the named plan of s.
func (s *Service) Plan(name string) (*Plan, error) {
	for i := range s.Plans {
		if s.Plans[i].Name == name {
			return &s.Plans[i], nil
		}
	}
	return nil, fault.E(fault.Invalid, "unknown plan %q for %s; available plans: %s", name, s.Name, strings.Join(s.PlanNames(), ", "))
}

// PlanNames lists the plan names in catalog order.
func (s *Service) PlanNames() []string {
	var names []string
	for _, p := range s.Plans {
		names = append(names, p.Name)
	}
	return names
}

// DefaultPlan returns the plan marked default, or the first.
func (s *Service) DefaultPlan() *Plan {
	for i := range s.Plans {
		if s.Plans[i].Default {
			return &s.Plans[i]
		}
	}
	return &s.Plans[0]
}

// Resolve parses "service:plan" (or "service" for its default plan) and returns both.
func (c *Catalog) Resolve(ref string) (*Service, *Plan, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, nil, fault.E(fault.Invalid, "no plan given; use SERVICE:PLAN, e.g. %s:%s", DefaultService, "mini")
	}
	svcName, planName, hasPlan := strings.Cut(ref, ":")
	svc, err := c.Service(svcName)
	if err != nil {
		return nil, nil, err
	}
	if !hasPlan {
		return svc, svc.DefaultPlan(), nil
	}
	p, err := svc.Plan(planName)
	if err != nil {
		return nil, nil, err
	}
	return svc, p, nil
}

// MaxMemoryPolicies are the eviction policies the engine accepts, with what each does.
var MaxMemoryPolicies = []struct{ Name, Description string }{
	{"noeviction", "return errors when memory limit is reached"},
	{"allkeys-lfu", "evict any key, least frequently used first"},
	{"allkeys-lru", "evict any key, least recently used first"},
	{"allkeys-random", "evict random keys"},
	{"volatile-lfu", "evict keys with an expire set, least frequently used first"},
	{"volatile-lru", "evict keys with an expire set, least recently used first"},
	{"volatile-random", "evict random keys with an expire set"},
	{"volatile-ttl", "evict keys with an expire set, shortest time to live first"},
}

// DefaultMaxMemoryPolicy is what a new add-on gets when none is asked for.
const DefaultMaxMemoryPolicy = "noeviction"

// ValidateMaxMemoryPolicy returns nil for a known policy and an Invalid fault
// listing the valid ones otherwise.
func ValidateMaxMemoryPolicy(p string) error {
	var names []string
	for _, m := range MaxMemoryPolicies {
		if m.Name == p {
			return nil
		}
		names = append(names, m.Name)
	}
	return fault.E(fault.Invalid, "invalid maxmemory policy %q; valid policies: %s", p, strings.Join(names, ", "))
}
