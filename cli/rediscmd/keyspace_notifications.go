package rediscmd

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
)

// keyspaceFlags are the letters notify-keyspace-events takes, with their meaning.
const keyspaceFlags = "K E g $ l s h z x e t m d n A"

// KeyspaceNotifications is `larder redis:keyspace-notifications`.
func KeyspaceNotifications(s *cmdkit.Session) *cli.Command {
	const usage = "larder redis:keyspace-notifications [NAME] -a APP -c FLAGS"
	return &cli.Command{
		Name:      "redis:keyspace-notifications",
		Category:  "redis",
		Usage:     "choose which key events are published to subscribers",
		UsageText: usage,
		Description: "FLAGS is the node's notify-keyspace-events setting; '' turns notifications off.\n" +
			"Events are sent only if FLAGS holds K or E (or both):\n\n" +
			"   K  keyspace events, published on __keyspace@<db>__\n" +
			"   E  keyevent events, published on __keyevent@<db>__\n" +
			"   g  generic commands (DEL, EXPIRE, RENAME, …)\n" +
			"   $  string commands        l  list commands\n" +
			"   s  set commands           h  hash commands\n" +
			"   z  sorted set commands    t  stream commands\n" +
			"   x  expired events         e  evicted events\n" +
			"   m  key miss events        n  new key events\n" +
			"   d  module key type events\n" +
			"   A  alias for g$lshzxetd, so KEA is every event but m and n\n\n" +
			"   larder redis:keyspace-notifications -a web -c KEA\n\n" +
			"NAME defaults to the app's only add-on, or the one attached as REDIS.",
		Flags: []cli.Flag{
			cmdkit.AppFlag(),
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "the event flags, e.g. KEA ('' to turn off)"},
		},
		Action: func(c *cli.Context) error {
			flags := c.String("config")
			if err := checkKeyspaceFlags(flags, c.IsSet("config"), usage); err != nil {
				return err
			}
			t, got, err := updateSettings(s, c, usage, api.SettingsPatch{NotifyKeyspaceEvents: &flags})
			if err != nil {
				return err
			}
			if flags != "" && !strings.ContainsAny(flags, "KE") {
				fmt.Fprintf(s.Stderr, "warning: %q has neither K nor E, so no events are sent.\n", flags)
			}
			return writeKeyspaceNotifications(s.Stdout, t.Label(), got.NotifyKeyspaceEvents)
		},
	}
}

// checkKeyspaceFlags accepts the letters of keyspaceFlags; the broker checks
// them against the engine too, which may know fewer.
func checkKeyspaceFlags(flags string, given bool, usage string) error {
	if !given {
		return cmdkit.Usagef(usage, "no flags given: add -c FLAGS, e.g. -c KEA (-c '' turns notifications off)")
	}
	for _, r := range flags {
		if r == ' ' || !strings.ContainsRune(keyspaceFlags, r) {
			return cmdkit.Usagef(usage, "invalid keyspace notification flag %q in %q: use the letters %s", r, flags, keyspaceFlags)
		}
	}
	return nil
}

func writeKeyspaceNotifications(w io.Writer, label, flags string) error {
	_, err := fmt.Fprintf(w, "Keyspace notifications for %s set to '%s'.\n", label, flags)
	return err
}
