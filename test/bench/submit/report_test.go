package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func res(clients, ok int, p50, p99 time.Duration) result {
	return result{Clients: clients, OK: ok, Elapsed: 10 * time.Second, P50: p50, P99: p99}
}

func TestReportShowsRatioAndTargets(t *testing.T) {
	m := machine{NumCPU: 2, GOMAXPROCS: 2, GoVersion: "go1.26", CPUModel: "cpu", DataFS: "ext4", EtcdVersion: "3.6.6", Duration: 10 * time.Second, Warmup: time.Second}
	met := []point{
		{Clients: 16, Fed: res(16, 50000, 2*time.Millisecond, 8*time.Millisecond), Etcd: res(16, 20000, 5*time.Millisecond, 20*time.Millisecond)},
		{Clients: 128, Fed: res(128, 250000, 4*time.Millisecond, 9*time.Millisecond), Etcd: res(128, 70000, 15*time.Millisecond, 43*time.Millisecond)},
	}
	met[1].Fed.PerEntry = 12.5
	missed := []point{
		{Clients: 16, Fed: res(16, 50000, 2*time.Millisecond, 12*time.Millisecond), Etcd: res(16, 20000, 5*time.Millisecond, 20*time.Millisecond)},
		{Clients: 128, Fed: res(128, 150000, 4*time.Millisecond, 9*time.Millisecond), Etcd: res(128, 70000, 15*time.Millisecond, 43*time.Millisecond)},
	}
	withRuns := m
	withRuns.Runs = 3
	withErrors := []point{{Clients: 1, Fed: result{Clients: 1, OK: 10, Errors: 2, FirstErr: "HTTP 503: no leader", Elapsed: time.Second}, Etcd: res(1, 10, time.Millisecond, time.Millisecond)}}
	tests := []struct {
		name    string
		m       machine
		points  []point
		want    []string
		notWant []string
	}{
		{"targets met", m, met, []string{"25000", "7000", "3.57x", "8.00 ms", "43.00 ms", "measured 3.57x and 25000/s: met", "measured 8.00 ms: met", "nproc 2", "ran once", "128 clients: 12.5 submissions per Raft log entry"}, []string{"NOT met", "tmpfs", "16 clients: 0.0 submissions"}},
		{"targets missed", m, missed, []string{"2.14x", "measured 2.14x and 15000/s: NOT met", "measured 12.00 ms: NOT met"}, nil},
		{"errors are shown", m, withErrors, []string{"federation, 1 clients: 2 errors", "HTTP 503: no leader"}, []string{"Target"}},
		{"tmpfs warned", machine{DataFS: "tmpfs"}, met, []string{"WARNING", "tmpfs"}, nil},
		{"no etcd figure", m, []point{{Clients: 1, Fed: res(1, 10, 1, 1)}}, []string{"n/a"}, nil},
		{"runs listed", withRuns, []point{{Clients: 128, Fed: res(128, 200000, 4*time.Millisecond, 9*time.Millisecond), Etcd: res(128, 70000, 15*time.Millisecond, 43*time.Millisecond),
			FedRuns: []float64{21000, 20000, 17000.4}, EtcdRuns: []float64{7000, 6900, 7100}}},
			[]string{"ran 3 times", "median run", "128 clients, every run (ops/s): federation 21000, 20000, 17000; etcd 7000, 6900, 7100."}, []string{"ran once"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, render := range []struct {
				name string
				fn   func(*strings.Builder) error
			}{
				{"text", func(b *strings.Builder) error { return renderText(b, tc.m, tc.points) }},
				{"markdown", func(b *strings.Builder) error { return renderMarkdown(b, tc.m, tc.points) }},
			} {
				var b strings.Builder
				if err := render.fn(&b); err != nil {
					t.Fatal(err)
				}
				out := b.String()
				for _, w := range tc.want {
					if !strings.Contains(out, w) {
						t.Errorf("%s output lacks %q:\n%s", render.name, w, out)
					}
				}
				for _, w := range tc.notWant {
					if strings.Contains(out, w) {
						t.Errorf("%s output has %q:\n%s", render.name, w, out)
					}
				}
			}
		})
	}
}

func TestMarkdownTableIsWellFormed(t *testing.T) {
	var b strings.Builder
	pts := []point{{Clients: 1, Fed: res(1, 10, 1, 1), Etcd: res(1, 10, 1, 1)}}
	if err := renderMarkdown(&b, machine{}, pts); err != nil {
		t.Fatal(err)
	}
	var rows []string
	for l := range strings.Lines(b.String()) {
		if strings.HasPrefix(l, "|") {
			rows = append(rows, l)
		}
	}
	if len(rows) != 3 {
		t.Fatalf("want header, rule and one row, got %d table lines:\n%s", len(rows), b.String())
	}
	for _, r := range rows {
		if got := strings.Count(r, "|"); got != len(header)+1 {
			t.Fatalf("row %q has %d pipes, want %d", r, got, len(header)+1)
		}
	}
}

func TestMedianRun(t *testing.T) {
	r := func(ok int) result { return result{OK: ok, Elapsed: time.Second} }
	for _, tc := range []struct {
		name     string
		runs     []result
		wantOK   int
		wantRuns []float64
	}{
		{"none", nil, 0, nil},
		{"one", []result{r(5)}, 5, []float64{5}},
		{"odd count takes the middle", []result{r(30), r(10), r(20)}, 20, []float64{30, 10, 20}},
		{"even count takes the lower middle", []result{r(40), r(10), r(30), r(20)}, 20, []float64{40, 10, 30, 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, all := medianRun(tc.runs)
			if got.OK != tc.wantOK || !slices.Equal(all, tc.wantRuns) {
				t.Fatalf("medianRun = OK %d, runs %v; want %d, %v", got.OK, all, tc.wantOK, tc.wantRuns)
			}
		})
	}
}
