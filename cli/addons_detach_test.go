package cli

import (
	"errors"
	"testing"

	"larder/api"
	"larder/fault"
)

func TestFindAttachment(t *testing.T) {
	atts := []api.Attachment{attached("web", "REDIS"), attached("web", "CACHE")}
	atts[1].Addon = api.Ref{Name: "redis-b"}
	tests := []struct {
		name, ref, want string
		atts            []api.Attachment
		wantMsg         string
	}{
		{"by name", "CACHE", "CACHE", atts, ""},
		{"any case", "cache", "CACHE", atts, ""},
		{"by config var", "cache_url", "CACHE", atts, ""},
		{"not a prefix", "CACH", "", atts, "⬢ web has no attachment CACH; its attachments: CACHE, REDIS"},
		{"no attachments", "REDIS", "", nil, "⬢ web has no attachments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := findAttachment(tt.atts, "web", tt.ref)
			if tt.wantMsg != "" {
				var fe *fault.Error
				if !errors.Is(err, fault.NotFound) || !errors.As(err, &fe) || fe.Message != tt.wantMsg {
					t.Errorf("findAttachment(%q): got %v, want not found %q", tt.ref, err, tt.wantMsg)
				}
				return
			}
			if err != nil || got.Name != tt.want {
				t.Errorf("findAttachment(%q): got %q, %v; want %q", tt.ref, got.Name, err, tt.want)
			}
		})
	}
}
