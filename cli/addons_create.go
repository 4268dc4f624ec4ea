package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/catalog"
	"larder/cli/cmdkit"
	"larder/fault"
)

const addonsCreateUsage = "larder addons:create SERVICE:PLAN -a APP [--as NAME] [--name NAME] [--fork URL | --restore ID] [--wait] [-- --maxmemory_policy POLICY]"

func addonsCreateCommand(s *cmdkit.Session) *cli.Command {
	return &cli.Command{
		Name:      "addons:create",
		Category:  "add-ons",
		Usage:     "create an add-on and attach it to an app",
		UsageText: addonsCreateUsage,
		Description: "Provision SERVICE:PLAN (see `larder addons:plans larder-redis`) for the app.\n" +
			"The first Redis add-on of an app is attached as REDIS, giving it REDIS_URL;\n" +
			"--as picks another attachment name (--as CACHE gives CACHE_URL).\n\n" +
			"Provider options go after --, as on Heroku:\n\n" +
			"   larder addons:create larder-redis:mini -a web -- --maxmemory_policy allkeys-lru\n\n" +
			"--fork fills the new add-on with the data of another server: a redis:// or\n" +
			"rediss:// URL with user and password, or a larder add-on (APP::NAME). It\n" +
			"replicates until in sync, then stands alone; where the source refuses SYNC,\n" +
			"keys are copied with SCAN + DUMP/RESTORE. Settings are not copied:\n\n" +
			"   larder addons:create larder-redis:premium-0 -a web --fork redis://u:pw@host:6379 --wait\n\n" +
			"Without --wait the command returns while the add-on is being created;\n" +
			"`larder addons:info NAME` shows its progress.",
		Flags: []cli.Flag{
			cmdkit.AppFlag(),
			&cli.StringFlag{Name: "as", Usage: "name for the initial attachment, the prefix of its config vars"},
			&cli.StringFlag{Name: "name", Usage: "name for the add-on itself (generated when not given)"},
			&cli.BoolFlag{Name: "wait", Usage: "wait until the add-on is ready"},
			&cli.StringFlag{Name: "maxmemory_policy", Usage: "eviction policy, e.g. allkeys-lru (default noeviction)"},
			&cli.StringFlag{Name: "fork", Usage: "copy the data of a redis:// URL or larder add-on (APP::NAME) into the new add-on"},
			&cli.StringFlag{Name: "restore", Usage: "fill the new add-on from a backup (an id from larder redis:backups)"},
		},
		Action: func(c *cli.Context) error {
			app, err := cmdkit.RequireApp(c)
			if err != nil {
				return err
			}
			req, err := createRequest(c.Args().Slice(), c.String("maxmemory_policy"))
			if err != nil {
				return err
			}
			if err := addForkFlag(&req, c.String("fork")); err != nil {
				return err
			}
			if err := addRestoreFlag(&req, c.String("restore")); err != nil {
				return err
			}
			req.Attachment, req.Name = c.String("as"), c.String("name")
			cl, err := s.Client()
			if err != nil {
				return err
			}
			return createAddon(c.Context, s, cl, app, req, c.Bool("wait"))
		},
	}
}

func createAddon(ctx context.Context, s *cmdkit.Session, cl *api.Client, app string, req api.AddonCreate, wait bool) error {
	sp := s.StartSpinner(fmt.Sprintf("Creating %s on ⬢ %s", req.Plan, app))
	res, err := cl.CreateAddon(ctx, app, req)
	if err := sp.FinishErr(err); err != nil {
		return err
	}
	addon := res.Addon
	if op := res.Operation; op != nil && !op.Done() {
		if !wait {
			return writeCreatingInBackground(s.Stdout, addon.Name, app)
		}
		sp := s.StartSpinner(fmt.Sprintf("Waiting for %s", addon.Name))
		if _, err := cmdkit.WaitOperation(ctx, cl, addon.Name, op, sp, "created"); err != nil {
			return err
		}
		// The config vars are known for sure once provisioning is over.
		if fresh, err := cl.Addon(ctx, app, addon.Name); err == nil {
			addon = fresh
		}
	} else if op != nil && op.State == api.OpFailed {
		return fault.E(fault.Unavailable, "creating %s failed: %s", addon.Name, op.Error)
	} else if res.Message != "" {
		// A provider's message about work done at once; background work has our own words.
		fmt.Fprintln(s.Stdout, res.Message)
	}
	_, err = fmt.Fprintf(s.Stdout, "Created %s as %s\n", addon.Name, strings.Join(addon.ConfigVars, ", "))
	return err
}

func writeCreatingInBackground(w io.Writer, addon, app string) error {
	_, err := fmt.Fprintf(w, "%s is being created in the background. Its config vars will be set on ⬢ %s when it is ready.\n"+
		"Run larder addons:info %s to check creation progress.\n", addon, app, addon)
	return err
}

// createRequest reads SERVICE:PLAN and the provider options after "--" into
// a request; policy is the --maxmemory_policy flag.
func createRequest(args []string, policy string) (api.AddonCreate, error) {
	var req api.AddonCreate
	before, after, _ := cmdkit.SplitDash(args)
	switch {
	case len(before) == 0:
		return req, cmdkit.Usagef(addonsCreateUsage, "no plan given: name one, e.g. %s:mini", catalog.DefaultService)
	case len(before) > 1:
		return req, cmdkit.Usagef(addonsCreateUsage, "unexpected argument %q: provider options go after --, e.g. -- --maxmemory_policy allkeys-lru", before[1])
	}
	req.Plan = before[0]
	config, err := parseProviderConfig(after)
	if err != nil {
		return req, err
	}
	if policy != "" {
		if p, ok := config["maxmemory_policy"]; ok && p != policy {
			return req, cmdkit.Usagef(addonsCreateUsage, "two maxmemory policies given: %s and %s", policy, p)
		}
		config["maxmemory_policy"] = policy
	}
	if p, ok := config["maxmemory_policy"]; ok {
		if err := catalog.ValidateMaxMemoryPolicy(p); err != nil {
			return req, err
		}
	}
	if len(config) > 0 {
		req.Config = config
	}
	return req, nil
}

// parseProviderConfig reads provider options the way Heroku's CLI does:
// --key=value and --key value. Every larder option takes a value, so a bare
// --key is an error rather than Heroku's "true": `-- --maxmemory_policy`
// with the policy forgotten must not become a policy named "true".
func parseProviderConfig(args []string) (map[string]string, error) {
	config := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		key, ok := strings.CutPrefix(a, "--")
		if !ok || key == "" || strings.HasPrefix(key, "-") {
			return nil, cmdkit.Usagef(addonsCreateUsage, "unexpected argument %q: provider options look like --maxmemory_policy allkeys-lru", a)
		}
		if k, v, ok := strings.Cut(key, "="); ok {
			if k == "" {
				return nil, cmdkit.Usagef(addonsCreateUsage, "provider option %q has no name", a)
			}
			config[k] = v
			continue
		}
		if i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
			config[key] = args[i+1]
			i++
			continue
		}
		return nil, cmdkit.Usagef(addonsCreateUsage, "provider option --%s needs a value, e.g. --%s=VALUE", key, key)
	}
	return config, nil
}

// addForkFlag puts --fork into the provider options, where `-- --fork URL`
// (Heroku's form) puts it too.
func addForkFlag(req *api.AddonCreate, fork string) error {
	return addOptionFlag(req, "fork", fork, "fork sources")
}

// addRestoreFlag puts --restore (a backup's id: the new add-on is filled
// from it) into the provider options, where `-- --restore ID` puts it too.
func addRestoreFlag(req *api.AddonCreate, id string) error {
	if id == "" {
		return nil
	}
	if err := cmdkit.CheckArg(addonsCreateUsage, api.BackupID, id); err != nil {
		return err
	}
	return addOptionFlag(req, "restore", id, "backups")
}

// addOptionFlag puts a flag's value into the provider options under key,
// refusing a different value given after -- too (what names them).
func addOptionFlag(req *api.AddonCreate, key, value, what string) error {
	if value == "" {
		return nil
	}
	if v, ok := req.Config[key]; ok && v != value {
		return cmdkit.Usagef(addonsCreateUsage, "two %s given: use --%s or -- --%s, not both", what, key, key)
	}
	if req.Config == nil {
		req.Config = map[string]string{}
	}
	req.Config[key] = value
	return nil
}
