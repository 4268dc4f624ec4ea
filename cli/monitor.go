package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/ha"
)

func init() { extraCommands = append(extraCommands, monitorCommand()) }

const monitorUsage = "larder monitor --location L [--broker URL --token TOKEN] [--interval 1s]"

func monitorCommand() *cli.Command {
	return &cli.Command{
		Name:      "monitor",
		Category:  "server",
		Usage:     "run an HA observer: probe every node from this network location and report to the broker",
		UsageText: monitorUsage,
		Description: "Run one in each of several network locations. The broker fails a primary over\n" +
			"only when a quorum of distinct locations has seen it unreachable for the whole\n" +
			"confirmation window, so one cut-off location never causes a failover. An\n" +
			"observer whose own loop stalls (a timer jump of 2 s or more) withholds its\n" +
			"votes for --stall-hold.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "location", Usage: "the network location this observer stands for", EnvVars: []string{"LARDER_MONITOR_LOCATION"}, Required: true},
			&cli.StringFlag{Name: "broker", Usage: "the broker's URL (default: as the CLI finds it)", EnvVars: []string{"LARDER_API_URL"}},
			&cli.StringFlag{Name: "token", Usage: "the broker's API token", EnvVars: []string{"LARDER_API_TOKEN"}},
			&cli.DurationFlag{Name: "interval", Usage: "probe round", Value: time.Second},
			&cli.DurationFlag{Name: "timeout", Usage: "one probe of one node, all of it; probes run on their own, so a longer one delays no other (default: half the interval)"},
			&cli.DurationFlag{Name: "stall-hold", Usage: "how long votes are withheld after a stall", Value: 30 * time.Second},
			&cli.StringFlag{Name: "log-level", Value: "info", EnvVars: []string{"LARDER_LOG_LEVEL"}},
		},
		Action: func(c *cli.Context) error {
			loc := c.String("location")
			if loc == "" || strings.ContainsAny(loc, " /") {
				return usagef(monitorUsage, "invalid --location %q", loc)
			}
			cl, err := monitorClient(c.String("broker"), c.String("token"))
			if err != nil {
				return err
			}
			level, err := logrus.ParseLevel(c.String("log-level"))
			if err != nil {
				return usagef(monitorUsage, "invalid --log-level %q", c.String("log-level"))
			}
			log := logrus.New()
			log.SetOutput(c.App.ErrWriter)
			log.SetLevel(level)
			host, _ := os.Hostname()
			ob := ha.NewObserver(ha.ObserverOptions{Location: loc, Name: host + "-" + strconv.Itoa(os.Getpid()), Client: cl, Log: log,
				Interval: c.Duration("interval"), Timeout: c.Duration("timeout"), StallHold: c.Duration("stall-hold")})
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			ob.Start()
			fmt.Fprintf(c.App.ErrWriter, "larder monitor observing from %s, reporting to %s\n", loc, cl.BaseURL)
			<-ctx.Done()
			ob.Close()
			return nil
		},
	}
}

func monitorClient(url, token string) (*api.Client, error) {
	if url != "" && token != "" {
		return api.NewClient(url, token), nil
	}
	return api.ResolveClient()
}

func monitorsCommand(s *session) *cli.Command {
	return &cli.Command{
		Name:      "monitors",
		Category:  "hosts",
		Usage:     "list HA observer locations, their last report and what each sees",
		UsageText: "larder monitors [--json]",
		Flags:     []cli.Flag{jsonFlag()},
		Action: func(c *cli.Context) error {
			cl, err := s.client()
			if err != nil {
				return err
			}
			locs, err := cl.Monitors(c.Context)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(s.stdout, nonNil(locs))
			}
			if len(locs) == 0 {
				_, err := fmt.Fprintln(s.stdout, "No observer has reported yet. Run `larder monitor --location L` in each network location.")
				return err
			}
			t := newTable("Location", "Observers", "Last report", "Nodes up", "Nodes down", "Votes")
			d := ha.Decision{Voting: []string{}, Known: len(locs), Quorum: locs[0].Quorum}
			for _, l := range locs {
				votes := "counted"
				switch {
				case l.Stalled:
					votes = "withheld (stalled)"
				case !l.Voting:
					votes = fmt.Sprintf("stale (last report %s ago)", (time.Duration(l.AgeMS) * time.Millisecond).Round(100*time.Millisecond))
				default:
					d.Voting = append(d.Voting, l.Location)
				}
				t.add(l.Location, strings.Join(l.Observers, ", "), l.LastReport.UTC().Format("15:04:05.000"),
					strconv.Itoa(l.Up), strconv.Itoa(len(l.Down)), votes)
			}
			if err := t.write(s.stdout); err != nil {
				return err
			}
			if w := d.Warning(); w != "" {
				fmt.Fprintf(s.stderr, "\nWARNING: %s. No failover can happen until more locations report.\n", w)
			}
			return nil
		},
	}
}
