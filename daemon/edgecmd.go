package daemon

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/catalog"
	command "larder/cli"
	"larder/internal/atomicfile"
	"larder/internal/roles"
	"larder/store/sqlite"
)

// EdgeConfig is everything `larder edge` needs.
type EdgeConfig struct {
	DataDir     string // larder's CA (DATA-DIR/ca) and, by default, the store
	DBPath      string // the broker's SQLite file; default DataDir/larder.db
	CatalogFile string // the broker's plan catalog, for connection limits
	Edge        EdgeOptions
	// Poll is how often the change feed's head is looked at: the broker's
	// commits cannot wake another process.
	Poll  time.Duration
	Log   *logrus.Logger
	Ready func() // called once every route is applied (tests)
}

func edgeCommand() *cli.Command {
	return &cli.Command{
		Name:     roles.Edge.Name,
		Category: roles.Category,
		Usage:    roles.Edge.Usage,
		Description: `Serves add-ons' URLs when the broker runs with --no-edge: each add-on's plain
and TLS ports forward to its current primary, following the broker's store
(the same SQLite file) through its change feed. A failover or switchover
closes the add-on's connections; clients reconnect to the new primary with
the same URL. Give it the broker's --edge-* flags. SIGHUP reloads
--edge-cert and --edge-key without dropping connections.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "data-dir", Usage: "larder's data directory (the CA, and the store by default)", EnvVars: []string{"LARDER_DATA"}, Value: api.DefaultDataDir()},
			&cli.StringFlag{Name: "db", Usage: "the broker's SQLite file (default DATA-DIR/larder.db)", EnvVars: []string{"LARDER_DB"}},
			&cli.StringFlag{Name: "catalog", Usage: "the broker's JSON plan catalog, if it has one", EnvVars: []string{"LARDER_CATALOG"}},
			&cli.DurationFlag{Name: "poll", Usage: "how often the store's change feed is looked at", EnvVars: []string{"LARDER_EDGE_POLL"}, Value: 250 * time.Millisecond},
			&cli.StringFlag{Name: "log-level", Usage: "debug, info, warn or error", EnvVars: []string{"LARDER_LOG_LEVEL"}, Value: "info"},
		}, edgeFlags()...),
		Action: func(c *cli.Context) error {
			eo, err := edgeOptions(c)
			if err != nil {
				return err
			}
			log, err := roleLogger(c)
			if err != nil {
				return err
			}
			if c.Duration("poll") <= 0 {
				return command.UsageError(fmt.Sprintf("invalid --poll %s", c.Duration("poll")), "give a positive duration, e.g. --poll 250ms")
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return RunEdge(ctx, EdgeConfig{DataDir: c.String("data-dir"), DBPath: c.String("db"), CatalogFile: c.String("catalog"),
				Edge: eo, Poll: c.Duration("poll"), Log: log, Ready: func() {
					fmt.Fprintf(c.App.ErrWriter, "larder edge ready on %s (URLs name %s)\n", eo.Listen, eo.Host)
				}})
		},
	}
}

// RunEdge runs the edge over the broker's store until ctx ends.
func RunEdge(ctx context.Context, cfg EdgeConfig) error {
	if err := atomicfile.PrivateDir(cfg.DataDir); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	cat := catalog.Builtin()
	if cfg.CatalogFile != "" {
		var err error
		if cat, err = catalog.Load(cfg.CatalogFile); err != nil {
			return err
		}
	}
	ca, err := edgeCA(cfg.DataDir, cfg.Edge)
	if err != nil {
		return err
	}
	dbPath := cfg.DBPath
	if dbPath == "" {
		dbPath = filepath.Join(cfg.DataDir, "larder.db")
	}
	if _, err := os.Stat(dbPath); err != nil {
		return fmt.Errorf("the broker's store %s: %w (start the broker first, or give --db)", dbPath, err)
	}
	st, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		return err
	}
	defer st.Close()
	run, err := startEdge(ctx, cfg.Edge, ca, st, cat, cfg.Poll, cfg.Log)
	if err != nil {
		return err
	}
	if cfg.Ready != nil {
		cfg.Ready()
	}
	<-ctx.Done()
	cfg.Log.Info("edge stopping; clients reconnect to the next edge")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return run.Close(sctx)
}
