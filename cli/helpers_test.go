package cli

import (
	"bytes"
	"strings"
	"testing"

	"larder/internal/testkit"
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

// checkOutput is testkit.CheckOutput under this package's short name.
var checkOutput = testkit.CheckOutput
