package rediscmd

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
	"larder/cli/ui"
	"larder/fault"
)

// Credentials is `larder redis:credentials`.
func Credentials(s *cmdkit.Session) *cli.Command {
	const usage = "larder redis:credentials [NAME] -a APP [--tls | --ca | --json] [--reset]"
	return &cli.Command{
		Name:      "redis:credentials",
		Category:  "redis",
		Usage:     "print an add-on's connection URL, or give it a new password",
		UsageText: usage,
		Description: "Prints the URL with its user and password, redis://USER:PASSWORD@HOST:PORT,\n" +
			"ready for redis-cli -u. Mind where you paste it. The URL names larder's edge,\n" +
			"so it stays the same through failovers, switchovers and plan changes.\n\n" +
			"--tls prints the TLS URL (rediss://, the edge's TLS port) instead, and --ca the\n" +
			"certificate of the CA that signed the edge's (PEM), for clients on other\n" +
			"machines; on this one, the path printed on stderr serves:\n" +
			"redis-cli -u \"$(larder redis:credentials --tls -a APP)\" --tls --cacert PATH.\n\n" +
			"--reset gives the add-on a new password on the running node. Every attached\n" +
			"app's config vars change at once and the old password stops working, so\n" +
			"clients must reconnect with the new URL.\n\n" +
			"NAME defaults to the app's only add-on, or the one attached as REDIS.",
		Flags: []cli.Flag{
			cmdkit.AppFlag(),
			&cli.BoolFlag{Name: "reset", Usage: "replace the password; the old one stops working"},
			&cli.BoolFlag{Name: "tls", Usage: "print the TLS URL (rediss://)"},
			&cli.BoolFlag{Name: "ca", Usage: "print the CA certificate (PEM) TLS clients trust"},
			cmdkit.JSONFlag(),
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
				return writeCredentials(s.Stdout, s.Stderr, cred, c.Bool("tls"), c.Bool("ca"), c.Bool("json"))
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

// writeCredentials prints the URL asked for on stdout (the plain one by
// default, so `$(larder redis:credentials -a APP)` is a URL) and, on
// stderr, where the TLS URL and its CA are.
func writeCredentials(stdout, stderr io.Writer, cred api.Credentials, tls, ca, asJSON bool) error {
	switch {
	case asJSON:
		return ui.PrintJSON(stdout, cred)
	case ca && cred.CACert == "":
		return fault.E(fault.NotFound, "%s's edge serves an operator's certificate, not one of larder's CA: trust that certificate's issuer", cred.Addon.Name)
	case ca:
		_, err := io.WriteString(stdout, cred.CACert)
		return err
	case tls && cred.TLSURL == "":
		return fault.E(fault.NotFound, "%s has no TLS URL: the broker runs without an edge", cred.Addon.Name)
	case tls:
		_, err := fmt.Fprintln(stdout, cred.TLSURL)
		return err
	}
	if _, err := fmt.Fprintln(stdout, cred.URL); err != nil {
		return err
	}
	if cred.TLSURL != "" {
		hint := "TLS: larder redis:credentials --tls prints the rediss:// URL"
		if cred.CAPath != "" {
			hint += "; trust the CA with --cacert " + cred.CAPath + " (--ca prints it)"
		}
		fmt.Fprintln(stderr, hint)
	}
	return nil
}
