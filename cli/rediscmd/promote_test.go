package rediscmd

import (
	"io"
	"testing"

	"larder/api"
	"larder/internal/testkit"
)

func TestWritePromote(t *testing.T) {
	tests := []struct {
		name string
		res  api.PromoteResult
		want string
	}{
		{"first REDIS", api.PromoteResult{Addon: api.Ref{Name: "redis-b"}},
			"Promoting redis-b to REDIS_URL on ⬢ web\n"},
		{"previous keeps an alias", api.PromoteResult{Addon: api.Ref{Name: "redis-b"}, Previous: &api.Ref{Name: "redis-a"}, Alias: "LARDER_REDIS_AMBER"},
			"Promoting redis-b to REDIS_URL on ⬢ web\nredis-a keeps its config vars as LARDER_REDIS_AMBER_URL\n"},
		{"previous without alias", api.PromoteResult{Addon: api.Ref{Name: "redis-b"}, Previous: &api.Ref{Name: "redis-a"}},
			"Promoting redis-b to REDIS_URL on ⬢ web\nredis-a is no longer REDIS on ⬢ web\n"},
		{"already REDIS", api.PromoteResult{Addon: api.Ref{Name: "redis-b"}, Previous: &api.Ref{Name: "redis-b"}},
			"Promoting redis-b to REDIS_URL on ⬢ web\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testkit.CheckOutput(t, "redis:promote", func(w io.Writer) error { return writePromote(w, "web", tt.res) }, tt.want)
		})
	}
}
