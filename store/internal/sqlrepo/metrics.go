package sqlrepo

import (
	"context"
	"fmt"
	"strings"

	"larder/store"
)

// metricSums and metricPeaks are the columns AddMetricPoints adds up and
// raises; the statement is SQL both engines speak (ON CONFLICT … DO UPDATE,
// CASE), with named parameters sqlx binds in the driver's style.
var (
	metricSums  = []string{"memory_used", "cpu", "clients", "ops", "hits", "misses", "evicted", "expired", "repl_lag", "persist_fails"}
	metricPeaks = []string{"memory_peak", "memory_limit", "clients_peak", "clients_limit", "repl_offset"}
	metricCols  = append(append([]string{"node_id", "step", "at", "addon_id", "role", "count"}, metricSums...), metricPeaks...)
	upsertPoint = func() string {
		set := []string{"role = excluded.role", "count = metric_points.count + excluded.count"}
		for _, c := range metricSums {
			set = append(set, fmt.Sprintf("%s = metric_points.%s + excluded.%s", c, c, c))
		}
		for _, c := range metricPeaks {
			set = append(set, fmt.Sprintf("%s = CASE WHEN excluded.%s > metric_points.%s THEN excluded.%s ELSE metric_points.%s END", c, c, c, c, c))
		}
		return fmt.Sprintf("INSERT INTO metric_points (%s) VALUES (:%s) ON CONFLICT (node_id, step, at) DO UPDATE SET %s",
			strings.Join(metricCols, ", "), strings.Join(metricCols, ", :"), strings.Join(set, ", "))
	}()
)

// AddMetricPoints folds points in, in one transaction of its own. It goes
// around the commit hooks: metrics are not in the change feed, and a
// sampling round must not wake its waiters.
func (b *Base) AddMetricPoints(ctx context.Context, points []store.MetricPoint) error {
	if len(points) == 0 {
		return nil
	}
	return b.d.reach(b.d.retry(ctx, func() error { return b.addMetricPoints(ctx, points) }))
}

func (b *Base) addMetricPoints(ctx context.Context, points []store.MetricPoint) error {
	tx, err := b.DB.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if token, ok := store.LeaseOf(ctx); ok {
		if err := requireLease(ctx, tx, b.d, token); err != nil {
			return err
		}
	}
	stmt, err := tx.PrepareNamedContext(ctx, upsertPoint)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, p := range points {
		if _, err := stmt.ExecContext(ctx, p); err != nil {
			return fmt.Errorf("add metric point: %w", err)
		}
	}
	return tx.Commit()
}

// MetricPoints lists an add-on's points of one step from since on.
func (b *Base) MetricPoints(ctx context.Context, addonID string, step, since int64) ([]store.MetricPoint, error) {
	var out []store.MetricPoint
	err := b.Repo.(repo).sel(ctx, &out, `SELECT `+strings.Join(metricCols, ", ")+` FROM metric_points
		WHERE addon_id = ? AND step = ? AND at >= ? ORDER BY node_id, at`, addonID, step, since)
	return out, err
}

// PruneMetricPoints deletes one step's points older than before.
func (b *Base) PruneMetricPoints(ctx context.Context, step, before int64) (int64, error) {
	res, err := b.DB.ExecContext(ctx, b.d.rebind(`DELETE FROM metric_points WHERE step = ? AND at < ?`), step, before)
	if err != nil {
		return 0, b.d.reach(err)
	}
	return res.RowsAffected()
}
