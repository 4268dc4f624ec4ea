package daemon

import (
	"context"
	"fmt"
	"larder/backup/target"
	"larder/internal/roles"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/broker"
	"larder/broker/osbsvc"
	command "larder/cli"
	"larder/store/postgres"
)

func brokerCommand() *cli.Command {
	return &cli.Command{
		Name:     roles.Broker.Name,
		Category: roles.Category,
		Usage:    roles.Broker.Usage,
		Description: `Runs larder's broker on this machine with its embedded defaults: state in a
SQLite file and add-on nodes as local valkey-server/redis-server processes.
With --store postgres://… the state is in a PostgreSQL database instead,
which several brokers can share.

Nodes are separate processes: stopping the broker leaves them serving, and the
next broker re-adopts them. On first start the broker writes an API token into
its data directory, with a discovery file the CLI on this machine reads, so
` + "`larder apps:create web`" + ` works with no further set-up.

Apps' URLs name the edge, which the broker runs in its process: every add-on
gets a plain and a TLS port of --edge-ports on --edge-host for its whole life,
so a failover, switchover or plan change never changes them. Run ` + "`larder edge`" + `
elsewhere instead with --no-edge here.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "data-dir", Usage: "where state, nodes and the token live", EnvVars: []string{"LARDER_DATA"}, Value: api.DefaultDataDir()},
			&cli.StringFlag{Name: "listen", Usage: "address of the HTTP API", EnvVars: []string{"LARDER_LISTEN"}, Value: defaultListen()},
			&cli.StringFlag{Name: "catalog", Usage: "JSON plan catalog replacing the built-in plans", EnvVars: []string{"LARDER_CATALOG"}},
			&cli.StringFlag{Name: "var-prefix", Usage: "prefix of colored attachment names (HEROKU_REDIS keeps Heroku's names)", EnvVars: []string{"LARDER_VAR_PREFIX"}, Value: broker.DefaultVarPrefix},
			&cli.StringFlag{Name: "ports", Usage: "port range for nodes, MIN-MAX", EnvVars: []string{"LARDER_PORTS"}, Value: "21000-21999"},
			&cli.StringFlag{Name: "log-level", Usage: "debug, info, warn or error", EnvVars: []string{"LARDER_LOG_LEVEL"}, Value: "info"},
			&cli.BoolFlag{Name: "no-local-nodes", Usage: "place every node on agents (larder agent), none on this machine", EnvVars: []string{"LARDER_NO_LOCAL_NODES"}},
			&cli.DurationFlag{Name: "reconcile-interval", Usage: "how often HA pairs are checked", EnvVars: []string{"LARDER_RECONCILE_INTERVAL"}, Value: time.Second},
			&cli.IntFlag{Name: "monitors", Usage: "run N HA observers inside the broker (one machine: they share its network location)", EnvVars: []string{"LARDER_MONITORS"}},
			&cli.DurationFlag{Name: "monitor-interval", Usage: "probe round of in-process observers", EnvVars: []string{"LARDER_MONITOR_INTERVAL"}, Value: time.Second},
			&cli.DurationFlag{Name: "failover-window", Usage: "how long a quorum of locations must see a primary down before failover", EnvVars: []string{"LARDER_FAILOVER_WINDOW"}, Value: 10 * time.Second},
			&cli.IntFlag{Name: "min-quorum", Usage: "fewest observer locations that can declare a primary down", EnvVars: []string{"LARDER_MIN_QUORUM"}, Value: 2},
			&cli.DurationFlag{Name: "monitor-fresh", Usage: "a location whose last report is older does not vote", EnvVars: []string{"LARDER_MONITOR_FRESH"}, Value: 3 * time.Second},
			&cli.DurationFlag{Name: "lease", Usage: "the agents' --lease: how long to wait before promoting when a primary's host is unreachable", EnvVars: []string{"LARDER_LEASE"}, Value: 5 * time.Second},
			&cli.IntFlag{Name: "spares", Usage: "started add-ons of each single-node plan kept ready, so addons:create hands one over at once (0: none)", EnvVars: []string{"LARDER_SPARES"}, Value: 1},
			&cli.DurationFlag{Name: "operation-lease", Usage: "how long an operation stays this broker's without a renewal; another broker on the store takes it over after", EnvVars: []string{"LARDER_OPERATION_LEASE"}, Value: 15 * time.Second},
			&cli.DurationFlag{Name: "metrics-interval", Usage: "how often every node's figures are sampled for redis:metrics and /metrics (0: never)", EnvVars: []string{"LARDER_METRICS_INTERVAL"}, Value: 10 * time.Second},
			&cli.StringFlag{Name: "metrics-token", Usage: "bearer token Prometheus scrapes /metrics with; it opens nothing else (default: generated into DATA-DIR/metrics-token)", EnvVars: []string{"LARDER_METRICS_TOKEN"}},
			&cli.DurationFlag{Name: "coordinator-lease", Usage: "of the brokers sharing a store, the one holding this lease coordinates (HA decisions, other brokers' operations, schedules); another takes over when it is not renewed for this long", EnvVars: []string{"LARDER_COORDINATOR_LEASE"}, Value: 10 * time.Second},
			&cli.StringFlag{Name: "crash-at", Usage: "exit at a named point (fault injection for recovery tests)", EnvVars: []string{"LARDER_CRASH_AT"}, Hidden: true},
			&cli.StringFlag{Name: "hold-at", Usage: "wait at a named point while DATA-DIR/held-POINT exists (fault injection for race tests)", EnvVars: []string{"LARDER_HOLD_AT"}, Hidden: true},
			&cli.StringFlag{Name: "store", Usage: "the store several brokers share: postgres://USER:PASSWORD@HOST[:PORT]/DATABASE (default: the SQLite file DATA-DIR/larder.db)", EnvVars: []string{"LARDER_STORE_URL"}},
			&cli.StringFlag{Name: "db", Usage: "the SQLite file (default DATA-DIR/larder.db); one broker per file, except in race tests", EnvVars: []string{"LARDER_DB"}, Hidden: true},
			&cli.DurationFlag{Name: "standby-grace", Usage: "how long a standby may be unreachable before a new one is built", EnvVars: []string{"LARDER_STANDBY_GRACE"}, Value: 5 * time.Second},
			&cli.DurationFlag{Name: "hang-timeout", Usage: "a node with persistence showing no sign of life (no answer, no CPU progress) for this long is killed and restarted in place", EnvVars: []string{"LARDER_HANG_TIMEOUT"}, Value: 5 * time.Second},
			&cli.DurationFlag{Name: "hang-timeout-no-persistence", Usage: "the same for a node without persistence, whose restart loses its data", EnvVars: []string{"LARDER_HANG_TIMEOUT_NO_PERSISTENCE"}, Value: time.Minute},
			&cli.DurationFlag{Name: "quarantine-retention", Usage: "how long the directories of orphan nodes are kept in DATA-DIR/quarantine before they are deleted", EnvVars: []string{"LARDER_QUARANTINE_RETENTION"}, Value: 7 * 24 * time.Hour},
			&cli.StringFlag{Name: "osb-username", Usage: "Basic auth user of the Open Service Broker API (/v2)", EnvVars: []string{"LARDER_OSB_USERNAME"}, Value: osbsvc.DefaultUsername},
			&cli.StringFlag{Name: "osb-password", Usage: "Basic auth password of the Open Service Broker API (default: generated into DATA-DIR/osb-password)", EnvVars: []string{"LARDER_OSB_PASSWORD"}},
			&cli.StringFlag{Name: "backup-url", Usage: "where backups are kept: a directory (default DATA-DIR/backups) or s3://bucket/prefix", EnvVars: []string{"LARDER_BACKUP_URL"}},
			&cli.StringFlag{Name: "backup-s3-endpoint", Usage: "S3 endpoint host[:port] (default s3.amazonaws.com)", EnvVars: []string{"LARDER_S3_ENDPOINT"}},
			&cli.StringFlag{Name: "backup-s3-region", Usage: "S3 region", EnvVars: []string{"LARDER_S3_REGION", "AWS_REGION"}},
			&cli.StringFlag{Name: "backup-s3-access-key", Usage: "S3 access key (prefer the environment)", EnvVars: []string{"AWS_ACCESS_KEY_ID"}},
			&cli.StringFlag{Name: "backup-s3-secret-key", Usage: "S3 secret key (prefer the environment: a flag shows in ps)", EnvVars: []string{"AWS_SECRET_ACCESS_KEY"}},
			&cli.BoolFlag{Name: "backup-s3-insecure", Usage: "plain HTTP to the S3 endpoint (tests, a private network)", EnvVars: []string{"LARDER_S3_INSECURE"}},
			&cli.BoolFlag{Name: "backup-s3-path-style", Usage: "bucket in the path, not the host name (MinIO and most S3-compatible stores)", EnvVars: []string{"LARDER_S3_PATH_STYLE"}},
			&cli.DurationFlag{Name: "osb-retention", Usage: "how long deleted service instances and bindings are remembered", EnvVars: []string{"LARDER_OSB_RETENTION"}, Value: osbsvc.DefaultRetention},
			&cli.BoolFlag{Name: "no-edge", Usage: "run no edge in this process: `larder edge` serves the URLs (with the same --edge-* flags)", EnvVars: []string{"LARDER_NO_EDGE"}},
		}, edgeFlags()...),
		Action: func(c *cli.Context) error {
			lo, hi, err := parsePortRange(c.String("ports"))
			if err != nil {
				return err
			}
			if u := c.String("store"); u != "" && !postgres.IsURL(u) {
				return command.UsageError(fmt.Sprintf("--store %s is not a PostgreSQL URL", postgres.Redact(u)),
					"give postgres://USER:PASSWORD@HOST[:PORT]/DATABASE, or leave --store out for the SQLite file in the data dir")
			}
			if d := c.Duration("coordinator-lease"); d < 500*time.Millisecond {
				return command.UsageError(fmt.Sprintf("invalid --coordinator-lease %s", d), "use 500ms or more (10s is the default); another broker takes over within it")
			}
			if d := c.Duration("metrics-interval"); d < 0 || d > 0 && d < time.Second {
				return command.UsageError(fmt.Sprintf("invalid --metrics-interval %s", d), "use 1s or more (10s is the default), or 0 to sample nothing")
			}
			eo, err := edgeOptions(c)
			if err != nil {
				return err
			}
			log, err := roleLogger(c)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return RunBroker(ctx, BrokerConfig{
				DataDir: c.String("data-dir"), Listen: c.String("listen"), CatalogFile: c.String("catalog"),
				VarPrefix: c.String("var-prefix"), PortMin: lo, PortMax: hi, Log: log,
				NoLocalNodes: c.Bool("no-local-nodes"), ReconcileInterval: c.Duration("reconcile-interval"), StandbyGrace: c.Duration("standby-grace"),
				Monitors: c.Int("monitors"), MonitorInterval: c.Duration("monitor-interval"), FailoverWindow: c.Duration("failover-window"),
				MinQuorum: c.Int("min-quorum"), MonitorFresh: c.Duration("monitor-fresh"), Lease: c.Duration("lease"), OperationLease: c.Duration("operation-lease"), CoordinatorLease: c.Duration("coordinator-lease"), Spares: c.Int("spares"), CrashAt: c.String("crash-at"),
				MetricsInterval: c.Duration("metrics-interval"), MetricsToken: c.String("metrics-token"),
				HangTimeout: c.Duration("hang-timeout"), NoPersistenceHangTimeout: c.Duration("hang-timeout-no-persistence"),
				QuarantineRetention: c.Duration("quarantine-retention"), HoldAt: c.String("hold-at"), DBPath: c.String("db"), StoreURL: c.String("store"),
				BackupURL: c.String("backup-url"),
				BackupS3: target.Options{Endpoint: c.String("backup-s3-endpoint"), Region: c.String("backup-s3-region"),
					AccessKey: c.String("backup-s3-access-key"), SecretKey: c.String("backup-s3-secret-key"), SessionToken: os.Getenv("AWS_SESSION_TOKEN"),
					Insecure: c.Bool("backup-s3-insecure"), PathStyle: c.Bool("backup-s3-path-style")},
				OSB:  osbsvc.Config{Username: c.String("osb-username"), Password: c.String("osb-password"), Retention: c.Duration("osb-retention")},
				Edge: eo, NoEdge: c.Bool("no-edge"),
				Ready: func(url string) {
					fmt.Fprintf(c.App.ErrWriter, "larder broker ready at %s (data in %s)\n", url, c.String("data-dir"))
				},
			})
		},
	}
}

// defaultListen honours the Procfile convention of $PORT, on loopback.
func defaultListen() string {
	if p := os.Getenv("PORT"); p != "" {
		return "127.0.0.1:" + p
	}
	return "127.0.0.1:7480"
}

func parsePortRange(s string) (int, int, error) { return parsePortRangeFlag("--ports", s) }

func parsePortRangeFlag(flag, s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || lo < 1024 || hi > 65535 || lo > hi {
		return 0, 0, command.UsageError(fmt.Sprintf("invalid port range %q", s), "use MIN-MAX within 1024-65535, e.g. "+flag+" 21000-21999")
	}
	return lo, hi, nil
}
