package rediscmd

import (
	"github.com/urfave/cli/v2"

	"larder/cli/cmdkit"
)

// Unfollow is `larder redis:unfollow`.
func Unfollow(s *cmdkit.Session) *cli.Command {
	const usage = "larder redis:unfollow [NAME] -a APP"
	return &cli.Command{
		Name:      "redis:unfollow",
		Category:  "redis",
		Usage:     "stop following the leader: the add-on becomes an independent primary",
		UsageText: usage,
		Description: "Ends a follow started with `larder redis:follow`. The add-on keeps the data it\n" +
			"has and takes writes from now on; its config vars do not change. Check that\n" +
			"`larder redis:info` shows the link up with no lag first, and stop the writes\n" +
			"to the leader, so nothing is left behind.",
		Flags: []cli.Flag{cmdkit.AppFlag()},
		Action: func(c *cli.Context) error {
			t, err := s.ResolveRedis(c, usage)
			if err != nil {
				return err
			}
			sp := s.StartSpinner("Promoting " + t.Label() + " to an independent primary")
			res, err := t.Client.Unfollow(c.Context, t.App, t.Addon.Name)
			if err := sp.FinishErr(err); err != nil {
				return err
			}
			return writeFollow(s.Stdout, res)
		},
	}
}
