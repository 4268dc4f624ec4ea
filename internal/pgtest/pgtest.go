// Package pgtest gives tests a real PostgreSQL database of their own.
//
// A package's tests share one throwaway cluster, started on first use in a
// temporary directory (initdb + pg_ctl, as the postgres user when the tests
// run as root, on a loopback port of testkit.Postgres) and stopped by Main;
// or, when LARDER_TEST_PG_URL is set, the server it names. Each URL call
// creates a database of its own, dropped when the test ends.
//
// Without PostgreSQL the tests skip saying why, except in CI (CI set), where
// they fail: CI installs PostgreSQL, so a missing server there is a defect.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"larder/internal/testkit"
)

// EnvURL names a server to use instead of a throwaway cluster: a URL whose
// user may create databases.
const EnvURL = "LARDER_TEST_PG_URL"

var (
	once    sync.Once
	admin   string   // the URL of the server's postgres database, "" when none
	why     string   // why there is none
	cluster *Cluster // the cluster this process started, if any
)

// Main runs a package's tests (from TestMain) and stops the cluster they
// started, if any; its answer is the exit code.
func Main(m *testing.M) int {
	code := m.Run()
	if cluster != nil {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	}
	return code
}

// inCI reports whether the tests run in CI, where PostgreSQL must be there.
func inCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v != "" && v != "0" && v != "false"
}

// server starts the cluster (or takes EnvURL) once.
func server() (string, string) {
	once.Do(func() {
		if u := os.Getenv(EnvURL); u != "" {
			admin = u
			return
		}
		c, err := Start()
		if err != nil {
			why = err.Error()
			return
		}
		cluster, admin = c, c.URL("postgres")
	})
	return admin, why
}

// URL returns the URL of a new, empty database for tb, dropped when tb
// ends; without PostgreSQL it skips tb (fails it in CI).
func URL(tb testing.TB) string {
	tb.Helper()
	base, reason := server()
	if base == "" {
		if inCI() {
			tb.Fatalf("PostgreSQL is needed in CI: %s", reason)
		}
		tb.Skipf("no PostgreSQL (%s): install postgresql, or set %s", reason, EnvURL)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	if err := adminExec(base, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("create database: %v", err)
	}
	tb.Cleanup(func() {
		if err := adminExec(base, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s: %v", EnvURL, err)
	}
	u.Path = "/" + name
	return u.String()
}

// Own starts a cluster of tb's own, stopped when tb ends: for a test that
// restarts PostgreSQL, which the package's shared cluster must not see.
// Without PostgreSQL it skips tb (fails it in CI), as URL does.
func Own(tb testing.TB) *Cluster {
	tb.Helper()
	c, err := Start()
	if err != nil {
		if inCI() {
			tb.Fatalf("PostgreSQL is needed in CI: %v", err)
		}
		tb.Skipf("no PostgreSQL (%v): install postgresql", err)
	}
	tb.Cleanup(func() {
		if err := c.Stop(); err != nil {
			tb.Errorf("stop PostgreSQL: %v", err)
		}
	})
	return c
}

// adminExec runs one statement on the server's maintenance database.
func adminExec(base, stmt string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, base)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, stmt)
	return err
}

// Cluster is a PostgreSQL cluster in a temporary directory.
type Cluster struct {
	Dir  string // holds data/, the log and the socket
	Port int
	bin  string
	opts string     // the server's options (port, socket directory, settings)
	as   *user.User // the user it runs as (postgres when started by root)
}

// BinDir finds PostgreSQL's programs: Debian's newest
// /usr/lib/postgresql/N/bin, or the directory of initdb on PATH.
func BinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) < version(dirs[j]) })
	if len(dirs) > 0 {
		return filepath.Dir(dirs[len(dirs)-1]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb, no initdb on PATH)")
}

// version is N of /usr/lib/postgresql/N/bin/initdb.
func version(path string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return n
}

// Start makes a cluster in a new temporary directory and starts it on a
// free port of testkit.Postgres, trusting local connections (a test
// server: any password is accepted).
func Start() (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin}
	if os.Geteuid() == 0 {
		if c.as, err = user.Lookup("postgres"); err != nil {
			return nil, fmt.Errorf("PostgreSQL refuses to run as root and there is no postgres user: %w", err)
		}
	}
	if c.Dir, err = os.MkdirTemp("", "larder-pg-"); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(c.Dir)
		}
	}()
	if c.as != nil {
		uid, _ := strconv.Atoi(c.as.Uid)
		gid, _ := strconv.Atoi(c.as.Gid)
		if err := os.Chown(c.Dir, uid, gid); err != nil {
			return nil, err
		}
	}
	if err := c.run("initdb", "-D", c.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		return nil, err
	}
	// Another package's tests may take the port between the look and the
	// start: try a few.
	for range 5 {
		if c.Port, err = testkit.Postgres.Free(); err != nil {
			return nil, err
		}
		c.opts = fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300", c.Port, c.Dir)
		if err = c.Up(); err == nil {
			ok = true
			return c, nil
		}
	}
	return nil, err
}

func (c *Cluster) data() string { return filepath.Join(c.Dir, "data") }

// URL is the URL of database db on the cluster.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, db)
}

// Stop stops the cluster at once and removes its directory.
func (c *Cluster) Stop() error {
	err := c.run("pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "stop")
	if rerr := os.RemoveAll(c.Dir); err == nil {
		err = rerr
	}
	return err
}

// Down stops the server (fast: sessions are ended) and keeps the cluster,
// for Up to start again: PostgreSQL away for as long as a test needs.
func (c *Cluster) Down() error {
	return c.run("pg_ctl", "-D", c.data(), "-m", "fast", "-w", "-t", "60", "stop")
}

// Up starts a cluster Down stopped, on the same port and options.
func (c *Cluster) Up() error {
	return c.run("pg_ctl", "-D", c.data(), "-l", filepath.Join(c.Dir, "log"), "-w", "-t", "60", "-o", c.opts, "start")
}

// Restart stops the cluster (fast: sessions are ended) and starts it again
// on the same port and options, as an operator restarting PostgreSQL would.
// The server writes to the cluster's log: one that inherited pg_ctl's
// output would hold it open, and run would wait for it forever.
func (c *Cluster) Restart() error {
	return c.run("pg_ctl", "-D", c.data(), "-l", filepath.Join(c.Dir, "log"), "-m", "fast", "-w", "-t", "60", "restart")
}

// run runs one of PostgreSQL's programs, as the cluster's user.
func (c *Cluster) run(prog string, args ...string) error {
	path := filepath.Join(c.bin, prog)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	if c.as != nil {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	// A server started without a log file would keep the output open:
	// stop waiting for it once the program itself has exited.
	cmd.WaitDelay = 5 * time.Second
	cmd.Dir = os.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", prog, err, strings.TrimSpace(string(out)))
	}
	return nil
}
