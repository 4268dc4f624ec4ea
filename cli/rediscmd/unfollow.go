package cli

import (
	"github.com/urfave/cli/v2"
)

func redisUnfollowCommand(s *session) *cli.Command {
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
		Flags: []cli.Flag{appFlag()},
		Action: func(c *cli.Context) error {
			t, err := s.resolveRedis(c, usage)
			if err != nil {
				return err
			}
			sp := startSpinner(s.stderr, s.stderrTTY, "Promoting "+t.label()+" to an independent primary")
			res, err := t.cl.Unfollow(c.Context, t.app, t.addon.Name)
			if err := sp.finishErr(err); err != nil {
				return err
			}
			return writeFollow(s.stdout, res)
		},
	}
}
