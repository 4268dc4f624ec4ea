package cmdkit

import (
	"errors"
	"testing"

	"larder/api"
	"larder/fault"
)

// attached is an attachment that gives app the var NAME_URL.
func attached(app, name string) api.Attachment {
	return api.Attachment{Name: name, App: api.Ref{Name: app}, ConfigVars: []string{name + "_URL"}}
}

func TestDefaultRedis(t *testing.T) {
	only := api.Addon{Name: "redis-a", App: api.Ref{Name: "web"}, Attachments: []api.Attachment{attached("web", "CACHE")}}
	primary := api.Addon{Name: "redis-b", App: api.Ref{Name: "web"},
		Attachments: []api.Attachment{attached("worker", "CACHE"), attached("web", "REDIS")}}
	elsewhere := api.Addon{Name: "redis-c", App: api.Ref{Name: "api"},
		Attachments: []api.Attachment{attached("api", "REDIS"), attached("web", "SHARED")}}
	tests := []struct {
		name     string
		addons   []api.Addon
		want     string
		wantKind fault.Kind
		wantMsg  string
	}{
		{"none", nil, "", fault.NotFound, "⬢ web has no Redis add-ons; create one with: larder addons:create larder-redis:mini -a web"},
		{"only one, whatever its name", []api.Addon{only}, "redis-a", "", ""},
		{"the one attached as REDIS", []api.Addon{only, primary, elsewhere}, "redis-b", "", ""},
		{"REDIS on another app does not count", []api.Addon{only, elsewhere}, "", fault.Ambiguous,
			"⬢ web has 2 Redis add-ons and none is attached as REDIS; name one: redis-a (CACHE_URL), redis-c (SHARED_URL)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := defaultRedis(tt.addons, "web")
			if tt.wantKind != "" {
				var fe *fault.Error
				if !errors.Is(err, tt.wantKind) || !errors.As(err, &fe) || fe.Message != tt.wantMsg {
					t.Errorf("defaultRedis: got %v, want %s %q", err, tt.wantKind, tt.wantMsg)
				}
				return
			}
			if err != nil || got.Name != tt.want {
				t.Errorf("defaultRedis: got %q, %v; want %q", got.Name, err, tt.want)
			}
		})
	}
}

func TestAddonLabel(t *testing.T) {
	tests := []struct {
		name  string
		addon api.Addon
		app   string
		want  string
	}{
		{"this app's vars only", api.Addon{Name: "redis-a", App: api.Ref{Name: "web"},
			Attachments: []api.Attachment{attached("web", "REDIS"), attached("worker", "CACHE"), attached("web", "LARDER_REDIS_AMBER")}},
			"web", "redis-a (REDIS_URL, LARDER_REDIS_AMBER_URL)"},
		{"attached from another app", api.Addon{Name: "redis-a", App: api.Ref{Name: "web"},
			Attachments: []api.Attachment{attached("web", "REDIS"), attached("worker", "CACHE")}},
			"worker", "redis-a (CACHE_URL)"},
		{"owner's vars without attachments", api.Addon{Name: "redis-a", App: api.Ref{Name: "web"}, ConfigVars: []string{"REDIS_URL"}},
			"web", "redis-a (REDIS_URL)"},
		{"no vars", api.Addon{Name: "redis-a", App: api.Ref{Name: "web"}}, "other", "redis-a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := addonLabel(tt.addon, tt.app); got != tt.want {
				t.Errorf("addonLabel: got %q, want %q", got, tt.want)
			}
		})
	}
}
