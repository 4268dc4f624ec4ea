package sqlrepo

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"larder/fault"
	"larder/store"
)

// The coordinator lease and the brokers table keep their times as unix
// milliseconds: both engines compare integers alike, whatever their
// timestamp types.
func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// leaseRow is coordinator_lease's one row.
type leaseRow struct {
	Holder     string `db:"holder"`
	Token      int64  `db:"token"`
	AcquiredAt int64  `db:"acquired_at"`
	Expires    int64  `db:"expires_at"`
}

func (r leaseRow) lease() store.Lease {
	return store.Lease{Holder: r.Holder, Token: r.Token, AcquiredAt: fromMS(r.AcquiredAt), Expires: fromMS(r.Expires)}
}

// The lease's writes go straight to the database, around the commit hooks:
// they are not in the change feed, and a renewal every few seconds must
// not wake its waiters. Each is one statement, a compare-and-set.

// AcquireLease begins a new tenure when no other broker's is live.
func (b *Base) AcquireLease(ctx context.Context, holder string, now time.Time, ttl time.Duration) (store.Lease, error) {
	if holder == "" {
		return store.Lease{}, fault.E(fault.Invalid, "a lease holder needs an id")
	}
	_, err := b.write(ctx, `UPDATE coordinator_lease SET holder = ?, token = token + 1, acquired_at = ?, expires_at = ?
		WHERE id = 1 AND (holder = '' OR holder = ? OR expires_at <= ?)`, holder, ms(now), ms(now.Add(ttl)), holder, ms(now))
	if err != nil {
		return store.Lease{}, fmt.Errorf("acquire lease: %w", err)
	}
	return b.CoordinatorLease(ctx)
}

// RenewLease extends a live tenure.
func (b *Base) RenewLease(ctx context.Context, holder string, token int64, now time.Time, ttl time.Duration) (bool, error) {
	n, err := b.write(ctx, `UPDATE coordinator_lease SET expires_at = ? WHERE id = 1 AND holder = ? AND token = ? AND expires_at > ?`,
		ms(now.Add(ttl)), holder, token, ms(now))
	if err != nil {
		return false, fmt.Errorf("renew lease: %w", err)
	}
	return n == 1, nil
}

// ReleaseLease ends a tenure; the token stays, so the next one is higher.
func (b *Base) ReleaseLease(ctx context.Context, holder string, token int64, now time.Time) error {
	if _, err := b.write(ctx, `UPDATE coordinator_lease SET holder = '', expires_at = ? WHERE id = 1 AND holder = ? AND token = ?`,
		ms(now), holder, token); err != nil {
		return fmt.Errorf("release lease: %w", err)
	}
	return nil
}

// CoordinatorLease reads the lease.
func (b *Base) CoordinatorLease(ctx context.Context) (store.Lease, error) {
	var r leaseRow
	if err := b.DB.GetContext(ctx, &r, `SELECT holder, token, acquired_at, expires_at FROM coordinator_lease WHERE id = 1`); err != nil {
		return store.Lease{}, fmt.Errorf("read lease: %w", b.d.reach(err))
	}
	return r.lease(), nil
}

// brokerRow is a row of brokers.
type brokerRow struct {
	store.BrokerInfo
	StartedAt int64 `db:"started_at"`
	LastSeen  int64 `db:"last_seen"`
}

// RegisterBroker records a broker as started now.
func (b *Base) RegisterBroker(ctx context.Context, br store.BrokerInfo, now time.Time) error {
	if br.ID == "" {
		return fault.E(fault.Invalid, "a broker needs an id")
	}
	_, err := b.write(ctx, `INSERT INTO brokers (id, url, version, started_at, last_seen) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET url = excluded.url, version = excluded.version, started_at = excluded.started_at, last_seen = excluded.last_seen`,
		br.ID, br.URL, br.Version, ms(now), ms(now))
	if err != nil {
		return fmt.Errorf("register broker: %w", err)
	}
	return nil
}

// BrokerSeen raises a broker's heartbeat.
func (b *Base) BrokerSeen(ctx context.Context, id string, now time.Time) error {
	n, err := b.write(ctx, `UPDATE brokers SET last_seen = ? WHERE id = ? AND last_seen < ?`, ms(now), id, ms(now))
	if err != nil {
		return fmt.Errorf("broker heartbeat: %w", err)
	}
	if n == 0 {
		var c int
		if err := b.DB.GetContext(ctx, &c, b.d.rebind(`SELECT COUNT(*) FROM brokers WHERE id = ?`), id); err != nil {
			return b.d.reach(err)
		}
		if c == 0 {
			return fault.E(fault.NotFound, "no broker %s", id)
		}
	}
	return nil
}

// Brokers lists the brokers by start time.
func (b *Base) Brokers(ctx context.Context) ([]store.BrokerInfo, error) {
	var rows []brokerRow
	if err := b.DB.SelectContext(ctx, &rows, `SELECT id, url, version, started_at, last_seen FROM brokers ORDER BY started_at, id`); err != nil {
		return nil, fmt.Errorf("list brokers: %w", b.d.reach(err))
	}
	out := make([]store.BrokerInfo, len(rows))
	for i, r := range rows {
		out[i] = r.BrokerInfo
		out[i].StartedAt, out[i].LastSeen = fromMS(r.StartedAt), fromMS(r.LastSeen)
	}
	return out, nil
}

// ForgetBrokers drops brokers not seen since cutoff.
func (b *Base) ForgetBrokers(ctx context.Context, cutoff time.Time) (int64, error) {
	return b.write(ctx, `DELETE FROM brokers WHERE last_seen < ?`, ms(cutoff))
}

// write runs one statement on its own (as the dialect retries it) and
// returns how many rows it changed.
func (b *Base) write(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := b.d.retry(ctx, func() error {
		res, err := b.DB.ExecContext(ctx, b.d.rebind(query), args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, b.d.reach(err)
}

// errLeaseLost is the fault a fenced write meets.
func errLeaseLost(token int64) error {
	return fault.Wrap(fault.Conflict, store.ErrLeaseLost,
		fmt.Sprintf("the coordinator lease of tenure %d was lost (another broker coordinates now); nothing written", token))
}

// requireLease checks, on tx, that token is the lease's current one, and
// holds the lease row (the dialect's LockShared) until tx ends, so no new
// tenure can begin before it commits.
func requireLease(ctx context.Context, tx sqlx.QueryerContext, d *Dialect, token int64) error {
	var cur int64
	err := sqlx.GetContext(ctx, tx, &cur, `SELECT token FROM coordinator_lease WHERE id = 1`+d.LockShared)
	if err != nil {
		return fmt.Errorf("check lease: %w", err)
	}
	if cur != token {
		return errLeaseLost(token)
	}
	return nil
}

// RequireLease fails the transaction unless token is current.
func (t Tx) RequireLease(ctx context.Context, token int64) error {
	return requireLease(ctx, t.X, t.d, token)
}
