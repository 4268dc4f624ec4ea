// Package engine is one Valkey/Redis process and how larder talks to it:
// discovery of the server binary (an Engine is a launcher: its path, kind
// and version), rendering and validating a node's config and ACL files,
// starting and stopping the process, the RESP admin client, INFO parsed once
// into a typed Info, and the replication commands (Replication, Promote,
// Follow, Switchover, Fork…) that go straight to a node wherever its host is.
//
// It knows nothing of hosts, supervision or the store.
package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"larder/fault"
)

// EnvVar names the environment variable that overrides engine discovery: a
// path to a server binary, or a name looked up on PATH.
const EnvVar = "LARDER_ENGINE"

// MinMajor is the oldest engine major version larder runs: ACL selectors,
// `&*` channel rules, appenddirname and proc-title-template all need 7.
const MinMajor = 7

// ErrNoEngine is wrapped by Discover when neither valkey-server nor
// redis-server can be found.
var ErrNoEngine = errors.New("no valkey-server or redis-server found")

// Discover finds the server binary nodes run: LARDER_ENGINE if set, else
// valkey-server on PATH, else redis-server. It reads the version from the
// binary itself and refuses engines older than 7.
func Discover() (Engine, error) {
	return discover(os.Getenv, exec.LookPath, versionOutput)
}

// discover is Discover with its outside world injected, for tests.
func discover(
	getenv func(string) string,
	lookPath func(string) (string, error),
	version func(path string) (string, error),
) (Engine, error) {
	var candidates []string
	if v := strings.TrimSpace(getenv(EnvVar)); v != "" {
		candidates = []string{v}
	} else {
		candidates = []string{"valkey-server", "redis-server"}
	}
	var path string
	for _, c := range candidates {
		p, err := lookPath(c)
		if err != nil {
			continue
		}
		path = p
		break
	}
	if path == "" {
		if len(candidates) == 1 {
			return Engine{}, fault.Wrap(fault.Unavailable, ErrNoEngine,
				fmt.Sprintf("engine %q from %s is not an executable file (set it to a valkey-server or redis-server path)", candidates[0], EnvVar))
		}
		return Engine{}, fault.Wrap(fault.Unavailable, ErrNoEngine,
			"no engine found: install Valkey (apt-get install valkey-server) or Redis 7+ (apt-get install redis-server), or set "+EnvVar+" to a server binary")
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	out, err := version(path)
	if err != nil {
		return Engine{}, fmt.Errorf("read engine version of %s: %w", path, err)
	}
	name, ver, major, err := parseVersion(out)
	if err != nil {
		return Engine{}, fmt.Errorf("read engine version of %s: %w", path, err)
	}
	if name == "" {
		name = "redis"
		if strings.Contains(strings.ToLower(filepath.Base(path)), "valkey") {
			name = "valkey"
		}
	}
	if major < MinMajor {
		return Engine{}, fault.E(fault.Unavailable,
			"engine %s is %s %s; larder needs version %d or newer (install valkey-server, or redis-server 7+)",
			path, name, ver, MinMajor)
	}
	return Engine{Name: name, Path: path, Version: ver}, nil
}

// versionOutput runs `<path> --version`.
func versionOutput(path string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("run --version: %w", err)
	}
	return string(out), nil
}

// parseVersion reads the output of `redis-server --version` or
// `valkey-server --version`, e.g. "Redis server v=7.0.15 sha=00000000:0 …" or
// "Valkey server v=8.0.1 sha=…". name is "valkey", "redis" or "" when the
// output does not say; version is the text after "v="; major its first number.
func parseVersion(out string) (name, version string, major int, err error) {
	fields := strings.Fields(out)
	for i, f := range fields {
		if !strings.HasPrefix(f, "v=") {
			continue
		}
		version = strings.TrimPrefix(f, "v=")
		if i > 0 {
			switch strings.ToLower(fields[0]) {
			case "valkey":
				name = "valkey"
			case "redis":
				name = "redis"
			}
		}
		break
	}
	if version == "" {
		return "", "", 0, fmt.Errorf("parse version: no v=<version> in %q", Truncate(out, 80))
	}
	head, _, ok := strings.Cut(version, ".")
	if !ok {
		return "", "", 0, fmt.Errorf("parse version: %q is not major.minor", Truncate(version, 40))
	}
	major, err = strconv.Atoi(head)
	if err != nil || major < 0 || strings.HasPrefix(head, "+") {
		return "", "", 0, fmt.Errorf("parse version: %q has no numeric major", Truncate(version, 40))
	}
	return name, version, major, nil
}

// truncate shortens s to n bytes for error messages.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Engine is the server binary nodes run.
type Engine struct {
	Name    string // "valkey" or "redis"
	Path    string // absolute path of valkey-server or redis-server
	Version string // e.g. "8.0.2", read from the binary
}
