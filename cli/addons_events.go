package cli

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
	"larder/cli/ui"
)

func addonsEventsCommand(s *cmdkit.Session) *cli.Command {
	const usage = "larder addons:events [NAME] -a APP [--json]"
	return &cli.Command{
		Name:      "addons:events",
		Aliases:   []string{"redis:events"},
		Category:  "add-ons",
		Usage:     "show an add-on's history: creation, restarts, settings, credentials",
		UsageText: usage,
		Description: "One line per event, oldest first, times in UTC:\n\n" +
			"   2026-01-02 15:04:05  restart  node restarted after a crash\n\n" +
			"NAME defaults to the app's only add-on, or the one attached as REDIS.",
		Flags: []cli.Flag{cmdkit.AppFlag(), cmdkit.JSONFlag()},
		Action: func(c *cli.Context) error {
			t, err := s.ResolveRedis(c, usage)
			if err != nil {
				return err
			}
			events, err := t.Client.Events(c.Context, t.App, t.Addon.Name)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return ui.PrintJSON(s.Stdout, ui.NonNil(events))
			}
			return writeEvents(s.Stdout, t.Addon.Name, events)
		},
	}
}

// writeEvents prints `TIME  KIND  MESSAGE` lines with the kinds aligned.
func writeEvents(w io.Writer, addon string, events []api.Event) error {
	if len(events) == 0 {
		_, err := fmt.Fprintf(w, "No events for %s.\n", addon)
		return err
	}
	width := 0
	for _, e := range events {
		width = max(width, utf8.RuneCountInString(e.Kind))
	}
	var b strings.Builder
	for _, e := range events {
		line := fmt.Sprintf("%s  %s%s  %s", e.CreatedAt.UTC().Format("2006-01-02 15:04:05"),
			e.Kind, strings.Repeat(" ", width-utf8.RuneCountInString(e.Kind)), e.Message)
		b.WriteString(strings.TrimRight(line, " "))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}
