package testkit

import (
	"fmt"
	"os/exec"
	"path/filepath"
)

// BuildLarder builds larder's two commands into dir, as `make build` does:
// the larder command line and larder-server beside it, which larder runs for
// its server roles (`larder broker`, `agent`, …). It returns larder's path.
func BuildLarder(dir string) (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("no go tool on PATH to build larder: %w", err)
	}
	cmd := exec.Command(goTool, "build", "-tags=urfave_cli_no_docs", "-o", dir+string(filepath.Separator), "larder/cmd/larder", "larder/cmd/larder-server")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build larder: %v\n%s", err, out)
	}
	return filepath.Join(dir, "larder"), nil
}
