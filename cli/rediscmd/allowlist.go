package rediscmd

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
	"larder/cli/ui"
)

func Allowlist(s *cmdkit.Session) *cli.Command {
	const usage = "larder redis:allowlist [NAME] -a APP [--add CIDR]... [--remove CIDR]..."
	return &cli.Command{
		Name:      "redis:allowlist",
		Category:  "redis",
		Usage:     "show or change the networks that may connect to an add-on",
		UsageText: usage,
		Description: "Clients connect through larder's edge, which lets in only addresses in the\n" +
			"add-on's allowlist. Until you change it, the list is the default: loopback and\n" +
			"private networks (127.0.0.0/8, ::1, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16,\n" +
			"fc00::/7). The first --add starts from the default, so allowing an office\n" +
			"network does not cut off your app on the private network; --remove takes\n" +
			"entries out, the default ones included. A change applies at once to new and\n" +
			"open connections: a client no longer allowed is cut, and is answered\n" +
			"\"AUTH failed: Client IP address is not in the allowlist.\" when it comes back.\n" +
			"A CIDR with bits after its prefix, or anything else that is not a network, is\n" +
			"refused with the reason and nothing changes. A single address means /32 (/128).\n\n" +
			"NAME defaults to the app's only add-on, or the one attached as REDIS.",
		Flags: []cli.Flag{
			cmdkit.AppFlag(),
			&cli.StringSliceFlag{Name: "add", Usage: "a CIDR (or address) to allow; repeat for more"},
			&cli.StringSliceFlag{Name: "remove", Usage: "a CIDR to take out of the list; repeat for more"},
			cmdkit.JSONFlag(),
		},
		Action: func(c *cli.Context) error {
			t, err := s.ResolveRedis(c, usage)
			if err != nil {
				return err
			}
			var acc api.EdgeAccess
			if add, remove := c.StringSlice("add"), c.StringSlice("remove"); len(add) > 0 || len(remove) > 0 {
				acc, err = t.Client.ChangeEdgeAccess(c.Context, t.App, t.Addon.Name, api.EdgeAccessPatch{Add: add, Remove: remove})
			} else {
				acc, err = t.Client.EdgeAccess(c.Context, t.App, t.Addon.Name)
			}
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return ui.PrintJSON(s.Stdout, acc)
			}
			fmt.Fprintln(s.Stderr, allowlistHeading(t.Label(), acc))
			return writeAllowlist(s.Stdout, acc)
		},
	}
}

// allowlistHeading says whose list it is and what it means.
func allowlistHeading(label string, acc api.EdgeAccess) string {
	h := "Networks allowed to connect to " + label
	if acc.Default {
		h += " (the default: loopback and private networks)"
	}
	if acc.TLSOnly {
		h += "; TLS connections only"
	}
	return h + ":"
}

// writeAllowlist prints one CIDR per line: data a script can read.
func writeAllowlist(w io.Writer, acc api.EdgeAccess) error {
	if len(acc.Allowlist) == 0 {
		return nil
	}
	_, err := io.WriteString(w, strings.Join(acc.Allowlist, "\n")+"\n")
	return err
}
