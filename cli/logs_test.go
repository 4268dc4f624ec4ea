package cli

import (
	"io"
	"strings"
	"testing"
	"time"

	"larder/api"
	"larder/internal/testkit"
)

func TestLogPrinter(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	lines := []api.LogLine{
		{At: time.Date(2026, 12, 5, 20, 0, 0, 0, cet), Source: "redis", Attachment: "REDIS", Role: "primary", Text: "* Ready to accept connections"},
		{At: time.Date(2026, 12, 5, 19, 0, 1, 0, time.UTC), Source: "redis", Attachment: "REDIS", Role: "standby", Text: "* MASTER <-> REPLICA sync: Finished with success"},
		{At: time.Date(2026, 12, 5, 19, 0, 2, 0, time.UTC), Source: "larder", Attachment: "LARDER_REDIS_AMBER", Text: "addon.provisioned: available"},
	}
	want := "" +
		"2026-12-05T19:00:00+00:00 redis[REDIS]: * Ready to accept connections\n" +
		"2026-12-05T19:00:01+00:00 redis[REDIS.standby]: * MASTER <-> REPLICA sync: Finished with success\n" +
		"2026-12-05T19:00:02+00:00 larder[LARDER_REDIS_AMBER]: addon.provisioned: available\n"
	testkit.CheckOutput(t, "logs", func(w io.Writer) error { return logPrinter(w, false)(lines) }, want)
	testkit.CheckOutput(t, "logs --json", func(w io.Writer) error { return logPrinter(w, true)(lines[2:]) },
		`{"at":"2026-12-05T19:00:02Z","source":"larder","attachment":"LARDER_REDIS_AMBER","addon":"","text":"addon.provisioned: available"}`+"\n")
}

func TestLogsUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"logs"}, "no app given"},
		{[]string{"logs", "-a", "web", "-n", "0"}, "ask for 1 to 1500 lines"},
		{[]string{"logs", "-a", "web", "-n", "1501"}, "ask for 1 to 1500 lines"},
		{[]string{"logs", "-a", "web", "-s", "app"}, "use redis"},
		{[]string{"logs", "-a", "web", "extra"}, "unexpected argument"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, stderr, code := runCLI(t, "", tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tc.want)
			}
		})
	}
}
