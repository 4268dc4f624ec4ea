package daemon

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"larder/broker"
	"larder/catalog"
	command "larder/cli"
	"larder/daemon/edgesync"
	"larder/edge"
	"larder/internal/pki"
	"larder/store"
)

// EdgeOptions is how the edge runs, the same for the broker's in-process
// edge and `larder edge`.
type EdgeOptions struct {
	Listen           string // the address the edge binds (an IP; default loopback)
	Host             string // written into URLs; default Listen
	PortMin, PortMax int    // the edge's port range
	// CertFile and KeyFile are an operator's certificate (reloaded on
	// SIGHUP); without them larder's CA under DATA-DIR/ca issues one.
	CertFile, KeyFile string
}

// The edge's defaults: loopback only (no external access until the
// operator says so), ports apart from the nodes' 21000-21999.
const (
	defaultEdgeListen = "127.0.0.1"
	defaultEdgePorts  = "13000-13999"
)

// edgeFlags are the flags of the edge, on `larder broker` and `larder edge`.
func edgeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "edge-listen", Usage: "address the edge listens on (an IP; 0.0.0.0 for every interface)", EnvVars: []string{"LARDER_EDGE_LISTEN"}, Value: defaultEdgeListen},
		&cli.StringFlag{Name: "edge-host", Usage: "host name or address written into add-ons' URLs (default: --edge-listen)", EnvVars: []string{"LARDER_EDGE_HOST"}},
		&cli.StringFlag{Name: "edge-ports", Usage: "the edge's port range, MIN-MAX (two ports per add-on, apart from --ports)", EnvVars: []string{"LARDER_EDGE_PORTS"}, Value: defaultEdgePorts},
		&cli.StringFlag{Name: "edge-cert", Usage: "TLS certificate (PEM) of the edge, reloaded on SIGHUP (default: issued by larder's CA in DATA-DIR/ca)", EnvVars: []string{"LARDER_EDGE_CERT"}},
		&cli.StringFlag{Name: "edge-key", Usage: "the key of --edge-cert", EnvVars: []string{"LARDER_EDGE_KEY"}},
	}
}

// edgeOptions reads the edge flags.
func edgeOptions(c *cli.Context) (EdgeOptions, error) {
	lo, hi, err := parsePortRangeFlag("--edge-ports", c.String("edge-ports"))
	if err != nil {
		return EdgeOptions{}, err
	}
	o := EdgeOptions{Listen: c.String("edge-listen"), Host: c.String("edge-host"), PortMin: lo, PortMax: hi,
		CertFile: c.String("edge-cert"), KeyFile: c.String("edge-key")}
	return o, o.check()
}

// check refuses what cannot work, saying what to type instead.
func (o *EdgeOptions) check() error {
	ip, err := netip.ParseAddr(o.Listen)
	if err != nil {
		return command.UsageError(fmt.Sprintf("invalid --edge-listen %q", o.Listen), "give an IP address, e.g. 127.0.0.1 or 0.0.0.0")
	}
	if o.Host == "" {
		if ip.IsUnspecified() {
			return command.UsageError("--edge-listen "+o.Listen+" needs --edge-host", "name the host or address clients reach the edge at, e.g. --edge-host redis.example.com")
		}
		o.Host = o.Listen
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return command.UsageError("--edge-cert and --edge-key go together", "give both, or neither to use larder's CA")
	}
	return nil
}

// caDir is where larder's CA lives under a data dir.
func caDir(dataDir string) string { return filepath.Join(dataDir, "ca") }

// edgeCA is the CA URLs' clients trust: larder's own, unless the operator
// gave a certificate (then nil).
func edgeCA(dataDir string, o EdgeOptions) (*pki.CA, error) {
	if o.CertFile != "" {
		return nil, nil
	}
	ca, err := pki.LoadOrCreate(caDir(dataDir))
	if err != nil {
		return nil, fmt.Errorf("edge ca: %w", err)
	}
	return ca, nil
}

// brokerEdge is what the broker writes into URLs and credentials.
func brokerEdge(o EdgeOptions, ca *pki.CA) broker.EdgeConfig {
	cfg := broker.EdgeConfig{Host: o.Host, PortMin: o.PortMin, PortMax: o.PortMax}
	if ca != nil {
		cfg.CAPath, cfg.CACert = ca.CertPath, string(ca.CertPEM())
	}
	return cfg
}

// runningEdge is an edge following a store, until Close.
type runningEdge struct {
	edge   *edge.Edge
	sync   *edgesync.Syncer
	stopHU func()
}

// startEdge runs the edge over st: its certificate (the operator's, or one
// ca issues for the URLs' host and the listen address), every route the
// store holds, and the change feed from there. poll is zero in the
// broker's process (its commits wake the edge) and the head's polling
// interval in `larder edge`. SIGHUP reloads the certificate.
func startEdge(ctx context.Context, o EdgeOptions, ca *pki.CA, st store.Store, cat *catalog.Catalog, poll time.Duration, log *logrus.Logger) (*runningEdge, error) {
	elog := log.WithField("component", "edge")
	var certs *edge.Certs
	var err error
	if ca != nil {
		certs, err = edge.CACerts(ca, certHosts(o))
	} else {
		certs, err = edge.FileCerts(o.CertFile, o.KeyFile)
	}
	if err != nil {
		return nil, err
	}
	e := edge.New(edge.Config{Log: elog, Certs: certs})
	s, err := edgesync.Start(ctx, edgesync.Config{Store: st, Catalog: cat, Edge: e, Listen: o.Listen, TLS: true, Poll: poll, Log: elog})
	if err != nil {
		e.Close(context.Background())
		return nil, fmt.Errorf("start edge: %w", err)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-hup:
				if err := e.Reload(); err != nil {
					elog.WithError(err).Error("reload the edge's certificate: keeping the one in use")
				} else {
					elog.Info("reloaded the edge's certificate")
				}
			}
		}
	}()
	elog.WithFields(logrus.Fields{"listen": o.Listen, "host": o.Host, "ports": fmt.Sprintf("%d-%d", o.PortMin, o.PortMax)}).Info("edge serving")
	return &runningEdge{edge: e, sync: s, stopHU: func() { signal.Stop(hup); close(done) }}, nil
}

// certHosts are the names and addresses the edge's certificate covers.
func certHosts(o EdgeOptions) []string {
	hosts := []string{o.Host}
	for _, h := range []string{o.Listen, "127.0.0.1", "::1", "localhost"} {
		if ip := net.ParseIP(h); h != o.Host && (ip == nil || !ip.IsUnspecified()) {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// Close stops following the store and closes the edge's listeners and
// connections (clients reconnect to the next edge).
func (r *runningEdge) Close(ctx context.Context) error {
	r.stopHU()
	r.sync.Close()
	return r.edge.Close(ctx)
}
