package cli

import (
	"bytes"
	"io"
	"larder/internal/testkit"
	"strings"
	"testing"
)

// runCLI runs the command line as the binary would, with stdin and no broker:
// the client points at a closed port, so a test that reaches it fails fast.
func runCLI(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	t.Setenv("LARDER_APP", "")
	t.Setenv("LARDER_API_URL", "http://127.0.0.1:1")
	t.Setenv("LARDER_API_TOKEN", "test")
	var out, errw bytes.Buffer
	code = Main(append([]string{"larder"}, args...), strings.NewReader(stdin), &out, &errw)
	return out.String(), errw.String(), code
}

// checkOutput runs write into a buffer and compares the text with want.
func checkOutput(t *testing.T, what string, write func(io.Writer) error, want string) {
	t.Helper()
	var b bytes.Buffer
	if err := write(&b); err != nil {
		t.Errorf("%s: %v", what, err)
	}
	if got := b.String(); got != want {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// syncBuffer is a buffer a goroutine (a spinner, a child's output copier)
// and the test may share.
// syncBuffer is testkit.SyncBuffer under this package's short name.
type syncBuffer = testkit.SyncBuffer
