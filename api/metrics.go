package api

// Metrics is GET /apps/{app}/addons/{addon}/metrics: an add-on's sampled
// figures over a time range, one set of series per node, in a shape a chart
// reads directly (times, and for each metric the values at those times).
type Metrics struct {
	Addon Ref    `json:"addon"`
	App   Ref    `json:"app"`
	Plan  string `json:"plan"` // "service:plan"
	Since string `json:"since"`
	// Step is the seconds each point covers: points are means over a step.
	Step             int64         `json:"step_seconds"`
	MemoryLimitBytes int64         `json:"memory_limit_bytes"` // the plan's
	ClientsLimit     int           `json:"clients_limit"`      // the plan's
	Nodes            []NodeMetrics `json:"nodes"`
}

// NodeMetrics is one node's series; a node replaced in the range (a new
// standby) has series of its own.
type NodeMetrics struct {
	Node  string  `json:"node"`
	Role  string  `json:"role"` // at its latest point
	Host  string  `json:"host,omitempty"`
	Times []int64 `json:"times"` // unix seconds, the start of each step, ascending
	// Series are the metrics in MetricNames' order.
	Series []MetricSeries `json:"series"`
}

// MetricSeries is one metric of one node at NodeMetrics.Times.
type MetricSeries struct {
	Name string `json:"name"`
	Unit string `json:"unit"`
	// Limit is the plan's limit of this metric, if it has one.
	Limit *float64 `json:"limit,omitempty"`
	// Values has one value per time; null where it is not known (the hit
	// ratio of a step without lookups).
	Values []*float64 `json:"values"`
}

// The metrics an add-on's nodes have, in order, and their units.
const (
	MetricMemory     = "memory_used_bytes"
	MetricCPU        = "cpu_cores"   // CPU seconds per second
	MetricClients    = "clients"     // the app's connections
	MetricOps        = "ops_per_sec" // commands per second
	MetricHitRatio   = "hit_ratio"   // keyspace hits / lookups, 0 to 1
	MetricEvictions  = "evictions_per_sec"
	MetricExpired    = "expired_per_sec" // keys expired per second
	MetricReplLag    = "repl_lag_bytes"  // on a primary: how far its standby is behind
	MetricReplOffset = "repl_offset"
	MetricPersistOK  = "persistence_ok" // share of samples whose last save and AOF write worked
)

// MetricNames lists the metrics in the order Series holds them.
var MetricNames = []string{MetricMemory, MetricCPU, MetricClients, MetricOps, MetricHitRatio,
	MetricEvictions, MetricExpired, MetricReplLag, MetricReplOffset, MetricPersistOK}

// MetricRanges are the ranges ?since= accepts.
var MetricRanges = []string{"1h", "6h", "1d", "1w", "30d"}

// Metric returns the named series of n, or nil.
func (n NodeMetrics) Metric(name string) *MetricSeries {
	for i := range n.Series {
		if n.Series[i].Name == name {
			return &n.Series[i]
		}
	}
	return nil
}
