package sqlrepo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"larder/fault"
	"larder/store"
)

// reportRow is a row of monitor_reports.
type reportRow struct {
	ID         int64  `db:"id"`
	BrokerID   string `db:"broker_id"`
	ReceivedAt int64  `db:"received_at"` // unix microseconds
	Location   string `db:"location"`
	Observer   string `db:"observer"`
	Report     string `db:"report"`
}

// AppendReport records an observer's report. It goes around the commit
// hooks and the lease (a vote is no change of the feed, and any broker
// records one) and runs the report hooks once it committed. PostgreSQL's
// trigger numbers it in commit order (migrations/0014); SQLite has one
// writer at a time.
func (b *Base) AppendReport(ctx context.Context, r *store.ObserverReport) error {
	switch {
	case r.BrokerID == "" || r.Location == "" || r.Observer == "":
		return fault.E(fault.Invalid, "a report needs its broker, location and observer")
	case !json.Valid(r.Body):
		return fault.E(fault.Invalid, "a report's body must be JSON")
	}
	var id int64
	err := b.d.retry(ctx, func() error {
		return b.DB.GetContext(ctx, &id, b.d.rebind(`INSERT INTO monitor_reports (broker_id, received_at, location, observer, report)
			VALUES (?, ?, ?, ?, ?) RETURNING id`), r.BrokerID, r.ReceivedAt.UnixMicro(), r.Location, r.Observer, string(r.Body))
	})
	if err != nil {
		return fmt.Errorf("record report: %w", b.d.reach(err))
	}
	r.ID = id
	b.reports.run()
	return nil
}

// ReportsAfter reads the reports after an id.
func (b *Base) ReportsAfter(ctx context.Context, after int64, limit int) ([]store.ObserverReport, error) {
	var rows []reportRow
	if err := b.DB.SelectContext(ctx, &rows, b.d.rebind(`SELECT id, broker_id, received_at, location, observer, report
		FROM monitor_reports WHERE id > ? ORDER BY id LIMIT ?`), after, limit); err != nil {
		return nil, fmt.Errorf("read reports: %w", b.d.reach(err))
	}
	out := make([]store.ObserverReport, len(rows))
	for i, r := range rows {
		out[i] = store.ObserverReport{ID: r.ID, BrokerID: r.BrokerID, ReceivedAt: time.UnixMicro(r.ReceivedAt).UTC(),
			Location: r.Location, Observer: r.Observer, Body: []byte(r.Report)}
	}
	return out, nil
}

// PruneReports drops old reports, fenced by the lease ctx carries.
func (b *Base) PruneReports(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := b.d.retry(ctx, func() error {
		return notifying{b.DB, b.d, b.hooks}.fenced(ctx, func(x sqlx.ExtContext) error {
			res, err := x.ExecContext(ctx, b.d.rebind(`DELETE FROM monitor_reports WHERE received_at < ?`), before.UnixMicro())
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
	})
	if err != nil {
		return 0, fmt.Errorf("prune reports: %w", b.d.reach(err))
	}
	return n, nil
}

// OnReport registers fn, called after every report appended (and, from
// RunReportHooks, another broker's).
func (b *Base) OnReport(fn func()) { b.reports.add(fn) }

// RunReportHooks calls the report hooks: after a report this store did not
// append (another broker's, heard through the database).
func (b *Base) RunReportHooks() { b.reports.run() }
