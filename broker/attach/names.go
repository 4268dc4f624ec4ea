// Package attach holds the rules of add-on and attachment names (colored
// attachment names, references like app::NAME) and of the config vars an
// attachment gives an app (its URL), which users may not change themselves.
package attach

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strings"

	"larder/api"
	"larder/fault"
	"larder/store"
)

// Colors is the fixed, ordered palette of attachment names after the first: an
// app's second add-on of a service gets the first color not yet used on that app
// (deterministic, as Dokku does it), so the names are predictable in scripts.
var Colors = []string{
	"AMBER", "AQUA", "BLUE", "BRONZE", "BROWN", "COBALT", "COPPER", "CRIMSON",
	"CYAN", "GOLD", "GRAY", "GREEN", "LIME", "MAROON", "NAVY", "OLIVE",
	"ONYX", "ORANGE", "PINK", "PUCE", "PURPLE", "RED", "SILVER", "TEAL", "WHITE", "YELLOW",
}

// PrimaryAttachment is the name of an app's main add-on of the service: REDIS_URL.
const PrimaryAttachment = "REDIS"

// maxVarName bounds a config var name.
const maxVarName = 128

// varNameRe has no bounded repetition (cheap to compile at start); the
// length is checked beside it.
var varNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Names follow the rules of package api, which the CLI checks too.
func ValidAttachmentName(s string) bool { return api.CheckName(api.AttachmentName, s) == nil }

func CheckAppName(name string) error { return api.CheckName(api.AppName, name) }

func CheckAddonName(name string) error { return api.CheckName(api.AddonName, name) }

// CheckAttachmentName validates an --as name. Names are upper-cased first, as
// Heroku does, so `--as cache` gives CACHE_URL.
func CheckAttachmentName(name string) (string, error) {
	up := strings.ToUpper(strings.TrimSpace(name))
	up = strings.TrimSuffix(up, "_URL")
	if err := api.CheckName(api.AttachmentName, up); err != nil {
		return "", fault.E(fault.Invalid, "invalid attachment name %q: use letters, digits and underscores, starting with a letter", name)
	}
	return up, nil
}

var adjectives = []string{
	"amber", "ancient", "autumn", "billowing", "bold", "brave", "bright", "calm", "clever", "cold",
	"cosmic", "crisp", "curved", "daring", "deep", "dry", "eager", "elegant", "fast", "fluffy",
	"fresh", "gentle", "golden", "graceful", "green", "happy", "hidden", "humble", "icy", "jolly",
	"keen", "kind", "lively", "lucky", "misty", "noble", "opaque", "polished", "proud", "quiet",
	"rapid", "rugged", "shiny", "silent", "slippery", "solid", "spherical", "steady", "sunny", "tidy",
	"transparent", "vast", "vivid", "warm", "wild", "witty", "zesty",
}

// NewAddonName returns a name in Heroku's style: redis-curved-41235.
func NewAddonName() string {
	a, _ := rand.Int(rand.Reader, big.NewInt(int64(len(adjectives))))
	n, _ := rand.Int(rand.Reader, big.NewInt(90000))
	return fmt.Sprintf("redis-%s-%05d", adjectives[a.Int64()], 10000+n.Int64())
}

// NextAttachmentName picks the name of a new attachment of the service on an
// app that already has the attachment names in used: REDIS first, then
// PREFIX_COLOR in palette order, then PREFIX_COLOR_2 … once every color is used.
func NextAttachmentName(prefix string, used map[string]bool) string {
	if !used[PrimaryAttachment] {
		return PrimaryAttachment
	}
	for round := 1; ; round++ {
		for _, c := range Colors {
			name := prefix + "_" + c
			if round > 1 {
				name = fmt.Sprintf("%s_%d", name, round)
			}
			if !used[name] {
				return name
			}
		}
	}
}

// candidate is one way a reference could name an add-on.
type candidate struct {
	addonID, addonName string
	label              string // how it is shown in an ambiguity error: app::ATTACHMENT or the add-on name
}

// ResolveRef finds the one add-on a user's reference names, in the context of
// app's attachments (atts) and of every add-on's name (addons). A reference may
// be an add-on name, an attachment name on the app, a config var of the app
// (CACHE_URL) or, with app::NAME, any of those on another app; the caller
// passes that app's attachments. Exact matches win over prefix matches, and
// prefix matches over substring ones (AMBER finds LARDER_REDIS_AMBER), so a
// name that is the prefix of another stays selectable.
func ResolveRef(ref, appName string, atts []store.Attachment, addons []store.Addon) (string, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return "", fault.E(fault.Invalid, "no add-on named; give an add-on name, an attachment name such as REDIS, or APP::NAME")
	}
	var exact, prefix, substr []candidate
	add := func(list *[]candidate, c candidate) {
		for _, have := range *list {
			if have.addonID == c.addonID {
				return
			}
		}
		*list = append(*list, c)
	}
	upper := strings.ToUpper(ref)
	for _, at := range atts {
		c := candidate{at.AddonID, at.AddonName, at.AppName + "::" + at.Name}
		switch {
		case at.Name == upper, at.Name+"_URL" == upper, at.Name+"_TLS_URL" == upper:
			add(&exact, c)
		case strings.HasPrefix(at.Name, upper):
			add(&prefix, c)
		case strings.Contains(at.Name, upper):
			add(&substr, c)
		}
	}
	for _, a := range addons {
		c := candidate{a.ID, a.Name, a.Name}
		switch {
		case a.Name == ref:
			add(&exact, c)
		case strings.HasPrefix(a.Name, ref):
			add(&prefix, c)
		case strings.Contains(a.Name, ref):
			add(&substr, c)
		}
	}
	for _, set := range [][]candidate{exact, prefix, substr} {
		switch len(set) {
		case 0:
			continue
		case 1:
			return set[0].addonID, nil
		default:
			var labels []string
			for _, c := range set {
				labels = append(labels, c.label)
			}
			sort.Strings(labels)
			return "", fault.E(fault.Ambiguous, "%q matches more than one add-on on %s: %s; use the add-on name", ref, appName, strings.Join(labels, ", "))
		}
	}
	return "", fault.E(fault.NotFound, "no add-on %s on %s", ref, appName)
}
