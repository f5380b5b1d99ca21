// Command cluster-agent runs in a member cluster: it heartbeats the
// cluster's capacity to the federation, runs the executions assigned to it
// (as Workflow resources on Kubernetes, or in a simulation) and reports
// their progress.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/clusteragent"
	"github.com/federation-dev/federation/clusteragent/sim"
	"github.com/federation-dev/federation/federation/client"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Backend kinds.
const (
	backendKubernetes = "kubernetes"
	backendSim        = "sim"
)

// config is every flag of the binary, validated before anything starts.
type config struct {
	cluster     string
	server      string
	token       string
	caFile      string // CA of the federation's TLS certificate (--ca)
	backend     string
	kubeconfig  string
	namespace   string
	installCRD  bool
	simCapacity string
	simTaskDur  time.Duration
	simFailRate float64
	simSeed     int64
	// taskCache turns the federation-wide task cache on; cacheMaxWait
	// bounds waiting for another cluster's run of the same key.
	taskCache    bool
	cacheMaxWait time.Duration

	metricsAddr string
	logLevel    string
	agent       clusteragent.Config

	capacity v1.Amounts // parsed from simCapacity
	level    slog.Level
}

func parseFlags(args []string, getenv func(string) string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("cluster-agent", flag.ContinueOnError)
	fs.StringVar(&c.cluster, "cluster", "", "name the cluster was registered under with `fedctl cluster register` (required)")
	fs.StringVar(&c.server, "server", getenv("FEDERATION_SERVER"), "URL of the federation API (default $FEDERATION_SERVER)")
	fs.StringVar(&c.token, "token", getenv("FEDCTL_TOKEN"), "bearer token for the federation API (default $FEDCTL_TOKEN)")
	fs.StringVar(&c.caFile, "ca", getenv("FEDERATION_CA"), "PEM CA that signed the federation's TLS certificate, for an https --server (default $FEDERATION_CA)")
	fs.StringVar(&c.backend, "backend", backendKubernetes, "where workflows run: kubernetes or sim")
	fs.StringVar(&c.kubeconfig, "kubeconfig", "", "kubeconfig of the member cluster (default: in-cluster config)")
	fs.StringVar(&c.namespace, "namespace", "", "namespace of the Workflow resources and their pods (default: the backend's)")
	fs.BoolVar(&c.installCRD, "install-crd", false, "create or update the Workflow CRD at start (kubernetes backend)")
	fs.StringVar(&c.simCapacity, "sim-capacity", "cpu=64,memory=256Gi,pods=500", "capacity of the simulated cluster")
	fs.DurationVar(&c.simTaskDur, "sim-task-duration", 2*time.Second, "how long each simulated task runs")
	fs.Float64Var(&c.simFailRate, "sim-fail-rate", 0, "probability (0 to 1) that a simulated task run fails")
	fs.Int64Var(&c.simSeed, "sim-seed", 1, "seed of the simulated failures")
	fs.BoolVar(&c.taskCache, "task-cache", true, "consult the federation-wide task cache before running a node marked cache")
	fs.DurationVar(&c.cacheMaxWait, "cache-max-wait", clusteragent.DefaultCacheMaxWait, "how long a cached node waits for another run of the same key before it runs itself")
	fs.StringVar(&c.metricsAddr, "metrics-addr", ":9091", "address serving /metrics and /healthz (empty: none)")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&c.agent.HeartbeatInterval, "heartbeat-interval", clusteragent.DefaultHeartbeatInterval, "how often the cluster's lease is renewed")
	fs.DurationVar(&c.agent.LeaseGrace, "lease-grace", 0, "abort this cluster's workflows after this long without a successful heartbeat; must lie between the federation's lease and lease + failover grace (0: lease + failover grace/2, as the federation says at connect)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	c.agent.Cluster, c.agent.Version = c.cluster, version
	return c, c.validate()
}

// validate checks every flag and parses the ones with a syntax.
func (c *config) validate() error {
	var errs []error
	if c.cluster == "" {
		errs = append(errs, errors.New("--cluster is required"))
	} else if err := v1.ValidateName("--cluster", c.cluster); err != nil {
		errs = append(errs, err)
	}
	if c.server == "" {
		errs = append(errs, errors.New("--server (or $FEDERATION_SERVER) is required"))
	} else if _, err := client.New(c.server); err != nil {
		errs = append(errs, fmt.Errorf("--server: %w", err))
	}
	switch c.backend {
	case backendKubernetes:
	case backendSim:
		var err error
		if c.capacity, err = sim.ParseCapacity(c.simCapacity); err != nil {
			errs = append(errs, fmt.Errorf("--sim-capacity: %w", err))
		} else if c.capacity.Pods < 1 {
			errs = append(errs, errors.New("--sim-capacity: pods must be at least 1"))
		}
		if c.simTaskDur <= 0 {
			errs = append(errs, fmt.Errorf("--sim-task-duration %s: must be positive", c.simTaskDur))
		}
		if c.simFailRate < 0 || c.simFailRate > 1 {
			errs = append(errs, fmt.Errorf("--sim-fail-rate %v: want 0 to 1", c.simFailRate))
		}
	default:
		errs = append(errs, fmt.Errorf("--backend %q: want kubernetes or sim", c.backend))
	}
	if c.metricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.metricsAddr); err != nil {
			errs = append(errs, fmt.Errorf("--metrics-addr %q: %w", c.metricsAddr, err))
		}
	}
	if err := c.level.UnmarshalText([]byte(c.logLevel)); err != nil {
		errs = append(errs, fmt.Errorf("--log-level: %w", err))
	}
	if c.agent.HeartbeatInterval <= 0 {
		errs = append(errs, fmt.Errorf("--heartbeat-interval %s: must be positive", c.agent.HeartbeatInterval))
	}
	if c.agent.LeaseGrace < 0 {
		errs = append(errs, fmt.Errorf("--lease-grace %s: must not be negative", c.agent.LeaseGrace))
	} else if c.agent.LeaseGrace > 0 && c.agent.LeaseGrace <= c.agent.HeartbeatInterval {
		errs = append(errs, fmt.Errorf("--lease-grace %s: must exceed --heartbeat-interval %s", c.agent.LeaseGrace, c.agent.HeartbeatInterval))
	}
	return errors.Join(errs...)
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster-agent:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "cluster-agent:", err)
		os.Exit(1)
	}
}

// runnableBackend is a backend with its own loop.
type runnableBackend interface {
	clusteragent.Backend
	Run(ctx context.Context) error
}

// registry is where metrics are registered and gathered from.
type registry interface {
	prometheus.Registerer
	prometheus.Gatherer
}

// run starts the backend, the metrics server and the agent, and stops them
// all when ctx ends or one of them fails.
func run(ctx context.Context, cfg *config) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.level}))
	opts := []client.Option{client.WithToken(cfg.token), client.WithUserAgent("cluster-agent/" + version)}
	if cfg.caFile != "" {
		tc, err := client.TLSConfigForCA(cfg.caFile)
		if err != nil {
			return fmt.Errorf("--ca: %w", err)
		}
		opts = append(opts, client.WithTLSConfig(tc))
	}
	cp, err := client.New(cfg.server, opts...)
	if err != nil {
		return err
	}
	var (
		backend runnableBackend
		reg     registry
	)
	switch cfg.backend {
	case backendSim:
		r := prometheus.NewRegistry()
		r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		reg = r
		var cache clusteragent.Cache
		if cache, err = newTaskCache(cfg, cp, r, log); err != nil {
			return err
		}
		backend, err = sim.New(sim.Options{Capacity: cfg.capacity, TaskDuration: cfg.simTaskDur, FailRate: cfg.simFailRate, Seed: cfg.simSeed, Logger: log,
			Cache: cache, CacheMaxWait: cfg.cacheMaxWait})
	case backendKubernetes:
		backend, reg, err = newKubeBackend(cfg, cp, log)
	}
	if err != nil {
		return fmt.Errorf("%s backend: %w", cfg.backend, err)
	}
	cfg.agent.Registry, cfg.agent.Logger = reg, log
	agent, err := clusteragent.New(cfg.agent, cp, backend)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var srv *http.Server
	if cfg.metricsAddr != "" {
		ln, err := net.Listen("tcp", cfg.metricsAddr)
		if err != nil {
			return fmt.Errorf("listen for metrics: %w", err)
		}
		srv = &http.Server{Handler: metricsMux(reg), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics server stopped", "err", err)
			}
		}()
		log.Info("serving metrics", "addr", ln.Addr().String())
	}

	var wg sync.WaitGroup
	var backendErr error
	wg.Go(func() {
		if backendErr = backend.Run(ctx); backendErr != nil {
			cancel() // without its backend the agent cannot do anything
		}
	})
	log.Info("cluster agent starting", "cluster", cfg.cluster, "server", cp.BaseURL(), "backend", cfg.backend, "version", version)
	agentErr := agent.Run(ctx)
	cancel()
	wg.Wait()
	if srv != nil {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
	}
	if agentErr != nil {
		return agentErr
	}
	if backendErr != nil {
		return fmt.Errorf("%s backend: %w", cfg.backend, backendErr)
	}
	return nil
}

// metricsMux serves the metrics and a liveness probe.
func metricsMux(g prometheus.Gatherer) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}
