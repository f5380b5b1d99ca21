// Command federation-server runs one replica of the federation control plane.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/federation"
	"github.com/federation-dev/federation/federation/client"
	"github.com/federation-dev/federation/raftstore"
)

// config is every flag of the binary, validated before anything starts.
type config struct {
	id        string
	dataDir   string
	httpAddr  string
	raftAddr  string
	bootstrap bool
	join      string
	dev       bool
	logLevel  string
	noSync    bool
	// sec holds authentication, TLS and limits (security.go).
	sec securityFlags
	// pprof serves runtime profiles under /debug/pprof/ (--pprof).
	pprof bool
	svc   federation.Config
	// raftTimeout is the Raft heartbeat and election timeout: how soon a
	// dead leader is replaced (--raft-timeout).
	raftTimeout time.Duration
	// raftAdvertise is the Raft address peers dial, when it is not
	// --raft-addr: a NAT or proxy in front of this replica
	// (--raft-advertise).
	raftAdvertise string
	// memoryLimit is the Go runtime's soft memory limit (--memory-limit,
	// memlimit.go).
	memoryLimit string
	// memLimit and memLimitFrom are what memoryLimit decided from it.
	memLimit     int64
	memLimitFrom string
	// gcPercentFlag is --gc-percent (-1: decide, memlimit.go).
	gcPercentFlag int
}

func parseFlags(args []string) (*config, error) {
	c := &config{svc: federation.DefaultConfig()}
	fs := flag.NewFlagSet("federation-server", flag.ContinueOnError)
	fs.StringVar(&c.id, "id", "", "this replica's Raft server ID (required unless --dev)")
	fs.StringVar(&c.dataDir, "data-dir", "", "folder for the Raft log, stable store and snapshots (required unless --dev)")
	fs.StringVar(&c.httpAddr, "http-addr", "127.0.0.1:8080", "address of the HTTP API")
	fs.StringVar(&c.svc.AdvertiseHTTP, "advertise-http", "", "HTTP address other replicas use to forward to this one (default: --http-addr)")
	fs.StringVar(&c.raftAddr, "raft-addr", "127.0.0.1:7000", "address of the Raft transport")
	fs.StringVar(&c.raftAdvertise, "raft-advertise", "", "Raft address other replicas dial to reach this one, e.g. a NAT or proxy address (default: --raft-addr)")
	fs.BoolVar(&c.bootstrap, "bootstrap", false, "bootstrap a new control plane with this replica as its first voter")
	fs.StringVar(&c.join, "join", "", "HTTP URL of any member to join through (e.g. http://127.0.0.1:8080)")
	fs.BoolVar(&c.dev, "dev", false, "single replica with its data in a temporary folder: the embedded default")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&c.noSync, "unsafe-no-fsync", false, "do not fsync the Raft log (loses acknowledged writes on power loss; benchmarks only)")
	fs.DurationVar(&c.svc.HeartbeatTimeout, "heartbeat-timeout", c.svc.HeartbeatTimeout, "how long a cluster's lease lasts without a heartbeat")
	fs.DurationVar(&c.svc.FailoverGrace, "failover-grace", c.svc.FailoverGrace, "how long a cluster stays unhealthy before its executions are requeued")
	fs.DurationVar(&c.svc.SettleTime, "settle-time", c.svc.SettleTime, "how long a cluster must stay healthy before it gets work again")
	fs.Float64Var(&c.svc.RequeueRate, "requeue-rate", c.svc.RequeueRate, "requeues per second per cluster")
	fs.DurationVar(&c.svc.DrainHandoff, "drain-handoff", c.svc.DrainHandoff, "how long an execution requeued by a drain waits before it is placed again, so its old copy has stopped")
	fs.DurationVar(&c.svc.BreakerStartTimeout, "breaker-start-timeout", c.svc.BreakerStartTimeout, "how long an assignment may stay unstarted before it counts against its cluster's circuit breaker")
	fs.DurationVar(&c.svc.BreakerOpenTime, "breaker-open-time", c.svc.BreakerOpenTime, "how long an open circuit breaker waits before it lets one probe through")
	fs.DurationVar(&c.svc.Retention, "retention", c.svc.Retention, "how long a finished execution stays in the hot state before it moves to the archive, where it stays readable (0: never)")
	fs.IntVar(&c.svc.MaxPlacementLag, "max-placement-lag", c.svc.MaxPlacementLag, "submissions committed but not yet examined by the scheduler before new ones wait and then get 429 (0: no bound)")
	fs.DurationVar(&c.svc.AdmissionWait, "admission-wait", c.svc.AdmissionWait, "how long a submission over --max-placement-lag waits for the scheduler before it gets 429")
	fs.DurationVar(&c.raftTimeout, "raft-timeout", raftstore.DefaultHeartbeatTimeout, "Raft heartbeat and election timeout: how soon a lost leader is replaced")
	fs.BoolVar(&c.pprof, "pprof", false, "serve Go runtime profiles under /debug/pprof/ on the HTTP address (off by default)")
	fs.DurationVar(&c.svc.IdleTimeout, "idle-timeout", c.svc.IdleTimeout, "how long a keep-alive HTTP connection may wait for its next request before it is closed")
	fs.Int64Var(&c.svc.MaxBodyBytes, "max-body-bytes", c.svc.MaxBodyBytes, "largest request body accepted")
	fs.DurationVar(&c.svc.Cache.TTL, "cache-ttl", c.svc.Cache.TTL, "how long a task cache entry lives after it was stored (0: until evicted)")
	fs.IntVar(&c.svc.Cache.MaxEntriesPerProject, "cache-max-entries-per-project", c.svc.Cache.MaxEntriesPerProject, "task cache entries per project; over it the least recently used go (0: no cap)")
	fs.Int64Var(&c.svc.Cache.MaxBytesPerProject, "cache-max-bytes-per-project", c.svc.Cache.MaxBytesPerProject, "task cache output bytes per project; over it the least recently used go (0: no cap)")
	fs.DurationVar(&c.svc.Cache.ClaimTimeout, "cache-claim-timeout", c.svc.Cache.ClaimTimeout, "how long a run computing a cached node holds back other runs of the same key")
	fs.IntVar(&c.gcPercentFlag, "gc-percent", -1, "the collector's GOGC (default: GOGC, else 400 while a memory limit is in force, else 100)")
	fs.StringVar(&c.memoryLimit, "memory-limit", "", "soft memory limit of the Go runtime, e.g. 1800Mi; 0 turns it off (default: GOMEMLIMIT, else 90% of the container's cgroup memory limit)")
	c.sec.register(fs, &c.svc)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	c.svc.HTTPAddr = c.httpAddr
	if c.dev {
		if c.id == "" {
			c.id = "dev"
		}
		if c.dataDir == "" {
			dir, err := os.MkdirTemp("", "federation-dev-")
			if err != nil {
				return nil, fmt.Errorf("make dev data dir: %w", err)
			}
			c.dataDir = dir
		}
		if c.join == "" {
			c.bootstrap = true
		}
	}
	var errs []error
	if c.id == "" {
		errs = append(errs, errors.New("--id is required"))
	}
	if c.dataDir == "" {
		errs = append(errs, errors.New("--data-dir is required"))
	}
	if c.bootstrap && c.join != "" {
		errs = append(errs, errors.New("--bootstrap and --join exclude each other"))
	}
	var err error
	if c.memLimit, c.memLimitFrom, err = memoryLimit(c.memoryLimit, cgroupMemoryMax); err != nil {
		errs = append(errs, err)
	}
	if c.gcPercentFlag < -1 {
		errs = append(errs, fmt.Errorf("--gc-percent %d: want 0 or more (-1: decide)", c.gcPercentFlag))
	}
	if err := c.svc.Validate(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.sec.validate(c.dev, c.svc.Limits)...)
	return c, errors.Join(errs...)
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "federation-server:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "federation-server:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg *config) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg.svc.Logger = log
	if cfg.memLimitFrom != "" {
		applyMemoryLimit(cfg.memLimit, cfg.memLimitFrom)
		log.Info("memory limit", "bytes", debug.SetMemoryLimit(-1), "from", cfg.memLimitFrom)
	}
	// SetMemoryLimit(-1) only reads the limit; MaxInt64 is "none".
	limited := debug.SetMemoryLimit(-1) < math.MaxInt64
	switch pct, from := gcPercent(cfg.gcPercentFlag, limited, os.Getenv("GOGC")); from {
	case "":
	case "GOGC":
		log.Info("gc percent", "GOGC", os.Getenv("GOGC"))
	default:
		debug.SetGCPercent(pct)
		log.Info("gc percent", "percent", pct, "from", from)
	}
	if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
		return fmt.Errorf("make data dir: %w", err)
	}
	stream, joinOpts, err := cfg.sec.setup(ctx, log, &cfg.svc, cfg.raftAddr)
	if err != nil {
		return err
	}
	bindAddr := cfg.raftAddr
	if stream != nil {
		bindAddr = ""
	}
	node, err := raftstore.Open(raftstore.Config{
		StreamLayer: stream,
		ID:          cfg.id,
		Dir:         filepath.Clean(cfg.dataDir),
		BindAddr:    bindAddr,
		Bootstrap:   cfg.bootstrap,
		NoSync:      cfg.noSync,
		Logger:      log,

		HeartbeatTimeout: cfg.raftTimeout,
		ElectionTimeout:  cfg.raftTimeout,
		// The lease must stay below the heartbeat timeout.
		LeaderLeaseTimeout: min(raftstore.DefaultLeaderLeaseTimeout, cfg.raftTimeout/2),

		// Over TLS too: the certificate must then name this address's host.
		AdvertiseAddr: cfg.raftAdvertise,
	})
	if err != nil {
		return fmt.Errorf("open raft node: %w", err)
	}
	defer func() {
		if err := node.Close(); err != nil {
			log.Warn("close raft node", "err", err)
		}
	}()
	srv, err := federation.New(cfg.svc, node)
	if err != nil {
		return err
	}
	if cfg.pprof {
		srv.EnablePprof()
	}
	if _, err := srv.Listen(); err != nil {
		return err
	}
	if cfg.join != "" {
		go joinLoop(ctx, log, cfg.join, v1.JoinRequest{ID: cfg.id, Address: node.RaftAddr(), HTTPAddress: srv.HTTPAddr()}, joinOpts...)
	}
	if cfg.dev {
		log.Info("dev mode: single replica", "data-dir", cfg.dataDir, "http", srv.HTTPAddr())
	}
	return srv.Run(ctx)
}

// joinLoop asks a member to add this replica, retrying until it is done:
// the member may not know a leader yet when both start together.
func joinLoop(ctx context.Context, log *slog.Logger, url string, req v1.JoinRequest, opts ...client.Option) {
	c, err := client.New(url, opts...)
	if err != nil {
		log.Error("join", "url", url, "err", err)
		return
	}
	for backoff := 200 * time.Millisecond; ctx.Err() == nil; backoff = min(2*backoff, 5*time.Second) {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := c.RaftJoin(rctx, req)
		cancel()
		if err == nil {
			log.Info("joined the control plane", "via", url)
			return
		}
		log.Warn("join failed, retrying", "via", url, "err", err, "in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
	}
}
