package cmdkit

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/fault"
)

// Target is the add-on a redis:* command acts on, found from the
// command's [NAME] argument on -a APP, with the client that found it.
type Target struct {
	App    string
	Addon  api.Addon
	Client *api.Client
}

// Label names the add-on the way Heroku's redis commands do, with the config
// vars it gives this app: `redis-swift-12345 (REDIS_URL, CACHE_URL)`.
func (t Target) Label() string { return addonLabel(t.Addon, t.App) }

// ResolveRedis reads -a APP and the optional NAME of a redis:* command and
// finds the add-on. Commands check their own flags first, so that a mistyped
// flag is reported without asking the broker anything.
func (s *Session) ResolveRedis(c *cli.Context, usage string) (Target, error) {
	if _, err := RequireApp(c); err != nil {
		return Target{}, err
	}
	ref, err := OptionalArg(c, usage)
	if err != nil {
		return Target{}, err
	}
	return s.ResolveRedisRef(c, usage, ref)
}

// ResolveRedisRef is ResolveRedis with the add-on's NAME (or "") read by
// the caller, for commands that take another argument first.
func (s *Session) ResolveRedisRef(c *cli.Context, usage, ref string) (Target, error) {
	app, err := RequireApp(c)
	if err != nil {
		return Target{}, err
	}
	if ref != "" {
		if err := CheckArg(usage, api.AddonRef, ref); err != nil {
			return Target{}, err
		}
	}
	cl, err := s.Client()
	if err != nil {
		return Target{}, err
	}
	t := Target{App: app, Client: cl}
	if ref != "" {
		t.Addon, err = cl.Addon(c.Context, app, ref)
		return t, err
	}
	addons, err := cl.Addons(c.Context, app)
	if err != nil {
		return t, err
	}
	t.Addon, err = defaultRedis(addons, app)
	return t, err
}

// OptionalArg returns the command's one optional argument, "" when absent.
func OptionalArg(c *cli.Context, usage string) (string, error) {
	switch a := Args(c); len(a) {
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
