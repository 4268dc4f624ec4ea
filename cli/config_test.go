package cli

import (
	"io"
	"os/exec"
	"testing"

	"larder/api"
	"larder/internal/testkit"
)

var testVars = api.ConfigVars{
	"REDIS_URL": "redis://default:s3cret@127.0.0.1:21000",
	"GREETING":  "hello world",
	"QUOTE":     "it's",
	"EMPTY":     "",
}

func TestWriteVars(t *testing.T) {
	want := "" +
		"EMPTY:\n" +
		"GREETING:  hello world\n" +
		"QUOTE:     it's\n" +
		"REDIS_URL: redis://default:s3cret@127.0.0.1:21000\n"
	testkit.CheckOutput(t, "config", func(w io.Writer) error { return writeVars(w, testVars) }, want)
}

func TestWriteShellVars(t *testing.T) {
	want := "" +
		"EMPTY=''\n" +
		"GREETING='hello world'\n" +
		"QUOTE='it'\\''s'\n" +
		"REDIS_URL=redis://default:s3cret@127.0.0.1:21000\n"
	testkit.CheckOutput(t, "config --shell", func(w io.Writer) error { return writeShellVars(w, testVars) }, want)
}

func TestShellQuoteRoundTrip(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	for _, v := range []string{"", "plain", "a b", "it's", `"$HOME"`, "`id`", "a\nb", "x;y|z&", "redis://u:p@h:1/0?x=1"} {
		out, err := exec.Command(sh, "-c", "printf %s "+shellQuote(v)).Output()
		if err != nil || string(out) != v {
			t.Errorf("sh printf %s: got %q, %v; want %q", shellQuote(v), out, err, v)
		}
	}
}
