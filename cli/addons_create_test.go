package cli

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"larder/api"
	"larder/cli/cmdkit"
)

func TestCreateRequest(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		policy  string
		want    api.AddonCreate
		wantErr string
	}{
		{"plan only", []string{"larder-redis:mini"}, "",
			api.AddonCreate{Plan: "larder-redis:mini"}, ""},
		{"service only", []string{"larder-redis"}, "",
			api.AddonCreate{Plan: "larder-redis"}, ""},
		{"policy flag", []string{"larder-redis:mini"}, "allkeys-lru",
			api.AddonCreate{Plan: "larder-redis:mini", Config: map[string]string{"maxmemory_policy": "allkeys-lru"}}, ""},
		{"policy after dash", []string{"larder-redis:mini", "--", "--maxmemory_policy", "volatile-ttl"}, "",
			api.AddonCreate{Plan: "larder-redis:mini", Config: map[string]string{"maxmemory_policy": "volatile-ttl"}}, ""},
		{"same policy twice", []string{"larder-redis:mini", "--", "--maxmemory_policy=allkeys-lru"}, "allkeys-lru",
			api.AddonCreate{Plan: "larder-redis:mini", Config: map[string]string{"maxmemory_policy": "allkeys-lru"}}, ""},
		{"empty dash", []string{"larder-redis:mini", "--"}, "",
			api.AddonCreate{Plan: "larder-redis:mini"}, ""},
		{"no plan", nil, "", api.AddonCreate{}, "no plan given"},
		{"no plan before dash", []string{"--", "--maxmemory_policy", "noeviction"}, "", api.AddonCreate{}, "no plan given"},
		{"option without dash", []string{"larder-redis:mini", "allkeys-lru"}, "", api.AddonCreate{}, `unexpected argument "allkeys-lru": provider options go after --`},
		{"policies differ", []string{"larder-redis:mini", "--", "--maxmemory_policy", "noeviction"}, "allkeys-lru", api.AddonCreate{}, "two maxmemory policies given"},
		{"unknown policy", []string{"larder-redis:mini"}, "lru", api.AddonCreate{}, `invalid maxmemory policy "lru"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := createRequest(tt.args, tt.policy)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(errMessage(err), tt.wantErr) {
					t.Fatalf("createRequest(%q, %q): got error %v, want %q", tt.args, tt.policy, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("createRequest(%q, %q): got %+v, %v; want %+v", tt.args, tt.policy, got, err, tt.want)
			}
		})
	}
}

func TestParseProviderConfig(t *testing.T) {
	tests := []struct {
		args    []string
		want    map[string]string
		wantErr string
	}{
		{nil, map[string]string{}, ""},
		{[]string{"--maxmemory_policy", "allkeys-lru"}, map[string]string{"maxmemory_policy": "allkeys-lru"}, ""},
		{[]string{"--maxmemory_policy=allkeys-lru"}, map[string]string{"maxmemory_policy": "allkeys-lru"}, ""},
		{[]string{"--version=7.2", "--tls"}, nil, "provider option --tls needs a value"},
		{[]string{"--maxmemory_policy"}, nil, "provider option --maxmemory_policy needs a value"},
		{[]string{"--maxmemory_policy", "--fork", "redis://h:1"}, nil, "provider option --maxmemory_policy needs a value"},
		{[]string{"--empty="}, map[string]string{"empty": ""}, ""},
		{[]string{"--x", "1", "--x", "2"}, map[string]string{"x": "2"}, ""},
		{[]string{"stray"}, nil, `unexpected argument "stray"`},
		{[]string{"--x", "1", "2"}, nil, `unexpected argument "2"`},
		{[]string{"-x"}, nil, `unexpected argument "-x"`},
		{[]string{"---x"}, nil, `unexpected argument "---x"`},
		{[]string{"--"}, nil, `unexpected argument "--"`},
		{[]string{"--=v"}, nil, `provider option "--=v" has no name`},
	}
	for _, tt := range tests {
		got, err := parseProviderConfig(tt.args)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(errMessage(err), tt.wantErr) {
				t.Errorf("parseProviderConfig(%q): got error %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseProviderConfig(%q): got %v, %v; want %v", tt.args, got, err, tt.want)
		}
	}
}

// errMessage is what report would print after "error: ".
func errMessage(err error) string {
	var u *cmdkit.BadUsage
	if errors.As(err, &u) {
		return u.Msg
	}
	return err.Error()
}

func FuzzParseProviderConfig(f *testing.F) {
	f.Add("--maxmemory_policy allkeys-lru")
	f.Add("--a=b --c")
	f.Fuzz(func(t *testing.T, line string) {
		config, err := parseProviderConfig(strings.Fields(line))
		if err == nil {
			for k := range config {
				if k == "" || strings.HasPrefix(k, "-") {
					t.Errorf("parseProviderConfig(%q): accepted key %q", line, k)
				}
			}
		}
	})
}

func TestAddForkFlag(t *testing.T) {
	req := api.AddonCreate{Plan: "larder-redis:mini"}
	if err := addForkFlag(&req, ""); err != nil || req.Config != nil {
		t.Fatalf("no --fork: %+v, %v", req, err)
	}
	if err := addForkFlag(&req, "redis://u:p@h:1"); err != nil || req.Config["fork"] != "redis://u:p@h:1" {
		t.Fatalf("--fork: %+v, %v", req, err)
	}
	if err := addForkFlag(&req, "redis://u:p@h:1"); err != nil {
		t.Errorf("the same source twice: %v", err)
	}
	if err := addForkFlag(&req, "app::REDIS"); err == nil || !strings.Contains(errMessage(err), "two fork sources") {
		t.Errorf("two sources: %v", err)
	}
	req, err := createRequest([]string{"larder-redis:mini", "--", "--fork", "app::REDIS"}, "")
	if err != nil || req.Config["fork"] != "app::REDIS" {
		t.Errorf("-- --fork: %+v, %v", req, err)
	}
}
