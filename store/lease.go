package store

import (
	"context"
	"errors"
	"time"
)

// Lease is the coordinator lease: which broker coordinates (runs the HA
// reconciler, takes over other brokers' operations, runs schedules, the
// spares pool, the metrics sampler and pruning), since when and until when
// unless it renews. Token grows by one at every new tenure (each
// acquisition), never at a renewal: a write carrying an older token comes
// from a coordinator that lost the lease, and the store refuses it
// (Tx.RequireLease).
type Lease struct {
	Holder     string    // the coordinating broker's id; "" when none holds it
	Token      int64     // the fencing token of the holder's tenure
	AcquiredAt time.Time // when this tenure began
	Expires    time.Time // when it ends unless renewed
}

// Live reports whether l is held at now.
func (l Lease) Live(now time.Time) bool { return l.Holder != "" && now.Before(l.Expires) }

// BrokerInfo is a broker on the store: registered when it starts, its
// LastSeen raised while it runs.
type BrokerInfo struct {
	ID        string    `db:"id"`
	URL       string    `db:"url"` // where its API answers
	Version   string    `db:"version"`
	StartedAt time.Time `db:"-"`
	LastSeen  time.Time `db:"-"`
}

// LeaseRepo holds the coordinator lease and the brokers sharing the store.
// Its writes run on their own (they are not in the change feed), each a
// compare-and-set; times are the caller's clock (now), kept to the
// millisecond.
type LeaseRepo interface {
	// AcquireLease makes holder the coordinator until now+ttl, with the
	// next token, when no other broker holds the lease live at now (never
	// held, released, expired before now — or held by holder itself, from
	// before a restart), and returns the lease as it is after the call:
	// held by holder when it won, by another when it did not.
	AcquireLease(ctx context.Context, holder string, now time.Time, ttl time.Duration) (Lease, error)
	// RenewLease extends holder's tenure token to now+ttl and reports
	// whether it did: false when another tenure began or the lease expired
	// before now (the holder must stop coordinating; it may acquire again).
	RenewLease(ctx context.Context, holder string, token int64, now time.Time, ttl time.Duration) (bool, error)
	// ReleaseLease ends holder's tenure token, so another broker can
	// acquire at once; a tenure already ended is left alone.
	ReleaseLease(ctx context.Context, holder string, token int64, now time.Time) error
	// CoordinatorLease returns the lease as recorded (Holder "" when it was
	// never held or was released).
	CoordinatorLease(ctx context.Context) (Lease, error)

	// RegisterBroker records b (again, after a restart) with StartedAt and
	// LastSeen at now.
	RegisterBroker(ctx context.Context, b BrokerInfo, now time.Time) error
	// BrokerSeen raises a registered broker's LastSeen to now.
	BrokerSeen(ctx context.Context, id string, now time.Time) error
	// Brokers lists the registered brokers, by start time.
	Brokers(ctx context.Context) ([]BrokerInfo, error)
	// ForgetBrokers removes the brokers last seen before cutoff.
	ForgetBrokers(ctx context.Context, cutoff time.Time) (int64, error)
}

// ErrLeaseLost is in the chain of the Conflict a fenced write meets when
// its token is no longer the lease's (errors.Is): its coordinator must stop,
// and record nothing of what it was doing.
var ErrLeaseLost = errors.New("coordinator lease lost")

// ErrUnreachable is in the chain of the Unavailable fault a store answers
// while its database cannot be reached (restarting, cut off): work that
// meets it was cut short, neither done nor failed, and is resumed once the
// store answers again (see jobs.Interrupted).
var ErrUnreachable = errors.New("the store cannot be reached")

// leaseKey carries a coordinator's fencing token in a context.
type leaseKey struct{}

// WithLease returns ctx carrying the fencing token of a coordinator's
// tenure: every transaction the store runs under it (InTx) first checks the
// token is still current and fails, with nothing written, when it is not.
// It is the authority of a call chain, like its deadline: the coordinating
// loops run under such a context, so whatever they write — and whichever
// package writes it — is fenced without each call site asking.
func WithLease(ctx context.Context, token int64) context.Context {
	return context.WithValue(ctx, leaseKey{}, token)
}

// LeaseOf returns the fencing token ctx carries, if any.
func LeaseOf(ctx context.Context) (int64, bool) {
	t, ok := ctx.Value(leaseKey{}).(int64)
	return t, ok
}
