package clusteragent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/federation-dev/federation/federation/client"
	"github.com/sony/gobreaker/v2"
)

// newBreaker returns the circuit breaker of one control-plane call. It opens
// after cfg.BreakerFailures consecutive failures, so that an agent stops
// hammering a control plane that is down, and lets one probe through after
// cfg.BreakerTimeout.
func newBreaker[T any](call string, cfg *Config, m *metrics, log *slog.Logger) *gobreaker.CircuitBreaker[T] {
	failures := cfg.BreakerFailures
	return gobreaker.NewCircuitBreaker[T](gobreaker.Settings{
		Name:        call,
		MaxRequests: 1,
		Timeout:     cfg.BreakerTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
		IsSuccessful: func(err error) bool {
			return err == nil || !countsAsFailure(err)
		},
		// The agent stopping is not the control plane failing.
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
		OnStateChange: func(name string, from, to gobreaker.State) {
			m.breakerState.WithLabelValues(name).Set(float64(breakerGauge(to)))
			level := slog.LevelInfo
			if to == gobreaker.StateOpen {
				level = slog.LevelWarn
			}
			log.Log(context.Background(), level, "circuit breaker changed state", "call", name, "from", from.String(), "to", to.String())
		},
	})
}

// countsAsFailure tells whether an error says the control plane is unwell. A
// 4xx answer other than 429 is the control plane working and refusing this
// request, which retrying sooner or later will not change.
func countsAsFailure(err error) bool {
	s := client.StatusOf(err)
	return !(s >= 400 && s < 500 && s != http.StatusTooManyRequests)
}

// breakerGauge maps breaker states onto the gauge's 0 closed, 1 half-open,
// 2 open.
func breakerGauge(s gobreaker.State) int {
	switch s {
	case gobreaker.StateHalfOpen:
		return 1
	case gobreaker.StateOpen:
		return 2
	}
	return 0
}

// call runs one control-plane call through its breaker with a deadline, and
// counts its failure.
func call[T any](ctx context.Context, a *Agent, cb *gobreaker.CircuitBreaker[T], timeout time.Duration, f func(context.Context) (T, error)) (T, error) {
	out, err := cb.Execute(func() (T, error) {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return f(cctx)
	})
	if err == nil {
		return out, nil
	}
	if ctx.Err() == nil {
		a.m.sessionErrors.WithLabelValues(cb.Name()).Inc()
	}
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		err = fmt.Errorf("%s of cluster %s: %w", cb.Name(), a.cfg.Cluster, err)
	}
	return out, err
}
