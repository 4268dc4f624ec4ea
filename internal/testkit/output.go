package testkit

import (
	"bytes"
	"io"
	"testing"
)

// CheckOutput runs write into a buffer and compares the text with want;
// what names the output in the failure.
func CheckOutput(tb testing.TB, what string, write func(io.Writer) error, want string) {
	tb.Helper()
	var b bytes.Buffer
	if err := write(&b); err != nil {
		tb.Errorf("%s: %v", what, err)
	}
	if got := b.String(); got != want {
		tb.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}
