package daemon

import (
	"context"
	"fmt"
	"larder/api"
	command "larder/cli"
	"larder/ha/observe"
	"larder/internal/roles"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"
)

const monitorUsage = "larder monitor --location L [--broker URL[,URL…] --token TOKEN] [--interval 1s]"

func monitorCommand() *cli.Command {
	return &cli.Command{
		Name:      roles.Monitor.Name,
		Category:  roles.Category,
		Usage:     roles.Monitor.Usage,
		UsageText: monitorUsage,
		Description: "Run one in each of several network locations. The broker fails a primary over\n" +
			"only when a quorum of distinct locations has seen it unreachable for the whole\n" +
			"confirmation window, so one cut-off location never causes a failover. An\n" +
			"observer whose own loop stalls (a timer jump of 2 s or more) withholds its\n" +
			"votes for --stall-hold.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "location", Usage: "the network location this observer stands for", EnvVars: []string{"LARDER_MONITOR_LOCATION"}, Required: true},
			&cli.StringFlag{Name: "broker", Usage: "the broker's URL, or several brokers sharing one store as a comma-separated list: reports go to one that answers (default: as the CLI finds it)", EnvVars: []string{"LARDER_API_URL"}},
			&cli.StringFlag{Name: "token", Usage: "the broker's API token", EnvVars: []string{"LARDER_API_TOKEN"}},
			&cli.DurationFlag{Name: "interval", Usage: "probe round", Value: time.Second},
			&cli.DurationFlag{Name: "timeout", Usage: "one probe of one node, all of it; probes run on their own, so a longer one delays no other (default: half the interval)"},
			&cli.DurationFlag{Name: "stall-hold", Usage: "how long votes are withheld after a stall", Value: 30 * time.Second},
			&cli.StringFlag{Name: "log-level", Value: "info", EnvVars: []string{"LARDER_LOG_LEVEL"}},
		},
		Action: func(c *cli.Context) error {
			loc := c.String("location")
			if loc == "" || strings.ContainsAny(loc, " /") {
				return command.Usagef(monitorUsage, "invalid --location %q", loc)
			}
			cl, err := monitorClient(c.String("broker"), c.String("token"))
			if err != nil {
				return err
			}
			level, err := logrus.ParseLevel(c.String("log-level"))
			if err != nil {
				return command.Usagef(monitorUsage, "invalid --log-level %q", c.String("log-level"))
			}
			log := logrus.New()
			log.SetOutput(c.App.ErrWriter)
			log.SetLevel(level)
			host, _ := os.Hostname()
			ob := observe.New(observe.Options{Location: loc, Name: host + "-" + strconv.Itoa(os.Getpid()), Client: cl, Log: log,
				Interval: c.Duration("interval"), Timeout: c.Duration("timeout"), StallHold: c.Duration("stall-hold")})
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			ob.Start()
			fmt.Fprintf(c.App.ErrWriter, "larder monitor observing from %s, reporting to %s\n", loc, cl.Endpoints)
			<-ctx.Done()
			ob.Close()
			return nil
		},
	}
}

func monitorClient(url, token string) (*api.Client, error) {
	if url != "" && token != "" {
		return api.NewClientList(url, token)
	}
	return api.ResolveClient()
}
