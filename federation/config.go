package federation

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/placement"
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
	// LongPollMax caps how long an assignment long-poll waits.
	LongPollMax time.Duration
	// SchedulerInterval is how often the scheduler runs without a change,
	// for time-based eligibility (settle times).
	SchedulerInterval time.Duration
	// Placement tunes the placement engine.
	Placement placement.Options

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
		SchedulerInterval: time.Second,
		Placement: placement.Options{
			SpotLabel:          "capacity=spot",
			BestEffortHeadroom: 0.1,
		},
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
	}{{"heartbeat timeout", c.HeartbeatTimeout}, {"failover grace", c.FailoverGrace}, {"long-poll max", c.LongPollMax}, {"scheduler interval", c.SchedulerInterval}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s %s must be positive", d.name, d.v))
		}
	}
	if c.SettleTime < 0 {
		errs = append(errs, fmt.Errorf("settle time %s must not be negative", c.SettleTime))
	}
	if err := c.Placement.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("placement: %w", err))
	}
	if c.RequeueRate <= 0 {
		errs = append(errs, fmt.Errorf("requeue rate %g must be positive", c.RequeueRate))
	}
	return errors.Join(errs...)
}
