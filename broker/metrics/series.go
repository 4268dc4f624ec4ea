package metrics

import (
	"context"
	"sort"
	"strings"
	"time"

	"larder/api"
	"larder/broker/apps"
	"larder/fault"
	"larder/store"
)

// ranges are the ?since= values and how far back each reaches.
var ranges = map[string]time.Duration{
	"1h": time.Hour, "6h": 6 * time.Hour, "1d": 24 * time.Hour, "1w": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour,
}

// ParseSince reads a ?since= range ("" is 1h); anything else is Invalid.
func ParseSince(since string) (time.Duration, error) {
	if since == "" {
		return time.Hour, nil
	}
	d, ok := ranges[since]
	if !ok {
		return 0, fault.E(fault.Invalid, "invalid since %q: use one of %s", since, strings.Join(api.MetricRanges, ", "))
	}
	return d, nil
}

// tierFor is the finest tier that still holds the whole range.
func (s *Sampler) tierFor(d time.Duration) Tier {
	for _, t := range s.tiers {
		if t.Keep >= d {
			return t
		}
	}
	return s.tiers[len(s.tiers)-1]
}

// Series returns add-on a's metrics over since, from the finest tier that
// keeps the whole range: one set of series per node, means over each step.
func (s *Sampler) Series(ctx context.Context, a store.Addon, since string) (api.Metrics, error) {
	d, err := ParseSince(since)
	if err != nil {
		return api.Metrics{}, err
	}
	if since == "" {
		since = "1h"
	}
	out := api.Metrics{Addon: api.Ref{ID: a.ID, Name: a.Name}, App: api.Ref{ID: a.AppID, Name: a.AppName},
		Plan: a.Service + ":" + a.Plan, Since: since, Nodes: []api.NodeMetrics{}}
	if p, err := s.nodes.PlanOf(a); err == nil {
		out.MemoryLimitBytes, out.ClientsLimit = p.MaxMemoryBytes, p.MaxClients
	}
	tier := s.tierFor(d)
	out.Step = int64(tier.Step / time.Second)
	from := s.cfg.Clock.Now().Add(-d).Unix()
	points, err := s.store.MetricPoints(ctx, a.ID, out.Step, from-from%out.Step)
	if err != nil {
		return api.Metrics{}, err
	}
	nodes, err := s.store.NodesOfAddon(ctx, a.ID)
	if err != nil {
		return api.Metrics{}, err
	}
	names := map[string]store.Node{}
	for _, n := range nodes {
		names[n.ID] = n
	}
	for i := 0; i < len(points); {
		j := i
		for j < len(points) && points[j].NodeID == points[i].NodeID {
			j++
		}
		out.Nodes = append(out.Nodes, nodeSeries(points[i:j], names[points[i].NodeID], out))
		i = j
	}
	// Current nodes first (primary, standby), then nodes gone since.
	order := func(n api.NodeMetrics) int {
		for i, m := range nodes {
			if m.Name == n.Node {
				return i
			}
		}
		return len(nodes)
	}
	sort.SliceStable(out.Nodes, func(i, j int) bool { return order(out.Nodes[i]) < order(out.Nodes[j]) })
	return out, nil
}

// nodeSeries turns one node's points (ascending) into its series; n is the
// node as the store has it (zero when it is gone).
func nodeSeries(points []store.MetricPoint, n store.Node, m api.Metrics) api.NodeMetrics {
	last := points[len(points)-1]
	out := api.NodeMetrics{Node: n.Name, Role: last.Role, Host: n.Host, Times: make([]int64, len(points))}
	if out.Node == "" {
		out.Node = last.NodeID // a node replaced since: its id is all that is left
	}
	values := make(map[string][]*float64, len(api.MetricNames))
	for i, p := range points {
		out.Times[i] = p.At
		c := float64(p.Count)
		hit := (*float64)(nil)
		if p.Hits+p.Misses > 0 {
			hit = ptr(p.Hits / (p.Hits + p.Misses))
		}
		for name, v := range map[string]*float64{
			api.MetricMemory: ptr(p.MemoryUsed / c), api.MetricCPU: ptr(p.CPU / c), api.MetricClients: ptr(p.Clients / c),
			api.MetricOps: ptr(p.Ops / c), api.MetricHitRatio: hit, api.MetricEvictions: ptr(p.Evicted / c),
			api.MetricExpired: ptr(p.Expired / c), api.MetricReplLag: ptr(p.ReplLag / c), api.MetricReplOffset: ptr(p.ReplOffset),
			api.MetricPersistOK: ptr(1 - p.PersistFails/c),
		} {
			values[name] = append(values[name], v)
		}
	}
	units := map[string]string{api.MetricMemory: "bytes", api.MetricCPU: "cores", api.MetricClients: "clients", api.MetricOps: "ops/s",
		api.MetricHitRatio: "ratio", api.MetricEvictions: "keys/s", api.MetricExpired: "keys/s", api.MetricReplLag: "bytes",
		api.MetricReplOffset: "bytes", api.MetricPersistOK: "ratio"}
	for _, name := range api.MetricNames {
		ser := api.MetricSeries{Name: name, Unit: units[name], Values: values[name]}
		switch name {
		case api.MetricMemory:
			ser.Limit = ptr(float64(m.MemoryLimitBytes))
		case api.MetricClients:
			ser.Limit = ptr(float64(m.ClientsLimit))
		}
		out.Series = append(out.Series, ser)
	}
	return out
}

func ptr(v float64) *float64 { return &v }

// AddonSeries answers GET /apps/{app}/addons/{addon}/metrics: the series of
// the add-on ref names on app over since (checked first: a bad range is
// Invalid whatever the add-on).
func (s *Sampler) AddonSeries(ctx context.Context, app, ref, since string) (api.Metrics, error) {
	if _, err := ParseSince(since); err != nil {
		return api.Metrics{}, err
	}
	a, err := apps.Resolve(ctx, s.store, app, ref)
	if err != nil {
		return api.Metrics{}, err
	}
	return s.Series(ctx, a, since)
}
