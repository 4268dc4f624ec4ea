package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"larder/fault"
	"larder/internal/backoff"
)

// The channels the triggers notify: the change feed's (larder_change,
// migrations/0009) and the observers' reports' (migrations/0014).
const (
	changesChannel = "larder_changes"
	reportsChannel = "larder_reports"
)

// listener holds a connection of its own LISTENing on the channels, and
// runs a channel's hooks for each notification another store sent on it:
// another broker committed a change (or recorded a report), so this one's
// waiters read the feed (or the reports) again at once instead of polling.
type listener struct {
	cfg    *pgx.ConnConfig
	origin string            // this store's application_name: its own notifications
	hooks  map[string]func() // by channel
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// listenBackoff spaces reconnections after the connection is lost
// (PostgreSQL restarted, a network cut).
var listenBackoff = backoff.Policy{Min: 50 * time.Millisecond, Max: 2 * time.Second}

// A connection attempt that gets no answer (a server between stopping and
// starting, a cut) is given up after connectTimeout and made again; an
// idle connection is checked every idleCheck, within pingTimeout, so one
// that died without a word (a cut, a NAT that forgot it) is replaced rather
// than waited on forever.
const (
	connectTimeout = 5 * time.Second
	idleCheck      = 10 * time.Second
	pingTimeout    = 5 * time.Second
)

// listen connects and LISTENs before it returns, so no commit after Open
// goes unheard; then it follows the notifications until close.
func listen(ctx context.Context, cfg *pgx.ConnConfig, origin string, hooks map[string]func()) (*listener, error) {
	cfg.RuntimeParams["application_name"] = origin + "-listen"
	l := &listener{cfg: cfg, origin: origin, hooks: hooks}
	c, err := l.connect(ctx)
	if err != nil {
		return nil, fault.E(fault.Unavailable, "listen for other brokers' commits: %v", err)
	}
	run, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	l.done.Add(1)
	go l.loop(run, c)
	return l, nil
}

func (l *listener) connect(ctx context.Context) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return nil, err
	}
	for ch := range l.hooks {
		if _, err := c.Exec(ctx, "LISTEN "+ch); err != nil {
			c.Close(ctx)
			return nil, fmt.Errorf("listen: %w", err)
		}
	}
	return c, nil
}

// loop runs the hooks for every other store's notification. A lost
// connection is made again (with a backoff); every hook runs once it is
// back, since commits may have gone unheard in between.
func (l *listener) loop(ctx context.Context, c *pgx.Conn) {
	defer l.done.Done()
	b := backoff.Backoff{Policy: listenBackoff}
	for {
		for c != nil {
			n, err := l.next(ctx, c)
			if err != nil {
				c.Close(context.Background())
				c = nil
				break
			}
			b.Reset()
			if n == nil {
				continue // idle, and alive
			}
			if fn := l.hooks[n.Channel]; fn != nil && n.Payload != l.origin {
				fn()
			}
		}
		if backoff.Wait(ctx, b.Next()) != nil {
			return
		}
		if c, _ = l.connect(ctx); c != nil {
			for _, fn := range l.hooks {
				fn()
			}
		}
	}
}

// next waits for c's next notification; after idleCheck without one it
// pings the server and returns none (nil, nil) when it answers.
func (l *listener) next(ctx context.Context, c *pgx.Conn) (*pgconn.Notification, error) {
	wctx, cancel := context.WithTimeout(ctx, idleCheck)
	n, err := c.WaitForNotification(wctx)
	cancel()
	if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
		return n, err
	}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	return nil, c.Ping(pctx)
}

// close stops listening and waits for the loop to end.
func (l *listener) close() {
	l.cancel()
	l.done.Wait()
}
