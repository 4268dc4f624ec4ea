package cli

import (
	"reflect"
	"testing"
)

func TestNormalizeArgs(t *testing.T) {
	app := NewApp(nil, nil, nil)
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"flags after argument",
			[]string{"larder", "addons:create", "larder-redis:mini", "-a", "web", "--wait"},
			[]string{"larder", "addons:create", "-a", "web", "--wait", "--", "larder-redis:mini"}},
		{"provider options stay after the dash",
			[]string{"larder", "addons:create", "larder-redis:mini", "-a", "web", "--", "--maxmemory_policy", "allkeys-lru"},
			[]string{"larder", "addons:create", "-a", "web", "--", "larder-redis:mini", "--", "--maxmemory_policy", "allkeys-lru"}},
		{"flag=value form",
			[]string{"larder", "addons:destroy", "REDIS", "--app=web", "--wait=false"},
			[]string{"larder", "addons:destroy", "--app=web", "--wait=false", "--", "REDIS"}},
		{"flags only",
			[]string{"larder", "config", "-a", "web", "--json"},
			[]string{"larder", "config", "-a", "web", "--json"}},
		{"value that looks like an argument",
			[]string{"larder", "addons:create", "--as", "CACHE", "larder-redis:mini"},
			[]string{"larder", "addons:create", "--as", "CACHE", "--", "larder-redis:mini"}},
		{"run keeps the program's flags",
			[]string{"larder", "run", "-a", "web", "ls", "-la"},
			[]string{"larder", "run", "-a", "web", "--", "ls", "-la"}},
		{"run with restart flags",
			[]string{"larder", "run", "--restart-on-change", "--poll-interval", "500ms", "-a", "web", "./worker", "-v"},
			[]string{"larder", "run", "--restart-on-change", "--poll-interval", "500ms", "-a", "web", "--", "./worker", "-v"}},
		{"negative value of a flag",
			[]string{"larder", "redis:timeout", "REDIS", "-s", "-5", "-a", "web"},
			[]string{"larder", "redis:timeout", "-s", "-5", "-a", "web", "--", "REDIS"}},
		{"empty value of a flag",
			[]string{"larder", "redis:keyspace-notifications", "-c", "", "-a", "web"},
			[]string{"larder", "redis:keyspace-notifications", "-c", "", "-a", "web"}},
		{"run with dash",
			[]string{"larder", "run", "-a", "web", "--", "sh", "-c", "env"},
			[]string{"larder", "run", "-a", "web", "--", "--", "sh", "-c", "env"}},
		{"alias is found",
			[]string{"larder", "redis", "REDIS", "-a", "web"},
			[]string{"larder", "redis", "-a", "web", "--", "REDIS"}},
		{"unknown command untouched",
			[]string{"larder", "bogus", "x", "-a", "web"},
			[]string{"larder", "bogus", "x", "-a", "web"}},
		{"global help untouched",
			[]string{"larder", "--help"},
			[]string{"larder", "--help"}},
		{"lone dash is an argument",
			[]string{"larder", "config:get", "-", "-a", "web"},
			[]string{"larder", "config:get", "-a", "web", "--", "-"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := normalizeArgs(app, tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("normalizeArgs(%q):\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}
