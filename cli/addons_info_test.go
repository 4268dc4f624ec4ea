package cli

import (
	"io"
	"testing"
	"time"

	"larder/api"
	"larder/internal/testkit"
)

func TestWriteAddonInfo(t *testing.T) {
	created := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		name  string
		addon api.Addon
		want  string
	}{
		{"created", api.Addon{Name: "redis-swift-12345", Plan: "larder-redis:mini", App: api.Ref{Name: "web"},
			State: api.StateProvisioned, CreatedAt: created,
			Attachments: []api.Attachment{attachment("worker", "CACHE"), attachment("web", "REDIS")}},
			"=== redis-swift-12345\n\n" +
				"Plan:         larder-redis:mini\n" +
				"Attachments:  web::REDIS\n" +
				"              worker::CACHE\n" +
				"Owning app:   web\n" +
				"Installed at: 2026-03-04 04:06 UTC\n" +
				"State:        created\n"},
		{"failed with reason", api.Addon{Name: "redis-a", Plan: "larder-redis:mini", App: api.Ref{Name: "web"},
			State: api.StateFailed, StateReason: "no free port"},
			"=== redis-a\n\n" +
				"Plan:         larder-redis:mini\n" +
				"Attachments:\n" +
				"Owning app:   web\n" +
				"Installed at:\n" +
				"State:        errored\n" +
				"Reason:       no free port\n"},
		{"writes paused by a lease", api.Addon{Name: "redis-b", Plan: "larder-redis:premium-0", App: api.Ref{Name: "web"},
			State: api.StateProvisioned, WritesPaused: "writes paused since 2026-03-04T05:06:07Z: lease expired"},
			"=== redis-b\n\n" +
				"Plan:         larder-redis:premium-0\n" +
				"Attachments:\n" +
				"Owning app:   web\n" +
				"Installed at:\n" +
				"State:        created\n" +
				"Writes:       writes paused since 2026-03-04T05:06:07Z: lease expired\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testkit.CheckOutput(t, "addons:info", func(w io.Writer) error { return writeAddonInfo(w, tt.addon) }, tt.want)
		})
	}
}
