package store

import "context"

// MetricPoint is one node's figures over one step of time: the sums (and
// peaks) of the Count samples taken in [At, At+Step). A mean is a sum over
// Count, so points of the same step and node add up, and a coarser step is
// the addition of the finer samples that fall in it.
//
// Times are integer unix seconds, so every store keeps them alike.
type MetricPoint struct {
	AddonID string `db:"addon_id"`
	NodeID  string `db:"node_id"`
	Role    string `db:"role"` // the node's role at the latest sample
	Step    int64  `db:"step"` // seconds
	At      int64  `db:"at"`   // unix seconds, a multiple of Step
	Count   int64  `db:"count"`

	MemoryUsed   float64 `db:"memory_used"`   // sum of bytes
	MemoryPeak   float64 `db:"memory_peak"`   // max of bytes
	MemoryLimit  float64 `db:"memory_limit"`  // max of the plan's bytes
	CPU          float64 `db:"cpu"`           // sum of cores (CPU seconds per second)
	Clients      float64 `db:"clients"`       // sum of the app's connections
	ClientsPeak  float64 `db:"clients_peak"`  // max
	ClientsLimit float64 `db:"clients_limit"` // max of the plan's limit
	Ops          float64 `db:"ops"`           // sum of commands per second
	Hits         float64 `db:"hits"`          // sum of keyspace hits per second
	Misses       float64 `db:"misses"`        // sum of keyspace misses per second
	Evicted      float64 `db:"evicted"`       // sum of evictions per second
	Expired      float64 `db:"expired"`       // sum of expired keys per second
	ReplLag      float64 `db:"repl_lag"`      // sum of bytes its replica is behind (a primary)
	ReplOffset   float64 `db:"repl_offset"`   // max of the replication offset
	PersistFails float64 `db:"persist_fails"` // samples whose last save or AOF write failed
}

// MetricRepo keeps the sampled metrics of nodes. Metrics are not part of
// any transaction (and do not enter the change feed): a sampling round is
// one write of its own.
type MetricRepo interface {
	// AddMetricPoints folds points into the ones stored: a point whose
	// (node, step, at) is new is inserted; one already there gets Count and
	// every sum added, every peak (MemoryPeak, MemoryLimit, ClientsPeak,
	// ClientsLimit, ReplOffset) raised to the larger of the two, and Role
	// replaced. All of points are written, or none.
	AddMetricPoints(ctx context.Context, points []MetricPoint) error
	// MetricPoints lists an add-on's points of one step at or after since,
	// by node then time.
	MetricPoints(ctx context.Context, addonID string, step, since int64) ([]MetricPoint, error)
	// PruneMetricPoints deletes the points of one step before before and
	// returns how many.
	PruneMetricPoints(ctx context.Context, step, before int64) (int64, error)
}
