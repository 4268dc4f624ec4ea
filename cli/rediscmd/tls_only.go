package rediscmd

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
)

// redis:tls-only is a command rather than an addons:create option: it
// switches an existing add-on either way at any time, and its URLs stay
// the same (the plain port is kept and answers why it refuses).
func TLSOnly(s *cmdkit.Session) *cli.Command {
	const usage = "larder redis:tls-only [NAME] -a APP [--on | --off]"
	return &cli.Command{
		Name:      "redis:tls-only",
		Category:  "redis",
		Usage:     "accept only TLS connections (REDIS_TLS_URL), or plain ones too",
		UsageText: usage,
		Description: "--on makes the edge refuse plain connections to the add-on: open ones are cut,\n" +
			"and new ones are answered \"ERR this add-on accepts TLS connections only\". Apps\n" +
			"then connect with REDIS_TLS_URL (rediss://; larder redis:credentials shows the\n" +
			"CA to trust). --off accepts plain connections again; no URL changes either way.\n" +
			"Without --on or --off it says which is in force.\n\n" +
			"NAME defaults to the app's only add-on, or the one attached as REDIS.",
		Flags: []cli.Flag{
			cmdkit.AppFlag(),
			&cli.BoolFlag{Name: "on", Usage: "refuse plain connections"},
			&cli.BoolFlag{Name: "off", Usage: "accept plain connections too"},
		},
		Action: func(c *cli.Context) error {
			if c.Bool("on") && c.Bool("off") {
				return cmdkit.Usagef(usage, "--on and --off contradict each other: give one")
			}
			t, err := s.ResolveRedis(c, usage)
			if err != nil {
				return err
			}
			var acc api.EdgeAccess
			if on := c.Bool("on"); on || c.Bool("off") {
				acc, err = t.Client.ChangeEdgeAccess(c.Context, t.App, t.Addon.Name, api.EdgeAccessPatch{TLSOnly: &on})
			} else {
				acc, err = t.Client.EdgeAccess(c.Context, t.App, t.Addon.Name)
			}
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(s.Stdout, tlsOnlyText(t.Label(), acc.TLSOnly))
			return err
		},
	}
}

func tlsOnlyText(label string, on bool) string {
	if on {
		return label + " accepts TLS connections only (REDIS_TLS_URL)."
	}
	return label + " accepts plain and TLS connections."
}
