package rediscmd

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"larder/cli/cmdkit"
)

// Credentials is `larder redis:credentials`.
func Credentials(s *cmdkit.Session) *cli.Command {
	const usage = "larder redis:credentials [NAME] -a APP [--reset]"
	return &cli.Command{
		Name:      "redis:credentials",
		Category:  "redis",
		Usage:     "print an add-on's connection URL, or give it a new password",
		UsageText: usage,
		Description: "Prints the URL with its user and password, redis://USER:PASSWORD@HOST:PORT,\n" +
			"ready for redis-cli -u. Mind where you paste it.\n\n" +
			"--reset gives the add-on a new password on the running node. Every attached\n" +
			"app's config vars change at once and the old password stops working, so\n" +
			"clients must reconnect with the new URL.\n\n" +
			"NAME defaults to the app's only add-on, or the one attached as REDIS.",
		Flags: []cli.Flag{
			cmdkit.AppFlag(),
			&cli.BoolFlag{Name: "reset", Usage: "replace the password; the old one stops working"},
		},
		Action: func(c *cli.Context) error {
			t, err := s.ResolveRedis(c, usage)
			if err != nil {
				return err
			}
			if !c.Bool("reset") {
				cred, err := t.Client.Credentials(c.Context, t.App, t.Addon.Name)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(s.Stdout, cred.URL)
				return err
			}
			sp := s.StartSpinner("Resetting credentials for " + t.Addon.Name)
			_, err = t.Client.RotateCredentials(c.Context, t.App, t.Addon.Name)
			if err := sp.FinishErr(err); err != nil {
				return err
			}
			_, err = fmt.Fprintln(s.Stderr, "Every attached app's REDIS vars now hold the new password; the old one no longer works.")
			return err
		},
	}
}
