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

// Follow is `larder redis:follow`.
func Follow(s *cmdkit.Session) *cli.Command {
	const usage = "larder redis:follow [NAME] --url URL -a APP [--confirm APP]"
	return &cli.Command{
		Name:      "redis:follow",
		Category:  "redis",
		Usage:     "make an add-on a read-only follower of a Redis server outside larder",
		UsageText: usage,
		Description: "The add-on replicates from the leader at URL (redis://USER:PASSWORD@HOST:PORT,\n" +
			"a user allowed to replicate: +psync +replconf +ping) and keeps following it\n" +
			"through restarts. Its data is replaced by the leader's, so it asks for\n" +
			"confirmation; writes to it answer READONLY. Config vars do not change.\n" +
			"`larder redis:info` shows the link, the lag and the last contact;\n" +
			"`larder redis:unfollow` makes it an independent primary again, e.g. to cut\n" +
			"over a migration into larder:\n\n" +
			"   larder redis:follow REDIS --url redis://default:pw@old-host:6379 -a web --confirm web\n" +
			"   larder redis:unfollow REDIS -a web",
		Flags: []cli.Flag{
			cmdkit.AppFlag(),
			cmdkit.ConfirmFlag(),
			&cli.StringFlag{Name: "url", Usage: "the leader: redis://USER:PASSWORD@HOST:PORT"},
		},
		Action: func(c *cli.Context) error {
			u := c.String("url")
			if u == "" {
				return cmdkit.Usagef(usage, "no leader given: add --url redis://USER:PASSWORD@HOST:PORT")
			}
			t, err := s.ResolveRedis(c, usage)
			if err != nil {
				return err
			}
			warning := fmt.Sprintf("This replaces the data of %s on ⬢ %s with the leader's, and makes it read-only", t.Addon.Name, t.App)
			if err := cmdkit.ConfirmApp(s.Stdin, s.Interactive, s.Stderr, t.App, c.String("confirm"), warning); err != nil {
				return err
			}
			sp := s.StartSpinner("Making " + t.Label() + " a follower")
			res, err := t.Client.Follow(c.Context, t.App, t.Addon.Name, api.FollowRequest{URL: u, Confirm: t.App})
			if err := sp.FinishErr(err); err != nil {
				return err
			}
			return writeFollow(s.Stdout, res)
		},
	}
}

// writeFollow says what follow or unfollow did.
func writeFollow(w io.Writer, res api.FollowResult) error {
	_, err := fmt.Fprintln(w, res.Message)
	return err
}

// followFields adds redis:info's lines about where the data comes from: a
// fork's source and progress, a follower's leader and link.
func followFields(f *ui.Fields, in api.RedisInfo) {
	if k := in.Fork; k != nil {
		method := k.Method
		switch method {
		case api.ForkMethodSync:
			method = "replication (SYNC)"
		case api.ForkMethodCopy:
			method = "copy (SCAN + DUMP/RESTORE)"
		}
		line := k.Source
		if method != "" {
			line += " by " + method
		}
		if k.State == "done" {
			line += fmt.Sprintf(", %d keys", k.KeysDone)
		} else {
			line += fmt.Sprintf(", %s: %d of %d keys, %s", k.State, k.KeysDone, k.KeysTotal, ui.HumanBytes(k.BytesDone))
		}
		f.Add("Forked From", line)
		if k.Reason != "" {
			f.Add("Fork Method", "copy, because "+k.Reason)
		}
	}
	if fo := in.Follow; fo != nil {
		f.Add("Following", fo.Leader+" (read-only)")
		f.Add("Follower Link", followLink(*fo))
	}
}

// followLink is a follower's link in words: up, lag, last contact.
func followLink(fo api.FollowInfo) string {
	switch {
	case !fo.Live:
		return "unknown: " + fo.Error
	case fo.SyncInProgress:
		return "syncing (full copy from the leader in progress)"
	case !fo.LinkUp && fo.LinkDownSeconds >= 0:
		return fmt.Sprintf("down for %ds", fo.LinkDownSeconds)
	case !fo.LinkUp:
		return "down (not connected yet)"
	}
	parts := []string{"up"}
	if fo.LagBytes >= 0 {
		parts = append(parts, fmt.Sprintf("lag %d bytes", fo.LagBytes))
	}
	parts = append(parts, fmt.Sprintf("last sync %ds ago", fo.LastIOSecondsAgo))
	return strings.Join(parts, ", ")
}
