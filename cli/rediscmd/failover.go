package rediscmd

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"larder/cli/cmdkit"
)

// Failover is `larder redis:failover`.
func Failover(s *cmdkit.Session) *cli.Command {
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
		Flags: []cli.Flag{cmdkit.AppFlag(), &cli.BoolFlag{Name: "no-wait", Usage: "return once the switchover has started"}},
		Action: func(c *cli.Context) error {
			t, err := s.ResolveRedis(c, usage)
			if err != nil {
				return err
			}
			sp := s.StartSpinner("Switching over " + t.Label())
			res, err := t.Client.Failover(c.Context, t.App, t.Addon.Name)
			if err != nil {
				return sp.FinishErr(err)
			}
			if c.Bool("no-wait") || res.Operation == nil {
				sp.Finish("started")
				return nil
			}
			if _, err := cmdkit.WaitOperation(c.Context, t.Client, t.Addon.Name, res.Operation, sp, "switched over"); err != nil {
				return err
			}
			_, err = fmt.Fprintf(s.Stdout, "%s switched over; its config vars point at the new primary.\n", t.Addon.Name)
			return err
		},
	}
}
