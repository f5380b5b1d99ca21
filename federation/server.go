package federation

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/raftstore"
)

// Server is one control-plane replica's service: the HTTP API over its Raft
// node, and the leader-only loops (scheduler, health monitor).
type Server struct {
	cfg     Config
	node    *raftstore.Node
	log     *slog.Logger
	metrics *metrics
	reg     *prometheus.Registry
	mux     *http.ServeMux
	proxy   *forwarder
	// cache serves the task cache API and sweeps it (api_cache.go).
	cache *cacheAPI
	// adm holds back submissions while placement is behind (admission.go).
	adm *admission

	mu       sync.Mutex
	listener net.Listener
	httpSrv  *http.Server
}

// New builds the service over an open Raft node. Run starts it.
func New(cfg Config, node *raftstore.Node) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("federation config: %w", err)
	}
	if node == nil {
		return nil, errors.New("federation: raft node is required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Server{cfg: cfg, node: node, log: log.With("component", "federation", "id", node.ID())}
	s.reg = prometheus.NewRegistry()
	s.metrics = newMetrics(s.reg, node)
	s.proxy = newForwarder(node, s.log)
	if cfg.ForwardTLS != nil {
		s.proxy.useTLS(cfg.ForwardTLS)
	}
	s.cache = newCacheAPI(s)
	s.adm = newAdmission(cfg.MaxPlacementLag, cfg.AdmissionWait)
	s.reg.MustRegister(s.adm.lagGauge(node))
	s.mux = s.routes()
	return s, nil
}

// Registry is the server's Prometheus registry, for callers that add collectors.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Handler returns the HTTP handler of the API.
func (s *Server) Handler() http.Handler { return s.mux }

// Listen binds the HTTP address. It is separate from Serve so that callers
// (tests, join) learn the bound address before serving starts.
func (s *Server) Listen() (string, error) {
	ln, err := net.Listen("tcp", s.cfg.HTTPAddr)
	if err != nil {
		return "", fmt.Errorf("listen on %s: %w", s.cfg.HTTPAddr, err)
	}
	if s.cfg.TLS != nil {
		ln = tls.NewListener(ln, s.cfg.TLS)
	}
	s.mu.Lock()
	s.listener = ln
	s.mu.Unlock()
	return ln.Addr().String(), nil
}

// HTTPAddr is the address other replicas and clients use to reach this one.
func (s *Server) HTTPAddr() string {
	if s.cfg.AdvertiseHTTP != "" {
		return s.cfg.AdvertiseHTTP
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener != nil {
		return s.listener.Addr().String()
	}
	return s.cfg.HTTPAddr
}

// Run serves the API and runs the leader loops until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	ln := s.listener
	s.mu.Unlock()
	if ln == nil {
		if _, err := s.Listen(); err != nil {
			return err
		}
		s.mu.Lock()
		ln = s.listener
		s.mu.Unlock()
	}
	// ErrorLog: TLS handshake failures (scanners, clients without the CA)
	// go to the structured log, not to stderr.
	// No ReadTimeout or WriteTimeout: long polls and watches outlive any
	// fixed bound; a slow client is held to ReadHeaderTimeout and an idle
	// one to IdleTimeout.
	srv := &http.Server{
		Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: s.cfg.IdleTimeout,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.mu.Lock()
	s.httpSrv = srv
	s.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.runLeaderLoops(ctx) }()
	go func() { defer wg.Done(); s.metrics.run(ctx, s.node) }()
	if s.cfg.Auth != nil {
		wg.Go(func() { s.cfg.Auth.Watch(ctx, s.cfg.TokenReloadInterval) })
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("serving", "http", ln.Addr().String(), "raft", s.node.RaftAddr())
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	shutCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	_ = srv.Shutdown(shutCtx)
	cancel()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// runLeaderLoops runs the scheduler and health monitor while this replica
// leads, and stops them when it loses leadership.
func (s *Server) runLeaderLoops(ctx context.Context) {
	ch := s.node.LeaderCh()
	var stop context.CancelFunc
	var wg sync.WaitGroup
	startStop := func(leader bool) {
		if leader && stop == nil {
			lctx, c := context.WithCancel(ctx)
			stop = c
			wg.Add(3)
			go func() { defer wg.Done(); s.ensureMemberMeta(lctx) }()
			go func() { defer wg.Done(); newScheduler(s).run(lctx) }()
			go func() { defer wg.Done(); newHealthMonitor(s).run(lctx) }()
			wg.Go(func() { s.cache.sweep(lctx) })
			wg.Go(func() { (&retainer{s: s}).run(lctx) })
			s.log.Info("leading: scheduler and health monitor started")
		}
		if !leader && stop != nil {
			stop()
			wg.Wait()
			stop = nil
			s.log.Info("no longer leading: scheduler and health monitor stopped")
		}
	}
	startStop(s.node.IsLeader())
	for {
		select {
		case <-ctx.Done():
			startStop(false)
			return
		case leader := <-ch:
			startStop(leader)
		}
	}
}

// ensureMemberMeta records this replica's HTTP address in the replicated
// state, so that followers can forward to it once it leads.
func (s *Server) ensureMemberMeta(ctx context.Context) {
	want := s.HTTPAddr()
	for ctx.Err() == nil {
		if s.node.State().Members()[s.node.ID()] == want {
			return
		}
		_, err := s.node.Apply(ctx, raftstore.Command{Type: raftstore.CmdSetMember, Member: &raftstore.MemberMeta{ID: s.node.ID(), HTTPAddress: want}})
		if err == nil {
			return
		}
		s.log.Warn("record member address", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// apply commits one command and returns its result, folding the
// per-command error into the returned error.
func (s *Server) apply(ctx context.Context, cmd raftstore.Command) (raftstore.Result, error) {
	res, err := s.node.Apply(ctx, cmd)
	if err != nil {
		return res, err
	}
	return res, res.Err
}

// now is the proposer's clock; the FSM never reads one.
func now() time.Time { return time.Now().UTC() }

var _ = v1.APIPrefix
