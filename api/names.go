package api

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode"

	"larder/fault"
)

// NameKind is what a name names. The broker checks every name it is sent
// (in a path or a body) against its kind's rule and answers 422 with the
// rule; the client checks the same rules before it sends anything, so a bad
// name never becomes a request that does something else.
type NameKind string

// The kinds of names larder's API carries.
const (
	AppName        NameKind = "app"
	AddonName      NameKind = "add-on"           // an add-on's own name: redis-curved-41235
	AddonRef       NameKind = "add-on reference" // a name, attachment, config var, part of one, or APP::NAME
	AttachmentName NameKind = "attachment"       // REDIS, LARDER_REDIS_AMBER (CACHE is upper-cased first)
	HostName       NameKind = "host"             // an agent's name
	ServiceName    NameKind = "service"          // larder-redis
	OperationID    NameKind = "operation id"     // a UUID
	BackupID       NameKind = "backup id"        // b001 (on demand), a001 (scheduled)
)

// maxNameLength bounds the part of a name a message quotes.
const maxNameLength = 128

type nameRule struct {
	re   *regexp.Regexp
	rule string // shown to the user
}

var nameRules = map[NameKind]nameRule{
	AppName:        {regexp.MustCompile(`^[a-z][a-z0-9-]{1,29}$`), "2-30 lowercase letters, digits and dashes, starting with a letter"},
	AddonName:      {regexp.MustCompile(`^[a-z][a-z0-9-]{1,62}$`), "2-63 lowercase letters, digits and dashes, starting with a letter"},
	AddonRef:       {regexp.MustCompile(`^([a-z][a-z0-9-]{1,29}::)?[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`), "an add-on name, an attachment name such as REDIS, a config var such as REDIS_URL, a part of one, or APP::NAME: letters, digits, '-' and '_'"},
	AttachmentName: {regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,62}$`), "letters, digits and underscores, starting with a letter"},
	HostName:       {regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`), "1-63 lowercase letters, digits and dashes, starting with a letter"},
	ServiceName:    {regexp.MustCompile(`^[a-z][a-z0-9-]{1,62}$`), "lowercase letters, digits and dashes, starting with a letter"},
	OperationID:    {regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`), "the id an operation was given (letters, digits and dashes)"},
	BackupID:       {regexp.MustCompile(`^[ab][0-9]{3,18}$`), "a backup's id such as b001 or a012 (larder redis:backups lists them)"},
}

// CheckName returns an Invalid fault that states kind's rule when s breaks it.
func CheckName(kind NameKind, s string) error {
	r, ok := nameRules[kind]
	if !ok {
		return CheckSegment(s)
	}
	if !r.re.MatchString(s) {
		return fault.E(fault.Invalid, "invalid %s name %s: use %s", kind, quoteName(s), r.rule)
	}
	return nil
}

// NameRule says what a valid name of kind looks like.
func NameRule(kind NameKind) string { return nameRules[kind].rule }

// CheckSegment reports a path segment that would not reach the broker as
// itself: empty, "." or "..", or holding a slash, white space or a control
// character (once unescaped). HTTP clients and routers rewrite such paths,
// for instance into a redirect to another resource.
func CheckSegment(s string) error {
	bad := ""
	switch {
	case s == "":
		bad = "is empty"
	case s == "." || s == "..":
		bad = "is a dot segment"
	case len(s) > 4*maxNameLength:
		bad = "is too long"
	case strings.ContainsAny(s, "/\\"):
		bad = "holds a slash"
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		bad = "holds white space or a control character"
	}
	if bad != "" {
		return fault.E(fault.Invalid, "invalid name %s: it %s; names are letters, digits, '-' and '_'", quoteName(s), bad)
	}
	return nil
}

// checkPath checks every segment of an API path (as the client builds it,
// escaped) before it is sent.
func checkPath(path string) error {
	p, _, _ := strings.Cut(path, "?")
	for _, seg := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		s, err := url.PathUnescape(seg)
		if err != nil {
			return fault.E(fault.Invalid, "invalid name %s: bad escape", quoteName(seg))
		}
		if err := CheckSegment(s); err != nil {
			return err
		}
	}
	return nil
}

// quoteName quotes a name for a message, bounded and with control characters
// escaped, so a hostile name cannot forge lines in a terminal or a log.
func quoteName(s string) string {
	if len(s) > maxNameLength {
		s = s[:maxNameLength] + "…"
	}
	return fmt.Sprintf("%q", s)
}
