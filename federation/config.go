package federation

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/placement"
	"github.com/federation-dev/federation/raftstore"
)

// Config is everything a replica needs, filled from flags and validated
// before anything starts.
type Config struct {
	// HTTPAddr is where the API listens; AdvertiseHTTP is what other
	// replicas use to forward to it (default: the bound address).
	HTTPAddr      string
	AdvertiseHTTP string

	// MaxBodyBytes bounds a request body.
	MaxBodyBytes int64
	Limits       v1.Limits

	// HeartbeatTimeout is how long a cluster's lease lasts without a heartbeat.
	HeartbeatTimeout time.Duration
	// FailoverGrace is how long a cluster stays unhealthy before its
	// executions are requeued elsewhere.
	FailoverGrace time.Duration
	// SettleTime is how long a cluster that came back must stay healthy
	// before it gets work again.
	SettleTime time.Duration
	// RequeueRate bounds requeues per second per cluster, so a drain or a
	// lost cluster cannot stampede the others.
	RequeueRate float64
	// DrainHandoff is how long an execution requeued by a drain waits
	// before it is placed again, so that the drained cluster's agent, which
	// learns of the requeue from its next assignment poll, has stopped the
	// old copy before the new one starts.
	DrainHandoff time.Duration
	// BreakerFailures consecutive start failures open a cluster's circuit
	// breaker; BreakerOpenTime later it lets one probe through
	// (half-open). BreakerStartTimeout is how long an assignment may stay
	// unstarted before it counts as a start failure.
	BreakerFailures     uint32
	BreakerOpenTime     time.Duration
	BreakerStartTimeout time.Duration
	// LongPollMax caps how long an assignment long-poll waits.
	LongPollMax time.Duration
	// IdleTimeout closes a keep-alive connection that sends no next
	// request for this long: without it every client that goes quiet keeps
	// a file descriptor and a goroutine on the replica for good.
	IdleTimeout time.Duration
	// SchedulerInterval is how often the scheduler runs without a change,
	// for time-based eligibility (settle times).
	SchedulerInterval time.Duration
	// MaxPlacementLag bounds the submissions committed but not yet
	// examined by a scheduler round (admission.go): over it, a submission
	// waits up to AdmissionWait for the scheduler, then gets 429. Zero
	// turns admission control off.
	MaxPlacementLag int
	AdmissionWait   time.Duration
	// OnAssigned, when set, is called by the scheduler with the results of
	// each batch of assignments it committed and the time they were
	// acknowledged, for benchmarks and tests. It must be quick and must
	// not modify the results, which are the stored versions.
	OnAssigned func(results []raftstore.Result, acked time.Time)
	// Retention is how long a terminal execution stays in the hot state
	// before the leader archives it (retention.go); zero keeps everything
	// hot.
	Retention time.Duration
	// Placement tunes the placement engine.
	Placement placement.Options
	// Cache tunes the federation-wide task cache (cache_config.go).
	Cache CacheConfig

	// Auth authenticates callers by bearer token; nil turns authentication
	// off (--dev, --insecure-no-auth): every caller may do everything.
	Auth *TokenStore
	// TokenReloadInterval is how often Auth's file is checked for changes.
	TokenReloadInterval time.Duration
	// SubmitRate bounds each token's submissions per second, with bursts of
	// SubmitBurst; zero means no limit. It applies only with Auth.
	SubmitRate  float64
	SubmitBurst int
	// TLS, when set, serves the API over TLS. ForwardTLS is the client side
	// used to forward requests to the leader over https.
	TLS        *tls.Config
	ForwardTLS *tls.Config

	Logger *slog.Logger
}

// DefaultConfig returns production defaults.
func DefaultConfig() Config {
	return Config{
		HTTPAddr:          "127.0.0.1:8080",
		MaxBodyBytes:      1 << 20,
		Limits:            v1.DefaultLimits,
		HeartbeatTimeout:  15 * time.Second,
		FailoverGrace:     60 * time.Second,
		SettleTime:        30 * time.Second,
		RequeueRate:       50,
		LongPollMax:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		SchedulerInterval: time.Second,
		MaxPlacementLag:   DefaultMaxPlacementLag,
		AdmissionWait:     time.Second,
		Retention:         24 * time.Hour,
		Placement: placement.Options{
			SpotLabel:          "capacity=spot",
			BestEffortHeadroom: 0.1,
		},
		Cache: DefaultCacheConfig(),

		DrainHandoff:    2 * time.Second,
		BreakerFailures: 5,
		BreakerOpenTime: 30 * time.Second,
		// Above the agent's assignment poll and a busy apiserver's create.
		BreakerStartTimeout: 2 * time.Minute,

		TokenReloadInterval: 2 * time.Second,
		SubmitRate:          20,
		SubmitBurst:         100,
	}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.HTTPAddr == "" {
		errs = append(errs, errors.New("http address is required"))
	}
	if c.MaxBodyBytes <= 0 {
		errs = append(errs, fmt.Errorf("max body bytes %d must be positive", c.MaxBodyBytes))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"heartbeat timeout", c.HeartbeatTimeout}, {"failover grace", c.FailoverGrace}, {"long-poll max", c.LongPollMax}, {"idle timeout", c.IdleTimeout}, {"scheduler interval", c.SchedulerInterval}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s %s must be positive", d.name, d.v))
		}
	}
	if c.MaxPlacementLag < 0 {
		errs = append(errs, fmt.Errorf("max placement lag %d must not be negative", c.MaxPlacementLag))
	}
	if c.MaxPlacementLag > 0 && c.AdmissionWait <= 0 {
		errs = append(errs, fmt.Errorf("admission wait %s must be positive", c.AdmissionWait))
	}
	if c.Retention < 0 {
		errs = append(errs, fmt.Errorf("retention %s must not be negative", c.Retention))
	}
	if c.SettleTime < 0 {
		errs = append(errs, fmt.Errorf("settle time %s must not be negative", c.SettleTime))
	}
	if err := c.Placement.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("placement: %w", err))
	}
	if err := c.Cache.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.SubmitRate < 0 || c.SubmitBurst < 0 {
		errs = append(errs, fmt.Errorf("submit rate %g and burst %d must not be negative", c.SubmitRate, c.SubmitBurst))
	}
	if c.Auth != nil && c.TokenReloadInterval <= 0 {
		errs = append(errs, fmt.Errorf("token reload interval %s must be positive", c.TokenReloadInterval))
	}
	if c.DrainHandoff < 0 {
		errs = append(errs, fmt.Errorf("drain handoff %s must not be negative", c.DrainHandoff))
	}
	if c.BreakerFailures == 0 || c.BreakerOpenTime <= 0 || c.BreakerStartTimeout <= 0 {
		errs = append(errs, fmt.Errorf("breaker failures %d, open time %s and start timeout %s must be positive", c.BreakerFailures, c.BreakerOpenTime, c.BreakerStartTimeout))
	}
	if c.RequeueRate <= 0 {
		errs = append(errs, fmt.Errorf("requeue rate %g must be positive", c.RequeueRate))
	}
	return errors.Join(errs...)
}

// GCPercentUnderMemoryLimit is the GOGC a replica runs with while a soft
// memory limit is in force (federation-server --gc-percent decides it;
// benchmarks that run a replica in process use it too). The limit bounds
// the heap once the state is large; while the state is small, a higher
// GOGC makes the collector run a quarter as often. Measured at 16 and 128
// concurrent submitters (test/bench/submit, 2 cores), replicas without and
// with --memory-limit 1800Mi: p99 9.3 -> 6.9 ms, 11.6k -> 12.8k
// submissions/s.
const GCPercentUnderMemoryLimit = 400
