package daemon

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"larder/api"
	command "larder/cli"
	"larder/fault"
	"larder/internal/atomicfile"
	"larder/internal/backoff"
	"larder/internal/roles"
	"larder/provisioner/agent"
	"larder/provisioner/local"
)

const agentUsage = "larder agent --host NAME --listen ADDR:PORT [--addr IP] [--data-dir DIR] [--token T] [--broker URL[,URL…] --broker-token T]"

// agentTokenFile holds the generated token in the agent's data directory.
const agentTokenFile = "agent-token"

func agentCommand() *cli.Command {
	return &cli.Command{
		Name:      roles.Agent.Name,
		Category:  roles.Category,
		Usage:     roles.Agent.Usage,
		UsageText: agentUsage,
		Description: `Runs a larder host on this machine (or network namespace), so a broker can put
an HA pair's primary and standby on different machines. The agent starts,
supervises and restarts the nodes the broker places here, over an HTTP API
authenticated with a bearer token, and goes on supervising them (and recording
what happened) while the broker is away.

Nodes bind to --addr (default: the IP of --listen) and keep running when the
agent stops; a restarted agent takes them back when the broker adopts them.
Without --token (or $LARDER_AGENT_TOKEN) the agent makes one, once, in
DATA-DIR/agent-token. With --broker it registers itself with that broker
(POST BROKER/hosts), retrying until the broker accepts. --broker may list
several brokers sharing one store (http://a:7480,http://b:7480): the agent
registers with the first that answers.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "host", Usage: "the host's name in the broker", EnvVars: []string{"LARDER_AGENT_HOST"}, Required: true},
			&cli.StringFlag{Name: "listen", Usage: "address of the agent's API, IP:PORT", EnvVars: []string{"LARDER_AGENT_LISTEN"}, Required: true},
			&cli.StringFlag{Name: "addr", Usage: "address nodes bind to and clients dial (default: the IP of --listen)", EnvVars: []string{"LARDER_AGENT_ADDR"}},
			&cli.StringFlag{Name: "data-dir", Usage: "where nodes and the token live (default: $LARDER_DATA/agents/NAME)", EnvVars: []string{"LARDER_AGENT_DATA"}},
			&cli.StringFlag{Name: "token", Usage: "the API's bearer token (default: generated once into DATA-DIR/agent-token)", EnvVars: []string{"LARDER_AGENT_TOKEN"}},
			&cli.StringFlag{Name: "broker", Usage: "URL of a broker to register with, or a comma-separated list of brokers sharing one store", EnvVars: []string{"LARDER_BROKER_URL"}},
			&cli.StringFlag{Name: "broker-token", Usage: "the broker's API token, for registering", EnvVars: []string{"LARDER_BROKER_TOKEN"}},
			&cli.DurationFlag{Name: "broker-timeout", Usage: "how long one broker may take to answer a registration before the next one is asked", EnvVars: []string{"LARDER_API_TIMEOUT"}, Value: 10 * time.Second},
			&cli.StringFlag{Name: "log-level", Usage: "debug, info, warn or error", EnvVars: []string{"LARDER_LOG_LEVEL"}, Value: "info"},
			&cli.DurationFlag{Name: "check-interval", Usage: "how often each node is checked", Value: 500 * time.Millisecond},
			&cli.DurationFlag{Name: "hang-timeout", Usage: "a node with persistence showing no sign of life (no answer, no CPU progress) for this long is killed and restarted in place", Value: 5 * time.Second},
			&cli.DurationFlag{Name: "hang-timeout-no-persistence", Usage: "the same for a node without persistence, whose restart loses its data", Value: time.Minute},
			&cli.DurationFlag{Name: "quarantine-retention", Usage: "how long the directories of orphan nodes are kept in DATA-DIR/quarantine before they are deleted", Value: 7 * 24 * time.Hour},
			&cli.IntFlag{Name: "crash-loop-restarts", Usage: "restarts allowed within --crash-loop-window before a node is given up", Value: 5},
			&cli.DurationFlag{Name: "crash-loop-window", Usage: "the window of --crash-loop-restarts", Value: time.Minute},
			&cli.DurationFlag{Name: "lease", Usage: "cut off from the broker and its standby this long, a primary stops taking writes (the broker waits the same before promoting)", EnvVars: []string{"LARDER_AGENT_LEASE"}, Value: 5 * time.Second},
		},
		Action: func(c *cli.Context) error {
			cfg, err := agentConfigFrom(c)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runAgent(ctx, cfg, c.App.ErrWriter)
		},
	}
}

// agentConfig is `larder agent` once its flags are checked.
type agentConfig struct {
	host, listen, addr, dataDir, token string
	brokerURL, brokerToken             string // brokerURL: a checked list (api.ParseEndpoints)
	brokerTimeout                      time.Duration
	log                                *logrus.Logger
	local                              local.Options // supervision intervals
	lease                              time.Duration
}

func agentConfigFrom(c *cli.Context) (agentConfig, error) {
	cfg := agentConfig{
		host: c.String("host"), listen: c.String("listen"), addr: c.String("addr"),
		dataDir: c.String("data-dir"), token: c.String("token"),
		brokerURL: c.String("broker"), brokerToken: c.String("broker-token"), brokerTimeout: c.Duration("broker-timeout"),
		lease: c.Duration("lease"),
		local: local.Options{
			CheckInterval:            c.Duration("check-interval"),
			HangTimeout:              c.Duration("hang-timeout"),
			NoPersistenceHangTimeout: c.Duration("hang-timeout-no-persistence"),
			QuarantineRetention:      c.Duration("quarantine-retention"),
			CrashLoopRestarts:        c.Int("crash-loop-restarts"),
			CrashLoopWindow:          c.Duration("crash-loop-window"),
		},
	}
	if api.CheckName(api.HostName, cfg.host) != nil {
		return cfg, command.Usagef(agentUsage, "invalid --host %q: use %s", cfg.host, api.NameRule(api.HostName))
	}
	ip, _, err := net.SplitHostPort(cfg.listen)
	if err != nil {
		return cfg, command.Usagef(agentUsage, "invalid --listen %q: use IP:PORT, e.g. 10.0.0.5:7481", cfg.listen)
	}
	if cfg.addr == "" {
		if ip == "" || net.ParseIP(ip) == nil || net.ParseIP(ip).IsUnspecified() {
			return cfg, command.Usagef(agentUsage, "--listen %s names no address clients can dial: give --addr IP", cfg.listen)
		}
		cfg.addr = ip
	}
	if cfg.dataDir == "" {
		cfg.dataDir = filepath.Join(api.DefaultDataDir(), "agents", cfg.host)
	}
	if cfg.brokerURL != "" {
		if _, err := api.ParseEndpoints(cfg.brokerURL); err != nil {
			return cfg, command.Usagef(agentUsage, "--broker: %s", fault.Message(err))
		}
		if cfg.brokerToken == "" {
			return cfg, command.Usagef(agentUsage, "--broker needs --broker-token (or $LARDER_BROKER_TOKEN)")
		}
		if cfg.brokerTimeout <= 0 {
			return cfg, command.Usagef(agentUsage, "--broker-timeout must be positive")
		}
	}
	level, err := logrus.ParseLevel(c.String("log-level"))
	if err != nil {
		return cfg, command.UsageError(fmt.Sprintf("invalid --log-level %q", c.String("log-level")), "use debug, info, warn or error")
	}
	cfg.log = logrus.New()
	cfg.log.SetOutput(c.App.ErrWriter)
	cfg.log.SetLevel(level)
	return cfg, nil
}

// runAgent serves a LocalHost until ctx ends, then stops serving and
// supervising; the nodes keep running.
func runAgent(ctx context.Context, cfg agentConfig, stderr io.Writer) error {
	if err := atomicfile.PrivateDir(cfg.dataDir); err != nil {
		return fmt.Errorf("agent data dir: %w", err)
	}
	if cfg.token == "" {
		path := filepath.Join(cfg.dataDir, agentTokenFile)
		token, made, err := atomicfile.LoadOrCreateSecret(path)
		if err != nil {
			return err
		}
		cfg.token = token
		if made {
			fmt.Fprintf(stderr, "larder agent: generated an API token in %s\n", path)
		} else {
			fmt.Fprintf(stderr, "larder agent: using the API token in %s\n", path)
		}
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("agent listen: %w", err)
	}
	defer ln.Close()

	ring := agent.NewEventRing(agent.DefaultEventRingSize)
	opts := cfg.local
	opts.Name, opts.Root, opts.Addr, opts.Log, opts.OnEvent = cfg.host, filepath.Join(cfg.dataDir, "nodes"), cfg.addr, cfg.log, ring.Add
	h, err := local.New(opts)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Close(cctx); err != nil {
			cfg.log.WithError(err).Warn("closing the host")
		}
	}()

	lease := local.NewLease(h, cfg.lease, cfg.log)
	defer lease.Close()
	srv := &http.Server{
		Handler:           agent.TrackLease(lease, agent.NewHandler(h, ring, cfg.token, cfg.log)),
		ReadHeaderTimeout: 10 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	url := "http://" + advertised(ln.Addr().String(), cfg.addr)
	eng := h.Engine()
	fmt.Fprintf(stderr, "larder agent %s ready at %s (%s %s, nodes on %s in %s)\n",
		cfg.host, url, eng.Name, eng.Version, cfg.addr, opts.Root)

	var wg sync.WaitGroup
	if cfg.brokerURL != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			registerAgent(ctx, cfg, url, stderr)
		}()
	}
	select {
	case <-ctx.Done():
	case err = <-served:
		err = fmt.Errorf("agent API: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	wg.Wait()
	return err
}

// advertised is the address a broker dials: the listen address, with the
// nodes' address in place of an unspecified IP.
func advertised(listen, addr string) string {
	ip, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if p := net.ParseIP(ip); ip == "" || p != nil && p.IsUnspecified() {
		ip = addr
	}
	return net.JoinHostPort(ip, port)
}

// registerAgent tells the broker where this agent is, retrying with backoff
// (200ms doubling to 10s) until the broker accepts or ctx ends.
func registerAgent(ctx context.Context, cfg agentConfig, url string, stderr io.Writer) {
	cl, err := api.NewClientList(cfg.brokerURL, cfg.brokerToken)
	if err != nil { // checked by agentConfigFrom
		cfg.log.WithError(err).Error("cannot register with the broker")
		return
	}
	cl.Timeout = cfg.brokerTimeout
	reg := api.HostRegister{Name: cfg.host, URL: url, Token: cfg.token}
	log := cfg.log.WithField("brokers", cl.Endpoints.String())
	delay := backoff.New(200*time.Millisecond, 10*time.Second)
	for attempt := 1; ; attempt++ {
		_, err := cl.RegisterHost(ctx, reg)
		if err == nil {
			fmt.Fprintf(stderr, "larder agent: registered with the broker at %s\n", cl.BaseURL())
			return
		}
		if ctx.Err() != nil {
			return
		}
		if attempt == 1 || attempt%10 == 0 {
			log.WithError(err).WithField("attempt", attempt).Warn("cannot register with the broker; retrying")
		}
		if backoff.Wait(ctx, delay.Next()) != nil {
			return
		}
	}
}
