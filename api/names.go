package api

import (
	"fmt"
	"net/url"
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
	ok   func(string) bool
	rule string // shown to the user
}

// The rules are written as shapes rather than regular expressions: a
// bounded repetition such as {1,127} makes a large program, and compiling
// them all cost every run of the CLI 3 ms at start.
var nameRules = map[NameKind]nameRule{
	AppName:        {appName.match, "2-30 lowercase letters, digits and dashes, starting with a letter"},
	AddonName:      {shape{lower, lower | digit | dash, 2, 63}.match, "2-63 lowercase letters, digits and dashes, starting with a letter"},
	AddonRef:       {matchAddonRef, "an add-on name, an attachment name such as REDIS, a config var such as REDIS_URL, a part of one, or APP::NAME: letters, digits, '-' and '_'"},
	AttachmentName: {shape{upper, upper | digit | underscore, 1, 63}.match, "letters, digits and underscores, starting with a letter"},
	HostName:       {shape{lower, lower | digit | dash, 1, 63}.match, "1-63 lowercase letters, digits and dashes, starting with a letter"},
	ServiceName:    {shape{lower, lower | digit | dash, 2, 63}.match, "lowercase letters, digits and dashes, starting with a letter"},
	OperationID:    {shape{letter | digit | dash, letter | digit | dash, 1, 64}.match, "the id an operation was given (letters, digits and dashes)"},
	BackupID:       {matchBackupID, "a backup's id such as b001 or a012 (larder redis:backups lists them)"},
}

var appName = shape{lower, lower | digit | dash, 2, 30}

// class is a set of ASCII characters a name may hold.
type class uint8

const (
	lower class = 1 << iota
	upper
	digit
	dash
	underscore
	letter = lower | upper
)

func (c class) has(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z':
		return c&lower != 0
	case 'A' <= b && b <= 'Z':
		return c&upper != 0
	case '0' <= b && b <= '9':
		return c&digit != 0
	case b == '-':
		return c&dash != 0
	case b == '_':
		return c&underscore != 0
	}
	return false
}

// shape is a name's rule: its first character from first, the others from
// rest, and min to max characters in all.
type shape struct {
	first, rest class
	min, max    int
}

func (p shape) match(s string) bool {
	if len(s) < p.min || len(s) > p.max || !p.first.has(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !p.rest.has(s[i]) {
			return false
		}
	}
	return true
}

// matchBackupID accepts a or b (scheduled, on demand) and 3 to 18 digits.
func matchBackupID(s string) bool {
	return len(s) >= 4 && (s[0] == 'a' || s[0] == 'b') && shape{digit, digit, 3, 18}.match(s[1:])
}

// matchAddonRef accepts NAME or APP::NAME, NAME being an add-on name, an
// attachment name, a config var or a part of one.
func matchAddonRef(s string) bool {
	if app, ref, ok := strings.Cut(s, "::"); ok {
		if !appName.match(app) {
			return false
		}
		s = ref
	}
	return shape{letter | digit, letter | digit | dash | underscore, 1, 128}.match(s)
}

// CheckName returns an Invalid fault that states kind's rule when s breaks it.
func CheckName(kind NameKind, s string) error {
	r, ok := nameRules[kind]
	if !ok {
		return CheckSegment(s)
	}
	if !r.ok(s) {
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
