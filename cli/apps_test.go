package cli

import (
	"io"
	"testing"

	"larder/api"
	"larder/internal/testkit"
)

func TestWriteApps(t *testing.T) {
	tests := []struct {
		name string
		apps []api.App
		want string
	}{
		{"none", nil, "You have no apps.\n"},
		{"some", []api.App{{Name: "api"}, {Name: "web"}}, "=== Apps\n\napi\nweb\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testkit.CheckOutput(t, "apps", func(w io.Writer) error { return writeApps(w, tt.apps) }, tt.want)
		})
	}
}
