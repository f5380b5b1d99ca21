package clusteragent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/federation/client"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
)

// Defaults of Config.
const (
	DefaultHeartbeatInterval = 2 * time.Second
	DefaultLongPollWait      = 25 * time.Second
	DefaultReportInterval    = 5 * time.Second
	DefaultCallTimeout       = 10 * time.Second
	DefaultBackoffBase       = 200 * time.Millisecond
	DefaultBackoffMax        = 10 * time.Second
	DefaultBreakerFailures   = 5
	DefaultBreakerTimeout    = 5 * time.Second
)

// ErrClusterNotRegistered is returned by Run when the control plane does not
// know the agent's cluster.
var ErrClusterNotRegistered = errors.New("cluster is not registered with the federation")

// notRegisteredError names the cluster and says what to do about it.
type notRegisteredError struct{ cluster string }

func (e notRegisteredError) Error() string {
	return fmt.Sprintf("cluster %s is not registered with the federation: register it with `fedctl cluster register %s`", e.cluster, e.cluster)
}

func (e notRegisteredError) Is(target error) bool { return target == ErrClusterNotRegistered }

// ControlPlane is the agent's side of the federation API.
// *client.Client implements it.
type ControlPlane interface {
	// Heartbeat renews the cluster's lease and reports its capacity.
	Heartbeat(ctx context.Context, cluster string, hb v1.Heartbeat) (v1.HeartbeatResponse, error)
	// Assignments long-polls the full set of executions the cluster should
	// hold, answering when its revision is above after or wait passed.
	Assignments(ctx context.Context, cluster string, after uint64, wait time.Duration) (v1.AssignmentList, error)
	// Report sends status reports and returns a verdict on each.
	Report(ctx context.Context, cluster string, batch v1.ReportBatch) (v1.ReportBatchResponse, error)
}

// Config configures an Agent. Zero durations take the defaults above.
type Config struct {
	// Cluster is the name the cluster was registered under.
	Cluster string
	// Version is the agent's version, sent with every heartbeat.
	Version string
	// HeartbeatInterval is how often the lease is renewed.
	HeartbeatInterval time.Duration
	// LongPollWait is how long the control plane may hold an assignments
	// request when nothing changed.
	LongPollWait time.Duration
	// ReportInterval is how often reports are sent when the backend signals
	// no change: it retries what was not acknowledged.
	ReportInterval time.Duration
	// LeaseGrace: after this long without a successful heartbeat the agent
	// aborts and deletes its unfinished workflows, because the control plane
	// requeues them elsewhere once the lease (heartbeat timeout) and the
	// failover grace have passed: the agent must stop its copies before
	// then, or an execution would run twice. It must exceed the control
	// plane's lease, so that a slow heartbeat does not stop workflows the
	// control plane still counts on. Zero derives it from the first
	// heartbeat answer: lease + failover grace/2, the middle of the safe
	// window (and disabled when the control plane does not say its grace).
	LeaseGrace time.Duration
	// CallTimeout bounds one heartbeat or report call, and a long poll
	// beyond LongPollWait.
	CallTimeout time.Duration
	// BackoffBase and BackoffMax shape the full-jitter backoff after errors.
	BackoffBase, BackoffMax time.Duration
	// BreakerFailures is how many consecutive failures open a call's
	// circuit breaker; BreakerTimeout is how long it stays open.
	BreakerFailures uint32
	BreakerTimeout  time.Duration
	// Registry receives the agent's metrics; nil means the default
	// Prometheus registerer.
	Registry prometheus.Registerer
	// Logger receives the session's logs; nil means slog.Default().
	Logger *slog.Logger
}

func (c *Config) defaults() {
	setDefault(&c.HeartbeatInterval, DefaultHeartbeatInterval)
	setDefault(&c.LongPollWait, DefaultLongPollWait)
	setDefault(&c.ReportInterval, DefaultReportInterval)
	setDefault(&c.CallTimeout, DefaultCallTimeout)
	setDefault(&c.BackoffBase, DefaultBackoffBase)
	setDefault(&c.BackoffMax, DefaultBackoffMax)
	setDefault(&c.BreakerTimeout, DefaultBreakerTimeout)
	if c.BreakerFailures == 0 {
		c.BreakerFailures = DefaultBreakerFailures
	}
	if c.Registry == nil {
		c.Registry = prometheus.DefaultRegisterer
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d == 0 {
		*d = v
	}
}

// Validate checks a defaulted config.
func (c *Config) validate() error {
	if err := v1.ValidateName("cluster", c.Cluster); err != nil {
		return err
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"heartbeat interval", c.HeartbeatInterval}, {"long-poll wait", c.LongPollWait},
		{"report interval", c.ReportInterval}, {"call timeout", c.CallTimeout},
		{"backoff base", c.BackoffBase}, {"backoff max", c.BackoffMax}, {"breaker timeout", c.BreakerTimeout},
	} {
		if d.v < 0 {
			return fmt.Errorf("%s %s: must be positive", d.name, d.v)
		}
	}
	if c.LeaseGrace < 0 {
		return fmt.Errorf("lease grace %s: must not be negative", c.LeaseGrace)
	}
	if c.LeaseGrace > 0 && c.LeaseGrace <= c.HeartbeatInterval {
		return fmt.Errorf("lease grace %s: must exceed the heartbeat interval %s", c.LeaseGrace, c.HeartbeatInterval)
	}
	if c.BackoffMax < c.BackoffBase {
		return fmt.Errorf("backoff max %s: below backoff base %s", c.BackoffMax, c.BackoffBase)
	}
	return nil
}

// Agent is one cluster's session with the federation control plane.
type Agent struct {
	cfg     Config
	cp      ControlPlane
	backend Backend
	log     *slog.Logger
	m       *metrics

	hbBreaker     *gobreaker.CircuitBreaker[v1.HeartbeatResponse]
	assignBreaker *gobreaker.CircuitBreaker[v1.AssignmentList]
	reportBreaker *gobreaker.CircuitBreaker[v1.ReportBatchResponse]

	// mu serialises what changes the backend's set of workflows: the
	// assignment sync, verdicts and lease expiry, so that one never acts on
	// a List another has made stale.
	mu sync.Mutex
	// tombstones are copies deleted after a final or stale verdict; an
	// assignment list fetched before the verdict must not start them again.
	tombstones map[wfID]struct{}

	reports    *reportBuffer
	kickReport chan struct{}
	// garbage holds the finished workflows to delete; gcLoop deletes them
	// so that the report loop never waits for a.mu or the deletes.
	garbage *garbageQueue

	running       atomic.Bool
	lastHeartbeat atomic.Int64 // unix nanoseconds of the last successful heartbeat
	leaseLost     atomic.Bool
	resync        atomic.Bool
	clusterState  atomic.Value // v1.ClusterState

	// leaseGrace is the lease grace in force, in nanoseconds (0: none yet).
	leaseGrace atomic.Int64
}

// wfID identifies one workflow copy.
type wfID struct {
	key     v1.ExecutionKey
	attempt int
}

// New returns an agent of cluster cfg.Cluster that talks to cp and runs
// workflows on b.
func New(cfg Config, cp ControlPlane, b Backend) (*Agent, error) {
	if cp == nil || b == nil {
		return nil, errors.New("new cluster agent: control plane and backend are required")
	}
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("cluster agent config: %w", err)
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger.With("cluster", cfg.Cluster)
	a := &Agent{
		cfg:        cfg,
		cp:         cp,
		backend:    b,
		log:        log,
		m:          m,
		tombstones: map[wfID]struct{}{},
		reports:    newReportBuffer(),
		kickReport: make(chan struct{}, 1),
		garbage:    newGarbageQueue(),
	}
	a.hbBreaker = newBreaker[v1.HeartbeatResponse](callHeartbeat, &a.cfg, m, log)
	a.assignBreaker = newBreaker[v1.AssignmentList](callAssignments, &a.cfg, m, log)
	a.reportBreaker = newBreaker[v1.ReportBatchResponse](callReport, &a.cfg, m, log)
	return a, nil
}

// Run connects to the control plane and runs the session until ctx ends,
// then returns nil. It returns an error wrapping ErrClusterNotRegistered
// when the first heartbeat says the cluster is unknown; other failures are
// retried for as long as ctx lasts. Run may be called once.
func (a *Agent) Run(ctx context.Context) error {
	if !a.running.CompareAndSwap(false, true) {
		return errors.New("cluster agent: Run called twice")
	}
	a.lastHeartbeat.Store(time.Now().UnixNano())
	if err := a.connect(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	var wg sync.WaitGroup
	wg.Go(func() { a.heartbeatLoop(ctx) })
	wg.Go(func() { a.assignmentLoop(ctx) })
	wg.Go(func() { a.reportLoop(ctx) })
	wg.Go(func() { a.gcLoop(ctx) })
	wg.Wait()
	a.log.Info("cluster agent stopped")
	return nil
}

// connect heartbeats until the control plane answers. Only an unregistered
// cluster is fatal: anything else may be a control plane that is starting.
func (a *Agent) connect(ctx context.Context) error {
	bo := newBackoff(a.cfg.BackoffBase, a.cfg.BackoffMax)
	for {
		resp, err := a.heartbeat(ctx)
		if err == nil {
			a.log.Info("connected to the federation", "state", a.ClusterState(), "lease", resp.LeaseDuration.Duration,
				"failover_grace", resp.FailoverGrace.Duration, "lease_grace", a.effectiveLeaseGrace())
			lease, requeueAt := resp.LeaseDuration.Duration, resp.LeaseDuration.Duration+resp.FailoverGrace.Duration
			switch g := a.cfg.LeaseGrace; {
			case g > 0 && g <= lease:
				a.log.Warn("lease grace is not longer than the federation's lease: workflows may be aborted while the federation still counts on them",
					"lease_grace", g, "lease", lease)
			case g > 0 && resp.FailoverGrace.Duration > 0 && g >= requeueAt:
				a.log.Warn("lease grace is not shorter than the federation's lease plus failover grace: a cut-off cluster may still run workflows the federation has requeued elsewhere",
					"lease_grace", g, "requeue_after", requeueAt)
			}
			return nil
		}
		if client.IsNotFound(err) {
			return notRegisteredError{a.cfg.Cluster}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		a.log.Warn("cannot reach the federation yet; retrying", "err", err)
		a.checkLease(ctx)
		if !sleep(ctx, min(bo.next(err), a.cfg.HeartbeatInterval)) {
			return ctx.Err()
		}
	}
}

// ClusterState is the state of the cluster as the last heartbeat answer
// gave it ("" before the first).
func (a *Agent) ClusterState() v1.ClusterState {
	s, _ := a.clusterState.Load().(v1.ClusterState)
	return s
}
