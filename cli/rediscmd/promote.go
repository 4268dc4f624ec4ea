package rediscmd

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
)

// Promote is `larder redis:promote`.
func Promote(s *cmdkit.Session) *cli.Command {
	const usage = "larder redis:promote NAME -a APP"
	return &cli.Command{
		Name:      "redis:promote",
		Category:  "redis",
		Usage:     "make an add-on the app's REDIS_URL",
		UsageText: usage,
		Description: "Attaches NAME to the app as REDIS, so REDIS_URL points at it. The add-on that\n" +
			"was REDIS stays attached under another name, so its data stays reachable:\n\n" +
			"   larder redis:promote redis-swift-12345 -a web\n\n" +
			"Use it to switch an app to a new add-on, and instead of config:set REDIS_URL.",
		Flags: []cli.Flag{cmdkit.AppFlag()},
		Action: func(c *cli.Context) error {
			app, arg, cl, err := s.AppArg(c, usage, api.AddonRef)
			if err != nil {
				return err
			}
			res, err := cl.Promote(c.Context, app, arg)
			if err != nil {
				return err
			}
			return writePromote(s.Stdout, app, res)
		},
	}
}

// writePromote says what promote did, and where the old REDIS went.
func writePromote(w io.Writer, app string, res api.PromoteResult) error {
	if _, err := fmt.Fprintf(w, "Promoting %s to REDIS_URL on ⬢ %s\n", res.Addon.Name, app); err != nil {
		return err
	}
	var err error
	switch p := res.Previous; {
	case p == nil || p.Name == res.Addon.Name:
	case res.Alias != "":
		_, err = fmt.Fprintf(w, "%s keeps its config vars as %s_URL\n", p.Name, res.Alias)
	default:
		_, err = fmt.Fprintf(w, "%s is no longer REDIS on ⬢ %s\n", p.Name, app)
	}
	return err
}
