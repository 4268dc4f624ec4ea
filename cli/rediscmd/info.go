package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"larder/api"
)

func redisInfoCommand(s *session) *cli.Command {
	const usage = "larder redis:info [NAME] -a APP [--json]"
	return &cli.Command{
		Name:      "redis:info",
		Aliases:   []string{"redis"},
		Category:  "redis",
		Usage:     "show an app's Redis add-ons: plan, settings, memory and clients",
		UsageText: usage,
		Description: "Without NAME, every Redis add-on of the app is shown. NAME is an add-on name,\n" +
			"an attachment name (REDIS) or a config var (REDIS_URL). Memory and clients are\n" +
			"read live from the node; when it cannot be read, the reason is shown instead.",
		Flags: []cli.Flag{appFlag(), jsonFlag()},
		Action: func(c *cli.Context) error {
			app, err := requireApp(c)
			if err != nil {
				return err
			}
			ref, err := optionalArg(c, usage)
			if err != nil {
				return err
			}
			cl, err := s.client()
			if err != nil {
				return err
			}
			infos, err := cl.RedisInfo(c.Context, app, ref)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(s.stdout, nonNil(infos))
			}
			return writeRedisInfos(s.stdout, infos)
		},
	}
}

// writeRedisInfos prints one block per add-on, blank lines between them.
func writeRedisInfos(w io.Writer, infos []api.RedisInfo) error {
	for i, in := range infos {
		if i > 0 {
			if _, err := fmt.Fprintln(w); err != nil {
				return err
			}
		}
		if err := writeRedisInfo(w, in); err != nil {
			return err
		}
	}
	return nil
}

// writeRedisInfo prints Heroku's redis:info block for one add-on.
func writeRedisInfo(w io.Writer, in api.RedisInfo) error {
	title := in.Addon.Name
	if len(in.ConfigVars) > 0 {
		title += " (" + strings.Join(in.ConfigVars, ", ") + ")"
	}
	notify := in.Settings.NotifyKeyspaceEvents
	if notify == "" {
		notify = "Disabled"
	}
	var f fields
	f.add("Plan", in.Plan)
	f.add("Status", in.Status)
	f.add("Created", formatTime(in.CreatedAt))
	f.add("Version", strings.TrimSpace(in.Engine+" "+in.Version))
	f.add("Timeout", fmt.Sprint(in.Settings.Timeout))
	f.add("Maxmemory", in.Settings.MaxMemoryPolicy)
	f.add("Keyspace Notifications", notify)
	f.add("Persistence", in.Persistence)
	f.add("HA Status", in.HAStatus)
	if in.HA != nil && in.HA.Decision != "" {
		f.add("HA Warning", in.HA.Decision)
	}
	if in.HA != nil && len(in.HA.Unreachable) > 0 {
		f.add("Unreachable", strings.Join(in.HA.Unreachable, "; "))
	}
	followFields(&f, in)
	if in.Live {
		f.add("Memory", humanBytes(in.MemoryUsedBytes)+" / "+humanBytes(in.MemoryLimitBytes))
		f.add("Clients", fmt.Sprintf("%d / %d", in.Clients, in.ClientsLimit))
	} else {
		reason := in.LiveError
		if reason == "" {
			reason = "the node could not be read"
		}
		f.add("Live Figures", "unavailable: "+reason)
	}
	if err := writeHeader(w, title); err != nil {
		return err
	}
	return f.write(w)
}
