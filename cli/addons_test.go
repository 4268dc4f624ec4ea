package cli

import (
	"io"
	"testing"

	"larder/api"
	"larder/internal/testkit"
)

func attachment(app, name string) api.Attachment {
	return api.Attachment{Name: name, App: api.Ref{Name: app}}
}

// attached is an attachment that gives app the var NAME_URL.
func attached(app, name string) api.Attachment {
	at := attachment(app, name)
	at.ConfigVars = []string{name + "_URL"}
	return at
}

func TestWriteAppAddons(t *testing.T) {
	addons := []api.Addon{
		{Name: "redis-swift-12345", Service: "larder-redis", Plan: "larder-redis:mini", App: api.Ref{Name: "web"},
			State: api.StateProvisioned, Attachments: []api.Attachment{
				attachment("worker", "CACHE"), attachment("web", "REDIS"), attachment("web", "LARDER_REDIS_AMBER")}},
		{Name: "redis-shared-1", Service: "larder-redis", Plan: "larder-redis:premium-0", App: api.Ref{Name: "api"},
			State: api.StateProvisioning, Attachments: []api.Attachment{attachment("api", "REDIS"), attachment("web", "SHARED")}},
	}
	want := "" +
		"Add-on                            Plan                        State\n" +
		"────────────────────────────────  ──────────────────────────  ────────\n" +
		"larder-redis (redis-swift-12345)  mini                        created\n" +
		" ├─ as LARDER_REDIS_AMBER\n" +
		" ├─ as REDIS\n" +
		" └─ as CACHE on ⬢ worker\n" +
		"larder-redis (redis-shared-1)     premium-0 (owned by ⬢ api)  creating\n" +
		" ├─ as SHARED\n" +
		" └─ as REDIS on ⬢ api\n" +
		"\n" +
		"The table above shows add-ons and the attachments to the current app (⬢ web) or other apps.\n"
	testkit.CheckOutput(t, "addons", func(w io.Writer) error { return writeAppAddons(w, "web", api.Summaries(addons, "web")) }, want)
}

func TestWriteAddonsEmpty(t *testing.T) {
	tests := []struct {
		name  string
		write func(io.Writer) error
		want  string
	}{
		{"app", func(w io.Writer) error { return writeAppAddons(w, "web", nil) }, "No add-ons for app web.\n"},
		{"all", func(w io.Writer) error { return writeAllAddons(w, nil) }, "No add-ons.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testkit.CheckOutput(t, tt.name, tt.write, tt.want)
		})
	}
}

func TestWriteAllAddons(t *testing.T) {
	addons := []api.Addon{{Name: "redis-a", Service: "larder-redis", Plan: "larder-redis:mini", App: api.Ref{Name: "web"}, State: api.StateFailed}}
	want := "" +
		"Owning App  Add-on                  Plan  State\n" +
		"──────────  ──────────────────────  ────  ───────\n" +
		"⬢ web       larder-redis (redis-a)  mini  errored\n"
	testkit.CheckOutput(t, "addons (all)", func(w io.Writer) error { return writeAllAddons(w, api.Summaries(addons, "")) }, want)
}

func TestDisplayState(t *testing.T) {
	tests := map[string]string{
		api.StateProvisioned:    "created",
		api.StateProvisioning:   "creating",
		api.StateDeprovisioning: "destroying",
		api.StateDeprovisioned:  "destroyed",
		api.StateFailed:         "errored",
		"suspended":             "suspended",
	}
	for in, want := range tests {
		if got := displayState(in); got != want {
			t.Errorf("displayState(%q): got %q, want %q", in, got, want)
		}
	}
}

func TestShortPlan(t *testing.T) {
	tests := map[string]string{"larder-redis:premium-2": "premium-2", "mini": "mini", "": ""}
	for in, want := range tests {
		if got := shortPlan(in); got != want {
			t.Errorf("shortPlan(%q): got %q, want %q", in, got, want)
		}
	}
}
