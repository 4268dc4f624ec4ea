package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/backup/target"
	"larder/broker"
	"larder/broker/backups"
	"larder/broker/httpapi"
	"larder/broker/metrics"
	"larder/broker/osb"
	"larder/broker/osbsvc"
	"larder/catalog"
	"larder/engine"
	"larder/ha/observe"
	"larder/internal/atomicfile"
	"larder/internal/pki"
	"larder/provisioner"
	"larder/provisioner/agent"
	"larder/provisioner/local"
	"larder/store"
	"larder/store/postgres"
	"larder/store/sqlite"
)

// openStore opens the broker's store: PostgreSQL when cfg.StoreURL names
// one, else the SQLite file. The URL's password is never logged.
func openStore(ctx context.Context, cfg BrokerConfig, log logrus.FieldLogger) (store.Store, error) {
	if cfg.StoreURL != "" {
		st, err := postgres.Open(ctx, cfg.StoreURL)
		if err != nil {
			return nil, err
		}
		log.WithField("store", postgres.Redact(cfg.StoreURL)).Info("store: postgresql")
		return st, nil
	}
	path := cfg.DBPath
	if path == "" {
		path = filepath.Join(cfg.DataDir, "larder.db")
	}
	return sqlite.Open(ctx, path)
}

// Config is everything `larder broker` needs.
type BrokerConfig struct {
	DataDir     string // SQLite file, node directories, token, discovery file
	Listen      string // host:port of the HTTP API
	CatalogFile string // optional plan catalog replacing the built-in one
	VarPrefix   string
	PortMin     int
	PortMax     int
	Token       string // overrides the token file when set
	// OSB sets up the Open Service Broker API; without a password one is
	// generated into the data dir file osb-password.
	OSB osbsvc.Config
	// NoLocalNodes places every node on agents, none on this machine.
	NoLocalNodes      bool
	ReconcileInterval time.Duration
	StandbyGrace      time.Duration
	// HA monitor.
	Monitors        int // in-process observers
	MonitorInterval time.Duration
	FailoverWindow  time.Duration
	MinQuorum       int
	MonitorFresh    time.Duration
	Lease           time.Duration
	// OperationLease is how long an operation stays this broker's without
	// a renewal (Config.OperationLease).
	OperationLease time.Duration
	// CoordinatorLease is Config.CoordinatorLease: how long the coordinator
	// lease lasts without a renewal.
	CoordinatorLease time.Duration
	// Spares is Config.Spares: started add-ons of each single-node plan kept
	// ready.
	Spares  int
	CrashAt string // fault injection for tests
	// MetricsInterval is how often nodes are sampled (0: never);
	// MetricsToken the bearer token of /metrics (default: generated into
	// DataDir/metrics-token).
	MetricsInterval time.Duration
	MetricsToken    string
	// Supervision of this machine's nodes (see local.Options):
	// the hang windows with and without persistence, and how long
	// quarantined nodes are kept. Zero takes the provisioner's defaults.
	HangTimeout              time.Duration
	NoPersistenceHangTimeout time.Duration
	QuarantineRetention      time.Duration
	HoldAt                   string // fault injection for tests: wait at a point (Config.HoldAt)
	DBPath                   string // the SQLite file; default DataDir/larder.db
	// StoreURL is a PostgreSQL store's URL (postgres://…), several brokers
	// sharing it; "" keeps the SQLite file.
	StoreURL string
	// BackupURL is where backups are kept: a directory or s3://bucket/prefix
	// (target.Open); default DataDir/backups. BackupS3 holds the S3
	// endpoint and credentials, which never go into the URL.
	BackupURL string
	BackupS3  target.Options
	// Edge is where URLs point; NoEdge leaves serving them to `larder edge`.
	Edge   EdgeOptions
	NoEdge bool
	Log    *logrus.Logger
	Ready  func(url string) // called once the API is listening (tests, make run)
}

// Run runs a broker until ctx ends. Nodes are left running when it returns;
// the next Run re-adopts them.
func RunBroker(ctx context.Context, cfg BrokerConfig) error {
	log := cfg.Log
	if log == nil {
		log = logrus.StandardLogger()
	}
	if err := atomicfile.PrivateDir(cfg.DataDir); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	token := cfg.Token
	if token == "" {
		var err error
		if token, err = loadSecret(filepath.Join(cfg.DataDir, "token")); err != nil {
			return err
		}
	}
	if cfg.OSB.Password == "" {
		var err error
		if cfg.OSB.Password, err = loadSecret(filepath.Join(cfg.DataDir, "osb-password")); err != nil {
			return err
		}
	}
	if cfg.MetricsToken == "" {
		var err error
		if cfg.MetricsToken, err = loadSecret(filepath.Join(cfg.DataDir, "metrics-token")); err != nil {
			return err
		}
	}
	monitorPW, err := loadSecret(filepath.Join(cfg.DataDir, "monitor-password"))
	if err != nil {
		return err
	}
	// The broker's identity in the store, kept with its data: restarted, it
	// is the same owner and takes its unfinished operations back at once.
	id, err := loadSecret(filepath.Join(cfg.DataDir, "broker-id"))
	if err != nil {
		return err
	}
	cat := catalog.Builtin()
	if cfg.CatalogFile != "" {
		var err error
		if cat, err = catalog.Load(cfg.CatalogFile); err != nil {
			return err
		}
	}
	eng, err := engine.Discover()
	if err != nil {
		return err
	}
	log.WithFields(logrus.Fields{"engine": eng.Name, "version": eng.Version, "path": eng.Path}).Info("engine found")

	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()

	// Events may arrive before the broker exists (a node restarted while the
	// host starts); they wait for it instead of being dropped.
	ready := make(chan *broker.Broker, 1)
	var b *broker.Broker
	host, err := local.New(local.Options{
		Root:                     filepath.Join(cfg.DataDir, "nodes"),
		Engine:                   eng,
		HangTimeout:              cfg.HangTimeout,
		NoPersistenceHangTimeout: cfg.NoPersistenceHangTimeout,
		QuarantineRetention:      cfg.QuarantineRetention,
		Log:                      log.WithField("component", "host"),
		OnEvent: func(e provisioner.Event) {
			br := <-ready
			ready <- br
			if br != nil {
				br.Hosts.OnNodeEvent(context.Background(), e)
			}
		},
	})
	if err != nil {
		return err
	}
	var ca *pki.CA
	if cfg.Edge.PortMax > 0 {
		if ca, err = edgeCA(cfg.DataDir, cfg.Edge); err != nil {
			return err
		}
	}
	remote := func(h store.Host, events agent.EventReader) (provisioner.Host, error) {
		return agent.NewRemoteHost(agent.RemoteOptions{Name: h.Name, URL: h.URL, Token: h.Token, Events: events,
			Log: log.WithFields(logrus.Fields{"component": "host", "host": h.Name})})
	}
	backups, err := backupConfig(cfg)
	if err != nil {
		host.Close(context.Background())
		return err
	}
	b, err = broker.New(broker.Config{Backups: backups, Catalog: cat, Token: token, VarPrefix: cfg.VarPrefix, PortMin: cfg.PortMin, PortMax: cfg.PortMax, Log: log,
		NoLocalNodes: cfg.NoLocalNodes, NewRemoteHost: remote, ReconcileInterval: cfg.ReconcileInterval, StandbyGrace: cfg.StandbyGrace,
		FailoverWindow: cfg.FailoverWindow, MinQuorum: cfg.MinQuorum, MonitorFresh: cfg.MonitorFresh, Lease: cfg.Lease, CrashAt: cfg.CrashAt, MonitorPassword: monitorPW, OSB: cfg.OSB,
		HoldAt: cfg.HoldAt, HoldDir: cfg.DataDir, ID: id, OperationLease: cfg.OperationLease, CoordinatorLease: cfg.CoordinatorLease, Version: version(), Spares: cfg.Spares, Edge: brokerEdge(cfg.Edge, ca),
		MetricsToken: cfg.MetricsToken, Metrics: metrics.Config{Interval: cfg.MetricsInterval, Disabled: cfg.MetricsInterval <= 0}}, st, host)
	if err != nil {
		ready <- nil
		host.Close(context.Background())
		return err
	}
	ready <- b

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		host.Close(context.Background())
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	url := "http://" + ln.Addr().String()
	b.SetURL(url)
	if err := b.Start(ctx); err != nil {
		ln.Close()
		host.Close(context.Background())
		return err
	}
	var edgeRun *runningEdge
	if !cfg.NoEdge && cfg.Edge.PortMax > 0 {
		if edgeRun, err = startEdge(ctx, cfg.Edge, ca, st, cat, 0, log); err != nil {
			ln.Close()
			b.Close(context.Background())
			host.Close(context.Background())
			return err
		}
	}
	if err := writeDiscovery(cfg.DataDir, api.Discovery{URL: url, Token: token}); err != nil {
		ln.Close()
		host.Close(context.Background())
		return err
	}
	srv := &http.Server{Handler: httpapi.New(b).Handler(osb.New(b).Routes), ReadHeaderTimeout: 10 * time.Second}
	srv.RegisterOnShutdown(b.StopWaiters)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.WithField("url", url).Info("broker listening")
	if cfg.Monitors > 0 {
		// One machine: every observer sees through its network, so they vote
		// as distinct locations but protect only against process failures.
		log.WithField("monitors", cfg.Monitors).Warn("in-process observers share this machine's network location; run `larder monitor` elsewhere for partition safety")
		for i := 1; i <= cfg.Monitors; i++ {
			ob := observe.New(observe.Options{Location: fmt.Sprintf("local-%d", i), Name: fmt.Sprintf("broker-%d", i),
				Client: api.NewClient(url, token), Log: log, Interval: cfg.MonitorInterval})
			ob.Start()
			defer ob.Close()
		}
	}
	if cfg.Ready != nil {
		cfg.Ready(url)
	}

	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			log.WithError(err).Error("http server stopped")
		}
	}
	log.Info("broker stopping; nodes keep running")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	b.Close(sctx)
	if edgeRun != nil {
		edgeRun.Close(sctx)
	}
	return host.Close(sctx)
}

// backupConfig opens the backup target; archives are staged and verified
// in DataDir/backup-stage.
func backupConfig(cfg BrokerConfig) (backups.Config, error) {
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return backups.Config{}, err
	}
	stage := filepath.Join(dir, "backup-stage")
	if err := atomicfile.PrivateDir(stage); err != nil {
		return backups.Config{}, fmt.Errorf("create backup stage: %w", err)
	}
	url := cfg.BackupURL
	if url == "" {
		url = filepath.Join(dir, "backups")
	}
	t, err := target.Open(url, cfg.BackupS3)
	if err != nil {
		return backups.Config{}, err
	}
	return backups.Config{Target: t, StageDir: stage}, nil
}

func writeDiscovery(dir string, d api.Discovery) error {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, api.DiscoveryFile), b, 0o600); err != nil {
		return fmt.Errorf("write discovery file: %w", err)
	}
	return nil
}

// loadSecret reads a secret from the data directory, generating it on first start.
func loadSecret(path string) (string, error) {
	s, _, err := atomicfile.LoadOrCreateSecret(path)
	return s, err
}
