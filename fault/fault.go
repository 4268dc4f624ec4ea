// Package fault defines the handful of error kinds larder's packages share, so that
// the broker can map any error to an HTTP status in one place and the CLI can tell a
// missing add-on from an unreachable broker without parsing messages.
//
// A fault carries a public message, safe to show to a user (it never holds a secret),
// and optionally wraps an internal cause that only goes to logs.
package fault

import (
	"errors"
	"fmt"
)

// Kind classifies an error. Kinds are compared with errors.Is.
type Kind string

// Error makes a Kind usable as a sentinel: errors.Is(err, fault.NotFound).
func (k Kind) Error() string { return string(k) }

// The kinds. Their string values are the `id` field of the broker's JSON errors.
const (
	Invalid      Kind = "invalid_params"        // the request names something impossible
	BadRequest   Kind = "bad_request"           // the request could not be read (malformed JSON)
	NotFound     Kind = "not_found"             // the thing named does not exist
	Conflict     Kind = "conflict"              // it exists already, or is in a state that forbids this
	Ambiguous    Kind = "multiple_matches"      // a name matched more than one thing
	Confirmation Kind = "confirmation_required" // a destructive action needs --confirm
	Unauthorized Kind = "unauthorized"          // missing or wrong credentials
	Unavailable  Kind = "unavailable"           // a dependency (node, host, engine) cannot serve now
	TooMany      Kind = "too_many_requests"     // the caller is at its cap of open requests
	Internal     Kind = "internal_error"        // a bug or an unexpected failure
)

// Error is an error of a given kind with a message fit for users.
type Error struct {
	Kind    Kind
	Message string // public: shown to users, never contains secrets
	Err     error  // internal cause, for logs; may be nil
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap exposes both the kind and the cause to errors.Is/As.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

// E builds a fault with a formatted public message.
func E(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// Wrap builds a fault whose public message is msg and whose cause is err.
func Wrap(k Kind, err error, msg string) error {
	return &Error{Kind: k, Message: msg, Err: err}
}

// KindOf reports the kind of err: the kind of the outermost fault in its chain,
// or Internal when it carries none.
func KindOf(err error) Kind {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Kind
	}
	var k Kind
	if errors.As(err, &k) {
		return k
	}
	return Internal
}

// Message returns the public message of err: the outermost fault's message, or a
// generic text for errors that carry none (their details may hold internals).
func Message(err error) string {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Message
	}
	return "internal error"
}
