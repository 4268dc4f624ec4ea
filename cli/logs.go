package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
	"larder/fault"
)

// logsRetryEvery is how often `logs --tail` asks again while the broker does
// not answer (it waits on the broker otherwise).
const logsRetryEvery = time.Second

func logsCommand(s *cmdkit.Session) *cli.Command {
	const usage = "larder logs -a APP [-n LINES] [-s redis|larder] [-t] [--json]"
	return &cli.Command{
		Name:      "logs",
		Category:  "apps",
		Usage:     "show the app's add-ons' logs: their nodes' lines and larder's events",
		UsageText: usage,
		Description: "The last lines of every node of the app's add-ons (primary and standby) and\n" +
			"larder's events about them, in time order, in Heroku's format:\n\n" +
			"   2026-12-05T19:00:00+00:00 redis[REDIS]: * Ready to accept connections\n" +
			"   2026-12-05T19:00:01+00:00 redis[REDIS.standby]: * MASTER <-> REPLICA sync: Finished with success\n" +
			"   2026-12-05T19:00:02+00:00 larder[REDIS]: addon.provisioned: larder-redis:premium-0 available\n\n" +
			"In brackets: the add-on's attachment name on the app, and `.standby` for a\n" +
			"standby's lines. -s redis shows only the nodes' lines, -s larder only the\n" +
			"events. -t keeps following: new lines show as they are written.\n" +
			"Passwords never appear in them.",
		Flags: []cli.Flag{
			cmdkit.AppFlag(),
			&cli.IntFlag{Name: "num", Aliases: []string{"n"}, Value: api.DefaultLogLines,
				Usage: fmt.Sprintf("how many lines to show first (1 to %d)", api.MaxLogLines)},
			&cli.StringFlag{Name: "source", Aliases: []string{"s"}, Usage: "only lines of this source: redis (the nodes) or larder (events)"},
			&cli.BoolFlag{Name: "tail", Aliases: []string{"t"}, Usage: "keep following: print new lines as they come"},
			&cli.BoolFlag{Name: "json", Aliases: []string{"j"}, Usage: "print one JSON object per line"},
		},
		Action: func(c *cli.Context) error {
			app, err := cmdkit.RequireApp(c)
			if err != nil {
				return err
			}
			if a := cmdkit.Args(c); len(a) > 0 {
				return cmdkit.Usagef(usage, "unexpected argument %q", a[0])
			}
			q := api.LogQuery{Lines: c.Int("num"), Source: c.String("source")}
			if q.Lines < 1 || q.Lines > api.MaxLogLines {
				return cmdkit.Usagef(usage, "-n %d: ask for 1 to %d lines", q.Lines, api.MaxLogLines)
			}
			if q.Source != "" && q.Source != api.LogSourceRedis && q.Source != api.LogSourceLarder {
				return cmdkit.Usagef(usage, "-s %q: use redis (the nodes' lines) or larder (events)", q.Source)
			}
			cl, err := s.Client()
			if err != nil {
				return err
			}
			show := logPrinter(s.Stdout, c.Bool("json"))
			batch, err := cl.Logs(c.Context, app, q)
			if err != nil {
				return err
			}
			if err := show(batch.Lines); err != nil || !c.Bool("tail") {
				return err
			}
			return followLogs(c.Context, cl, app, q, batch.Cursor, show, s.Stderr)
		},
	}
}

// followLogs prints the app's new log lines as the broker answers them (each
// request waits there for the next line) until ctx ends. While the broker
// does not answer it says so once and asks again every logsRetryEvery.
func followLogs(ctx context.Context, cl *api.Client, app string, q api.LogQuery, cursor string, show func([]api.LogLine) error, notes io.Writer) error {
	q.Cursor, q.Wait = cursor, api.MaxWait
	failing := false
	for ctx.Err() == nil {
		batch, err := cl.Logs(ctx, app, q)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && fault.KindOf(err) != fault.Unavailable && fault.KindOf(err) != fault.TooMany:
			return err
		case err != nil:
			if !failing {
				fmt.Fprintf(notes, "cannot follow the logs (%s); trying again every %s\n", cmdkit.ErrorText(err), logsRetryEvery)
				failing = true
			}
			select {
			case <-ctx.Done():
			case <-time.After(logsRetryEvery):
			}
			continue
		}
		if failing {
			fmt.Fprintln(notes, "following the logs again")
			failing = false
		}
		if err := show(batch.Lines); err != nil {
			return err
		}
		q.Cursor = batch.Cursor
	}
	return nil
}

// logPrinter writes lines in Heroku's format, or as JSON objects, one a line.
func logPrinter(w io.Writer, asJSON bool) func([]api.LogLine) error {
	return func(lines []api.LogLine) error {
		var b strings.Builder
		for _, l := range lines {
			if asJSON {
				data, err := json.Marshal(l)
				if err != nil {
					return fmt.Errorf("encode a log line: %w", err)
				}
				b.Write(data)
			} else {
				b.WriteString(l.String())
			}
			b.WriteByte('\n')
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
}
