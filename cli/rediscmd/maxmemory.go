package rediscmd

import (
	"cmp"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/catalog"
	"larder/cli/cmdkit"
)

// Maxmemory is `larder redis:maxmemory`.
func Maxmemory(s *cmdkit.Session) *cli.Command {
	const usage = "larder redis:maxmemory [NAME] -a APP -p POLICY"
	return &cli.Command{
		Name:      "redis:maxmemory",
		Category:  "redis",
		Usage:     "set the key eviction policy for when memory is full",
		UsageText: usage,
		Description: "Changes the running node's maxmemory-policy at once, no restart. Policies:\n\n" +
			policyList("   ") +
			"\nNAME defaults to the app's only add-on, or the one attached as REDIS.",
		Flags: []cli.Flag{
			cmdkit.AppFlag(),
			&cli.StringFlag{Name: "policy", Aliases: []string{"p"}, Usage: "the eviction policy, e.g. allkeys-lru"},
		},
		Action: func(c *cli.Context) error {
			policy := c.String("policy")
			if _, err := policyDescription(policy, usage); err != nil {
				return err
			}
			t, got, err := updateSettings(s, c, usage, api.SettingsPatch{MaxMemoryPolicy: &policy})
			if err != nil {
				return err
			}
			return writeMaxmemory(s.Stdout, t.Label(), cmp.Or(got.MaxMemoryPolicy, policy))
		},
	}
}

// policyDescription returns what a maxmemory policy does, or a usage error
// listing the policies.
func policyDescription(policy, usage string) (string, error) {
	if policy == "" {
		return "", cmdkit.Usagef(usage, "no policy given: add -p POLICY, e.g. -p allkeys-lru")
	}
	for _, p := range catalog.MaxMemoryPolicies {
		if p.Name == policy {
			return p.Description, nil
		}
	}
	return "", cmdkit.UsageError(fmt.Sprintf("invalid maxmemory policy %q", policy), "valid policies:\n"+strings.TrimSuffix(policyList("  "), "\n"))
}

// policyList is one `name  description` line per policy, names aligned.
func policyList(indent string) string {
	width := 0
	for _, p := range catalog.MaxMemoryPolicies {
		width = max(width, len(p.Name))
	}
	var b strings.Builder
	for _, p := range catalog.MaxMemoryPolicies {
		fmt.Fprintf(&b, "%s%-*s  %s\n", indent, width, p.Name, p.Description)
	}
	return b.String()
}

// writeMaxmemory prints Heroku's two lines: the new policy, then what it does.
func writeMaxmemory(w io.Writer, label, policy string) error {
	desc, err := policyDescription(policy, "")
	if err != nil {
		desc = "(a policy this larder does not know)" // the broker knows more than this CLI
	}
	_, err = fmt.Fprintf(w, "Maxmemory policy for %s set to %s.\n%s %s.\n", label, policy, policy, desc)
	return err
}
