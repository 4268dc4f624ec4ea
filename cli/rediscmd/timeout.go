package rediscmd

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
)

// Timeout is `larder redis:timeout`.
func Timeout(s *cmdkit.Session) *cli.Command {
	const usage = "larder redis:timeout [NAME] -a APP -s SECONDS"
	return &cli.Command{
		Name:      "redis:timeout",
		Category:  "redis",
		Usage:     "close client connections idle for this many seconds",
		UsageText: usage,
		Description: "Sets the node's idle timeout at once, no restart. 0 lets connections idle\n" +
			"for ever, which leaks connections when clients die without closing them.\n\n" +
			"NAME defaults to the app's only add-on, or the one attached as REDIS.",
		Flags: []cli.Flag{
			cmdkit.AppFlag(),
			// A string, so that "-s abc" and "-s -5" get our message rather than flag's.
			&cli.StringFlag{Name: "seconds", Aliases: []string{"s"}, Usage: "idle seconds before a connection is closed, 0 for never"},
		},
		Action: func(c *cli.Context) error {
			seconds, err := parseTimeout(c.String("seconds"), c.IsSet("seconds"), usage)
			if err != nil {
				return err
			}
			t, got, err := updateSettings(s, c, usage, api.SettingsPatch{Timeout: &seconds})
			if err != nil {
				return err
			}
			return writeTimeout(s.Stdout, t.Label(), got.Timeout)
		},
	}
}

// parseTimeout reads -s: a whole number of seconds, 0 or more.
func parseTimeout(text string, given bool, usage string) (int, error) {
	if !given {
		return 0, cmdkit.Usagef(usage, "no timeout given: add -s SECONDS, e.g. -s 300 (0 for no timeout)")
	}
	n, err := strconv.Atoi(strings.TrimSpace(text))
	if err != nil || n < 0 {
		return 0, cmdkit.Usagef(usage, "invalid timeout %q: give a whole number of seconds, 0 or more", text)
	}
	return n, nil
}

// writeTimeout prints Heroku's two lines: the new timeout, then what it means.
func writeTimeout(w io.Writer, label string, seconds int) error {
	means := "Connections to the Redis instance can idle indefinitely."
	if seconds > 0 {
		means = fmt.Sprintf("Connections to the Redis instance will be stopped after idling for %d seconds.", seconds)
	}
	_, err := fmt.Fprintf(w, "Timeout for %s set to %d seconds.\n%s\n", label, seconds, means)
	return err
}
