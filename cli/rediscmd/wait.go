package rediscmd

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
	"larder/cli/ui"
)

const (
	defaultWaitInterval = time.Second
	maxWaitInterval     = time.Hour
)

// Wait is `larder redis:wait`.
func Wait(s *cmdkit.Session) *cli.Command {
	const usage = "larder redis:wait [NAME] -a APP [--wait-interval SECONDS]"
	return &cli.Command{
		Name:      "redis:wait",
		Category:  "redis",
		Usage:     "wait until an add-on is ready for connections",
		UsageText: usage,
		Description: "Returns at once, silently, when the add-on is ready; otherwise shows what it is\n" +
			"waiting for until it is. Useful in scripts after addons:create:\n\n" +
			"   larder addons:create larder-redis:mini -a web && larder redis:wait -a web\n\n" +
			"NAME defaults to the app's only add-on, or the one attached as REDIS.",
		Flags: []cli.Flag{
			cmdkit.AppFlag(),
			&cli.StringFlag{Name: "wait-interval", Value: "1", Usage: "seconds between checks (fractions allowed)"},
		},
		Action: func(c *cli.Context) error {
			every := parseWaitInterval(c.String("wait-interval"))
			t, err := s.ResolveRedis(c, usage)
			if err != nil {
				return err
			}
			name := t.Addon.Name
			check := func(ctx context.Context) (api.WaitStatus, error) { return t.Client.Wait(ctx, t.App, name) }
			var sp *ui.Spinner
			ctx, cancel := context.WithCancel(c.Context)
			defer cancel()
			follow := func() <-chan struct{} {
				return cmdkit.FollowChanges(ctx, func(ctx context.Context, cursor int64, wait time.Duration) (api.ChangeBatch, error) {
					return t.Client.Changes(ctx, t.App, cursor, wait)
				}, every, io.Discard)
			}
			err = waitReady(ctx, check, every, follow, func(st api.WaitStatus) {
				if sp == nil {
					sp = s.StartSpinner("Waiting for database " + name)
				}
				sp.SetStatus(st.Message)
			})
			switch {
			case sp == nil:
				return err // ready at the first look, or the look failed: nothing to finish
			case err != nil && c.Context.Err() != nil:
				sp.Finish("interrupted")
				return &cmdkit.InterruptedError{Msg: fmt.Sprintf("stopped waiting; %s is still getting ready.", name)}
			case err != nil:
				return sp.FinishErr(err)
			}
			sp.Finish("done")
			return nil
		},
	}
}

// waitReady calls check until it says the add-on is no longer waiting, every
// interval and whenever the app's changes (follow, started only once the
// first check says it waits, and only when not nil) say something changed:
// a node's sync is not a change the store records, so the interval stays. It
// calls waiting with each status that still waits, and ends early with
// check's error or when ctx ends.
func waitReady(ctx context.Context, check func(context.Context) (api.WaitStatus, error), every time.Duration, follow func() <-chan struct{}, waiting func(api.WaitStatus)) error {
	var changed <-chan struct{}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		st, err := check(ctx)
		if err != nil {
			return err
		}
		if !st.Waiting {
			return nil
		}
		waiting(st)
		if follow != nil && changed == nil {
			changed = follow()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		case <-changed:
		}
	}
}

// parseWaitInterval reads --wait-interval as seconds; like Heroku, anything
// unusable (not a number, zero or less) means the default.
func parseWaitInterval(text string) time.Duration {
	f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
	if err != nil || math.IsNaN(f) || f <= 0 {
		return defaultWaitInterval
	}
	f = min(f, maxWaitInterval.Seconds()) // a huge number would overflow a Duration
	return max(time.Duration(f*float64(time.Second)), time.Millisecond)
}
