package main

import (
	"strings"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

func TestResultFromExecutions(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ex := func(phase v1.ExecutionPhase, submitted, finished time.Duration) v1.Execution {
		return v1.Execution{Phase: phase, History: []v1.PhaseTransition{
			{Phase: v1.PhaseQueued, At: t0.Add(submitted)},
			{Phase: v1.PhaseAssigned, At: t0.Add(submitted + time.Millisecond)},
			{Phase: phase, At: t0.Add(finished)},
		}}
	}
	tests := []struct {
		name          string
		execs         []v1.Execution
		wantElapsed   time.Duration
		wantSucceeded int
		wantFailed    int
		wantPerMinute float64
	}{
		{"all succeeded", []v1.Execution{ex(v1.PhaseSucceeded, 0, 10*time.Second), ex(v1.PhaseSucceeded, time.Second, 30*time.Second)}, 30 * time.Second, 2, 0, 4},
		{"one failed", []v1.Execution{ex(v1.PhaseSucceeded, 0, 6*time.Second), ex(v1.PhaseFailed, 0, 60*time.Second)}, time.Minute, 1, 1, 1},
		{"none", nil, 0, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &result{Workflows: len(tc.execs)}
			r.fromExecutions(tc.execs)
			if r.Elapsed != tc.wantElapsed || r.Succeeded != tc.wantSucceeded || r.Failed != tc.wantFailed {
				t.Errorf("elapsed %s succeeded %d failed %d, want %s %d %d", r.Elapsed, r.Succeeded, r.Failed, tc.wantElapsed, tc.wantSucceeded, tc.wantFailed)
			}
			if got := r.PerMinute(); got != tc.wantPerMinute {
				t.Errorf("PerMinute = %v, want %v", got, tc.wantPerMinute)
			}
		})
	}
}

func TestTargets(t *testing.T) {
	tests := []struct {
		name   string
		r      result
		beyond float64
		meets  bool
	}{
		{"both met", result{Workflows: 1000, Succeeded: 1000, Nodes: 3000, PodsCreated: 3000, Writes: 10000, Elapsed: 50 * time.Second}, 7.0 / 3, true},
		{"too slow", result{Workflows: 1000, Succeeded: 1000, Nodes: 3000, PodsCreated: 3000, Writes: 10000, Elapsed: 2 * time.Minute}, 7.0 / 3, false},
		{"too many writes", result{Workflows: 1000, Succeeded: 1000, Nodes: 3000, PodsCreated: 3000, Writes: 13000, Elapsed: 50 * time.Second}, 10.0 / 3, false},
		{"a failure", result{Workflows: 1000, Succeeded: 999, Failed: 1, Nodes: 3000, PodsCreated: 3000, Writes: 10000, Elapsed: 50 * time.Second}, 7.0 / 3, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.WritesPerNodeBeyondPod(); got < tc.beyond-1e-9 || got > tc.beyond+1e-9 {
				t.Errorf("WritesPerNodeBeyondPod = %v, want %v", got, tc.beyond)
			}
			if got := tc.r.MeetsTargets(); got != tc.meets {
				t.Errorf("MeetsTargets = %v, want %v", got, tc.meets)
			}
			var b strings.Builder
			if err := writeReport(&b, &tc.r); err != nil {
				t.Fatal(err)
			}
			if want := map[bool]string{true: "| met |", false: "MISSED"}[tc.meets]; !strings.Contains(b.String(), want) {
				t.Errorf("report lacks %q:\n%s", want, b.String())
			}
		})
	}
}
