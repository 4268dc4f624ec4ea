package rediscmd

import (
	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
)

// updateSettings is the shared body of redis:maxmemory, redis:timeout and
// redis:keyspace-notifications: find the add-on, change one setting, and
// return the settings the broker now reports.
func updateSettings(s *cmdkit.Session, c *cli.Context, usage string, patch api.SettingsPatch) (cmdkit.Target, api.Settings, error) {
	t, err := s.ResolveRedis(c, usage)
	if err != nil {
		return t, api.Settings{}, err
	}
	got, err := t.Client.UpdateSettings(c.Context, t.App, t.Addon.Name, patch)
	return t, got, err
}
