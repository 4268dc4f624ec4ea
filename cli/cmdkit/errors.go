package cmdkit

import (
	"errors"
	"fmt"

	"larder/fault"
)

// BadUsage is a mistake in how a command was typed; Hint says what to type.
type BadUsage struct {
	Msg, Hint string
}

func (e *BadUsage) Error() string { return e.Msg }

// UsageError reports a usage mistake, msg, with what to type instead.
func UsageError(msg, hint string) error { return &BadUsage{Msg: msg, Hint: hint} }

// Usagef is UsageError with a formatted message and the command's usage line.
func Usagef(usage, format string, args ...any) error {
	return UsageError(fmt.Sprintf(format, args...), "usage: "+usage)
}

// InterruptedError ends a command the user stopped, saying what carries on.
type InterruptedError struct{ Msg string }

func (e *InterruptedError) Error() string { return e.Msg }

// ErrorText is what a user is told of err: a fault's public message, without
// its internal cause; any other error is a local failure (decoding an answer,
// writing output) on the user's own machine, so it is said as it is.
func ErrorText(err error) string {
	var fe *fault.Error
	if errors.As(err, &fe) {
		return fe.Message
	}
	return err.Error()
}
