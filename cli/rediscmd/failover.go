package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func redisFailoverCommand(s *session) *cli.Command {
	const usage = "larder redis:failover [NAME] -a APP [--no-wait]"
	return &cli.Command{
		Name:      "redis:failover",
		Category:  "redis",
		Usage:     "swap an HA add-on's primary and standby (planned switchover)",
		UsageText: usage,
		Description: "Hands the primary role to the standby with the engine's coordinated FAILOVER:\n" +
			"writes pause briefly (well under a second) while the standby catches up, no\n" +
			"acknowledged write is lost, and every attached app's REDIS vars point at the\n" +
			"new primary afterwards. Use it before maintenance on the primary's host.",
		Flags: []cli.Flag{appFlag(), &cli.BoolFlag{Name: "no-wait", Usage: "return once the switchover has started"}},
		Action: func(c *cli.Context) error {
			t, err := s.resolveRedis(c, usage)
			if err != nil {
				return err
			}
			sp := startSpinner(s.stderr, s.stderrTTY, "Switching over "+t.label())
			res, err := t.cl.Failover(c.Context, t.app, t.addon.Name)
			if err != nil {
				return sp.finishErr(err)
			}
			if c.Bool("no-wait") || res.Operation == nil {
				sp.finish("started")
				return nil
			}
			if _, err := waitOperation(c.Context, t.cl, t.addon.Name, res.Operation, sp, "switched over"); err != nil {
				return err
			}
			_, err = fmt.Fprintf(s.stdout, "%s switched over; its config vars point at the new primary.\n", t.addon.Name)
			return err
		},
	}
}
