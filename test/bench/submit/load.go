package main

import (
	"context"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// submitFunc performs submission number seq and returns nil only when the
// system acknowledged it (committed on a quorum).
type submitFunc func(ctx context.Context, seq uint64) error

// result is one measured phase against one system.
type result struct {
	Clients int
	OK      int
	Errors  int
	// FirstErr is the first error seen, to tell why Errors is not zero.
	FirstErr string
	// Elapsed runs from the first request to the last answer, including the
	// requests still in flight when the duration ran out.
	Elapsed  time.Duration
	P50, P99 time.Duration
	// PerEntry is acknowledged submissions per Raft log entry committed over
	// the run, warm-up included: group commit's mean batch size. Zero when
	// not measured (etcd).
	PerEntry float64
}

// OpsPerSec is acknowledged submissions per second.
func (r result) OpsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// loadOptions shape one load run.
type loadOptions struct {
	Clients  int
	Warmup   time.Duration
	Duration time.Duration
	// RequestTimeout bounds one request, so that a stuck server cannot hold a
	// client past Duration for longer than this.
	RequestTimeout time.Duration
}

// errorPause keeps a client that only gets errors (a dead server refuses
// connections at once) from spinning on a core the servers need.
const errorPause = 10 * time.Millisecond

// runLoad runs o.Clients goroutines submitting unique executions, first for
// o.Warmup (not counted: connections, leader caches and Go runtimes warm up),
// then for o.Duration, measured. Sequence numbers are unique across both
// phases. Every goroutine stops starting requests at its phase's deadline
// or when ctx ends.
func runLoad(ctx context.Context, o loadOptions, submit submitFunc) result {
	var seq atomic.Uint64
	if o.Warmup > 0 {
		phase(ctx, o, o.Warmup, &seq, submit)
	}
	return phase(ctx, o, o.Duration, &seq, submit)
}

// clientTally is what one client goroutine saw; each has its own, merged once
// all are done, so the hot loop shares nothing but the sequence counter.
type clientTally struct {
	lat      []time.Duration
	errs     int
	firstErr error
}

func phase(ctx context.Context, o loadOptions, d time.Duration, seq *atomic.Uint64, submit submitFunc) result {
	tallies := make([]clientTally, o.Clients)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i := range tallies {
		t := &tallies[i]
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				rctx, cancel := context.WithTimeout(ctx, o.RequestTimeout)
				t0 := time.Now()
				err := submit(rctx, seq.Add(1))
				took := time.Since(t0)
				cancel()
				if err != nil {
					t.errs++
					if t.firstErr == nil {
						t.firstErr = err
					}
					time.Sleep(errorPause)
					continue
				}
				t.lat = append(t.lat, took)
			}
		})
	}
	wg.Wait()
	return summarize(o.Clients, time.Since(start), tallies)
}

// summarize merges the clients' tallies into a result.
func summarize(clients int, elapsed time.Duration, tallies []clientTally) result {
	r := result{Clients: clients, Elapsed: elapsed}
	var all []time.Duration
	for _, t := range tallies {
		all = append(all, t.lat...)
		r.Errors += t.errs
		if t.firstErr != nil && r.FirstErr == "" {
			r.FirstErr = t.firstErr.Error()
		}
	}
	r.OK = len(all)
	slices.Sort(all)
	r.P50 = percentile(all, 0.50)
	r.P99 = percentile(all, 0.99)
	return r
}

// percentile returns the nearest-rank q-quantile of sorted, or 0 when it is
// empty: the smallest value with at least q of the samples at or below it.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
