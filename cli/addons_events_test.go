package cli

import (
	"io"
	"testing"
	"time"

	"larder/api"
	"larder/internal/testkit"
)

func TestWriteEvents(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	events := []api.Event{
		{Kind: "provision", Message: "created on port 21001", CreatedAt: time.Date(2026, 1, 2, 16, 4, 5, 0, cet)},
		{Kind: "restart", Message: "node restarted after a crash", CreatedAt: time.Date(2026, 1, 2, 16, 30, 0, 0, cet)},
		{Kind: "settings", Message: "", CreatedAt: time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)},
	}
	want := "" +
		"2026-01-02 15:04:05  provision  created on port 21001\n" +
		"2026-01-02 15:30:00  restart    node restarted after a crash\n" +
		"2026-01-03 00:00:00  settings\n"
	testkit.CheckOutput(t, "addons:events", func(w io.Writer) error { return writeEvents(w, "redis-a", events) }, want)
	testkit.CheckOutput(t, "addons:events none", func(w io.Writer) error { return writeEvents(w, "redis-a", nil) }, "No events for redis-a.\n")
}
