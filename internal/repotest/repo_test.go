package repotest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// root is the repository's top directory.
func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestNoLargeTrackedFiles: build outputs never land in git (a committed
// binary once did); .ci/run refuses the same before anything else runs.
func TestNoLargeTrackedFiles(t *testing.T) {
	dir := root(t)
	out, err := exec.Command("git", "-C", dir, "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("skipping: not a git checkout (%v)", err)
	}
	for _, name := range bytes.Split(bytes.TrimRight(out, "\x00"), []byte{0}) {
		fi, err := os.Stat(filepath.Join(dir, string(name)))
		if err != nil {
			continue // deleted in the work tree, not yet committed
		}
		if fi.Size() > 1_000_000 {
			t.Errorf("%s is tracked and %d bytes; build outputs and large files do not belong in git", name, fi.Size())
		}
	}
}

// TestReadmeGoVersion: the README names the Go version go.mod asks for.
func TestReadmeGoVersion(t *testing.T) {
	dir := root(t)
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)(\.\d+)?$`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "Go " + string(m[1]); !strings.Contains(string(readme), want) {
		t.Errorf("README.md does not say it needs %s (go.mod: %s)", want, m[0])
	}
}

// TestNoConflictMarkers: a merge once committed both halves of a Makefile
// rule with its markers, and CI stopped at make's parse. No tracked text file
// may carry a line that is a merge conflict marker.
func TestNoConflictMarkers(t *testing.T) {
	dir := root(t)
	out, err := exec.Command("git", "-C", dir, "grep", "-nI", "-E", `^(<<<<<<< |>>>>>>> |=======$)`).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
			return // git grep found nothing
		}
		t.Skipf("skipping: not a git checkout (%v)", err)
	}
	t.Errorf("merge conflict markers are tracked:\n%s", out)
}
