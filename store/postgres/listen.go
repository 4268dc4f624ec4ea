package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

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
var listenBackoff = backoff.Policy{Min: 50 * time.Millisecond, Max: 5 * time.Second}

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
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
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
			n, err := c.WaitForNotification(ctx)
			if err != nil {
				c.Close(context.Background())
				c = nil
				break
			}
			b.Reset()
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

// close stops listening and waits for the loop to end.
func (l *listener) close() {
	l.cancel()
	l.done.Wait()
}
