package store

import (
	"context"
	"time"
)

// ObserverReport is one probe round of an HA observer as a broker received
// it. Every broker on the store records the reports it receives and folds
// in every one recorded, its own and the others', in ID order: whichever
// broker coordinates counts every vote, and one that takes the lease over
// already knows how long each location has seen a node down.
type ObserverReport struct {
	ID         int64     // grows in commit order: a reader after an ID never misses a lower one
	BrokerID   string    // the broker that received it
	ReceivedAt time.Time // by that broker's clock, to the microsecond
	Location   string
	Observer   string
	Body       []byte // the report as JSON (api.MonitorReport)
}

// ReportRepo holds the observers' reports. They are not in the change feed
// (no add-on changed), and recording one needs no coordinator lease (any
// broker records a vote).
type ReportRepo interface {
	// AppendReport records r on its own and fills in its ID. A report
	// needs its broker, location and observer, and a JSON body (Invalid
	// otherwise, with nothing written).
	AppendReport(ctx context.Context, r *ObserverReport) error
	// ReportsAfter returns up to limit reports with an ID above after, in
	// ID order. Pruned reports are gone without a trace: a reader behind
	// them just does not see them.
	ReportsAfter(ctx context.Context, after int64, limit int) ([]ObserverReport, error)
	// PruneReports drops the reports received before before (by their
	// ReceivedAt) and returns how many; it is the coordinator's, fenced by
	// the lease a context carries.
	PruneReports(ctx context.Context, before time.Time) (int64, error)
	// OnReport registers fn, called after every report this store appends
	// and — on a store whose RemoteCommits is true — after those other
	// brokers append: the readers' wake-up. fn must be quick and must not
	// write.
	OnReport(fn func())
}
