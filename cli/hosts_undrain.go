package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"larder/cli/cmdkit"
)

func hostsUndrainCommand(s *cmdkit.Session) *cli.Command {
	const usage = "larder hosts:undrain HOST"
	return &cli.Command{
		Name:      "hosts:undrain",
		Category:  "hosts",
		Usage:     "let new nodes go to a drained host again",
		UsageText: usage,
		Description: "Ends `larder hosts:drain HOST`: new add-ons and standbys may be placed on\n" +
			"HOST again. Nodes moved off it stay where they are.",
		Action: func(c *cli.Context) error {
			a, err := cmdkit.ExactArgs(c, 1, usage)
			if err != nil {
				return err
			}
			cl, err := s.Client()
			if err != nil {
				return err
			}
			h, err := cl.UndrainHost(c.Context, a[0])
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(s.Stdout, "%s takes new nodes again (%s).\n", h.Name, h.State)
			return err
		},
	}
}
