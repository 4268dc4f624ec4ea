package cli

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/fault"
)

// redisTarget is the add-on a redis:* command acts on, found from the
// command's [NAME] argument on -a APP.
type redisTarget struct {
	app   string
	addon api.Addon
	cl    *api.Client
}

// label names the add-on the way Heroku's redis commands do, with the config
// vars it gives this app: `redis-swift-12345 (REDIS_URL, CACHE_URL)`.
func (t redisTarget) label() string { return addonLabel(t.addon, t.app) }

// resolveRedis reads -a APP and the optional NAME of a redis:* command and
// finds the add-on. Commands check their own flags first, so that a mistyped
// flag is reported without asking the broker anything.
func (s *session) resolveRedis(c *cli.Context, usage string) (redisTarget, error) {
	if _, err := requireApp(c); err != nil {
		return redisTarget{}, err
	}
	ref, err := optionalArg(c, usage)
	if err != nil {
		return redisTarget{}, err
	}
	return s.resolveRedisRef(c, usage, ref)
}

// resolveRedisRef is resolveRedis with the add-on's NAME (or "") read by
// the caller, for commands that take another argument first.
func (s *session) resolveRedisRef(c *cli.Context, usage, ref string) (redisTarget, error) {
	app, err := requireApp(c)
	if err != nil {
		return redisTarget{}, err
	}
	if ref != "" {
		if err := checkArg(usage, api.AddonRef, ref); err != nil {
			return redisTarget{}, err
		}
	}
	cl, err := s.client()
	if err != nil {
		return redisTarget{}, err
	}
	t := redisTarget{app: app, cl: cl}
	if ref != "" {
		t.addon, err = cl.Addon(c.Context, app, ref)
		return t, err
	}
	addons, err := cl.Addons(c.Context, app)
	if err != nil {
		return t, err
	}
	t.addon, err = defaultRedis(addons, app)
	return t, err
}

// optionalArg returns the command's one optional argument, "" when absent.
func optionalArg(c *cli.Context, usage string) (string, error) {
	switch a := args(c); len(a) {
	case 0:
		return "", nil
	case 1:
		return a[0], nil
	default:
		return "", Usagef(usage, "unexpected argument %q", a[1])
	}
}

// defaultRedis picks the add-on a redis:* command means when no NAME is given:
// the app's only add-on, or else the one attached as REDIS. Heroku's CLI
// refuses any app with two Redis add-ons when no name is given, although its
// help says the primary is the default.
func defaultRedis(addons []api.Addon, app string) (api.Addon, error) {
	switch len(addons) {
	case 0:
		return api.Addon{}, fault.E(fault.NotFound,
			"⬢ %s has no Redis add-ons; create one with: larder addons:create larder-redis:mini -a %s", app, app)
	case 1:
		return addons[0], nil
	}
	var labels []string
	for _, a := range addons {
		for _, at := range a.Attachments {
			if at.App.Name == app && at.Name == "REDIS" {
				return a, nil
			}
		}
		labels = append(labels, addonLabel(a, app))
	}
	return api.Addon{}, fault.E(fault.Ambiguous,
		"⬢ %s has %d Redis add-ons and none is attached as REDIS; name one: %s", app, len(addons), strings.Join(labels, ", "))
}

// addonLabel is `name (VAR, VAR)` with the config vars the add-on gives app,
// or the bare name when it gives none.
func addonLabel(a api.Addon, app string) string {
	vars := varsOnApp(a, app)
	if len(vars) == 0 {
		return a.Name
	}
	return fmt.Sprintf("%s (%s)", a.Name, strings.Join(vars, ", "))
}

// varsOnApp lists the config vars the add-on's attachments give app.
func varsOnApp(a api.Addon, app string) []string {
	var vars []string
	for _, at := range a.Attachments {
		if at.App.Name == app {
			vars = append(vars, at.ConfigVars...)
		}
	}
	if len(vars) == 0 && a.App.Name == app {
		vars = a.ConfigVars // an answer without attachments still names the owner's vars
	}
	return vars
}

// updateSettings is the shared body of redis:maxmemory, redis:timeout and
// redis:keyspace-notifications: find the add-on, change one setting, and
// return the settings the broker now reports.
func (s *session) updateSettings(c *cli.Context, usage string, patch api.SettingsPatch) (redisTarget, api.Settings, error) {
	t, err := s.resolveRedis(c, usage)
	if err != nil {
		return t, api.Settings{}, err
	}
	got, err := t.cl.UpdateSettings(c.Context, t.app, t.addon.Name, patch)
	return t, got, err
}
