package main

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestPercentileIsNearestRank(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one sample", ms(7), 0.99, 7 * time.Millisecond},
		{"median of four is the second", ms(1, 2, 3, 4), 0.5, 2 * time.Millisecond},
		{"median of five is the third", ms(1, 2, 3, 4, 5), 0.5, 3 * time.Millisecond},
		{"p99 of 1..100 is 99", ms(hundred...), 0.99, 99 * time.Millisecond},
		{"p99 of ten is the largest", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.99, 10 * time.Millisecond},
		{"q 0 is the smallest", ms(3, 4), 0, 3 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.sorted, tc.q); got != tc.want {
				t.Fatalf("percentile(%v, %v) = %v, want %v", tc.sorted, tc.q, got, tc.want)
			}
		})
	}
}

func TestSummarizeMergesClients(t *testing.T) {
	tallies := []clientTally{
		{lat: []time.Duration{3 * time.Millisecond, 1 * time.Millisecond}},
		{lat: []time.Duration{2 * time.Millisecond}, errs: 2, firstErr: errors.New("boom")},
		{errs: 1, firstErr: errors.New("later")},
	}
	r := summarize(3, 2*time.Second, tallies)
	if r.OK != 3 || r.Errors != 3 || r.FirstErr != "boom" {
		t.Fatalf("got OK %d Errors %d FirstErr %q, want 3, 3, boom", r.OK, r.Errors, r.FirstErr)
	}
	if r.P50 != 2*time.Millisecond || r.P99 != 3*time.Millisecond {
		t.Fatalf("got p50 %v p99 %v, want 2ms 3ms", r.P50, r.P99)
	}
	if got := r.OpsPerSec(); got != 1.5 {
		t.Fatalf("ops/s = %v, want 1.5", got)
	}
}

// seqRecorder is a fake system: it acknowledges after a short sleep and
// remembers every sequence number it was given.
type seqRecorder struct {
	mu   sync.Mutex
	seen map[uint64]int
	fail error
}

func (s *seqRecorder) submit(ctx context.Context, seq uint64) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Millisecond):
	}
	s.mu.Lock()
	s.seen[seq]++
	s.mu.Unlock()
	return s.fail
}

func TestRunLoadIsBoundedAndUsesUniqueSequences(t *testing.T) {
	tests := []struct {
		name    string
		clients int
		fail    error
	}{
		{"one client", 1, nil},
		{"many clients", 32, nil},
		{"every request fails", 4, errors.New("refused")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &seqRecorder{seen: map[uint64]int{}, fail: tc.fail}
			o := loadOptions{Clients: tc.clients, Warmup: 50 * time.Millisecond, Duration: 200 * time.Millisecond, RequestTimeout: time.Second}
			start := time.Now()
			r := runLoad(context.Background(), o, rec.submit)
			took := time.Since(start)
			if took < o.Warmup+o.Duration || took > o.Warmup+o.Duration+time.Second {
				t.Fatalf("run took %v, want about %v", took, o.Warmup+o.Duration)
			}
			if r.Elapsed < o.Duration || r.Elapsed > o.Duration+time.Second {
				t.Fatalf("measured %v, want about %v", r.Elapsed, o.Duration)
			}
			for seq, n := range rec.seen {
				if n != 1 || seq == 0 {
					t.Fatalf("sequence %d used %d times; want each once and never 0 (the probe's)", seq, n)
				}
			}
			if tc.fail != nil {
				if r.OK != 0 || r.Errors == 0 || r.FirstErr != "refused" || r.P99 != 0 {
					t.Fatalf("failing system: got %+v, want no OK, errors counted, first error kept", r)
				}
				return
			}
			if r.OK == 0 || r.Errors != 0 || r.P50 <= 0 || r.P99 < r.P50 {
				t.Fatalf("got %+v, want acknowledged requests with p99 >= p50 > 0", r)
			}
			// Warm-up requests happened but are not counted.
			if len(rec.seen) <= r.OK {
				t.Fatalf("system saw %d requests, measured %d: warm-up was counted or did not run", len(rec.seen), r.OK)
			}
		})
	}
}

func TestRunLoadStopsWhenCancelled(t *testing.T) {
	rec := &seqRecorder{seen: map[uint64]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	runLoad(ctx, loadOptions{Clients: 8, Duration: time.Minute, RequestTimeout: time.Second}, rec.submit)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("cancelled run took %v, want it to stop within a request", took)
	}
}
