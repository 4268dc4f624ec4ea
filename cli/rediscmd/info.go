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

// Info is `larder redis:info`.
func Info(s *cmdkit.Session) *cli.Command {
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
		Flags: []cli.Flag{cmdkit.AppFlag(), cmdkit.JSONFlag()},
		Action: func(c *cli.Context) error {
			app, err := cmdkit.RequireApp(c)
			if err != nil {
				return err
			}
			ref, err := cmdkit.OptionalArg(c, usage)
			if err != nil {
				return err
			}
			cl, err := s.Client()
			if err != nil {
				return err
			}
			infos, err := cl.RedisInfo(c.Context, app, ref)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return ui.PrintJSON(s.Stdout, ui.NonNil(infos))
			}
			return writeRedisInfos(s.Stdout, infos)
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
	var f ui.Fields
	f.Add("Plan", in.Plan)
	f.Add("Status", in.Status)
	f.Add("Created", ui.FormatTime(in.CreatedAt))
	f.Add("Version", strings.TrimSpace(in.Engine+" "+in.Version))
	f.Add("Timeout", fmt.Sprint(in.Settings.Timeout))
	f.Add("Maxmemory", in.Settings.MaxMemoryPolicy)
	f.Add("Keyspace Notifications", notify)
	f.Add("Persistence", in.Persistence)
	f.Add("HA Status", in.HAStatus)
	if in.HA != nil && in.HA.Decision != "" {
		f.Add("HA Warning", in.HA.Decision)
	}
	if in.HA != nil && len(in.HA.Unreachable) > 0 {
		f.Add("Unreachable", strings.Join(in.HA.Unreachable, "; "))
	}
	followFields(&f, in)
	if in.Live {
		f.Add("Memory", ui.HumanBytes(in.MemoryUsedBytes)+" / "+ui.HumanBytes(in.MemoryLimitBytes))
		f.Add("Clients", fmt.Sprintf("%d / %d", in.Clients, in.ClientsLimit))
	} else {
		reason := in.LiveError
		if reason == "" {
			reason = "the node could not be read"
		}
		f.Add("Live Figures", "unavailable: "+reason)
	}
	if err := ui.WriteHeader(w, title); err != nil {
		return err
	}
	return f.Write(w)
}
