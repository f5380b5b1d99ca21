package federation

import (
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/federation/client"
)

// TestUsageChargesRequestsForRunsInTheWindow runs one execution through
// the agent protocol with node timings, then checks the usage report, the
// cluster stamped on the nodes, and the latency and usage metrics.
func TestUsageChargesRequestsForRunsInTheWindow(t *testing.T) {
	r := startControlPlane(t, 1, nil)[0]
	c, ctx := r.client, ctxT(t)
	prices := &v1.Prices{CPUHour: 0.04, GiBHour: 0.005, GPUHour: 2}
	if _, _, err := c.RegisterCluster(ctx, v1.ClusterSpec{Name: "east", Weight: 1, Prices: prices}); err != nil {
		t.Fatal(err)
	}
	capacity := v1.Capacity{Allocatable: v1.Amounts{MilliCPU: 16000, MemoryBytes: 64 << 30, Pods: 100}}
	capacity.Free = capacity.Allocatable
	if _, err := c.Heartbeat(ctx, "east", v1.Heartbeat{Capacity: capacity}); err != nil {
		t.Fatal(err)
	}
	ex, _, err := c.SubmitExecution(ctx, spec("ml", "usage-1"))
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "assignment", func() bool {
		got, err := c.GetExecution(ctx, ex.Key(), false)
		return err == nil && got.Phase == v1.PhaseAssigned
	})

	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	at := func(h float64) *time.Time { x := t0.Add(time.Duration(h * float64(time.Hour))); return &x }
	extractReq := v1.Amounts{MilliCPU: 500, MemoryBytes: 256 << 20, Pods: 1}
	report := func(phase v1.ExecutionPhase, nodes map[string]v1.NodeStatus) {
		t.Helper()
		res, err := c.Report(ctx, "east", v1.ReportBatch{Reports: []v1.StatusReport{{ExecutionKey: ex.Key(), Attempt: 1, Phase: phase, Nodes: nodes}}})
		if err != nil || res.Results[0].Verdict != v1.VerdictAccepted {
			t.Fatalf("report %s: %+v %v", phase, res, err)
		}
	}
	running := map[string]v1.NodeStatus{"extract": {Phase: v1.NodeRunning, StartedAt: at(0), Requests: &extractReq}}
	report(v1.PhaseRunning, running)
	report(v1.PhaseRunning, running) // a repeat is no transition: counted once below
	// train reports no requests: its spec's (2 cpu, 4Gi) are charged.
	report(v1.PhaseSucceeded, map[string]v1.NodeStatus{
		"extract": {Phase: v1.NodeSucceeded, StartedAt: at(0), FinishedAt: at(1), Requests: &extractReq},
		"train":   {Phase: v1.NodeSucceeded, StartedAt: at(1), FinishedAt: at(3)},
	})
	got, err := c.GetExecution(ctx, ex.Key(), false)
	if err != nil || got.Nodes["extract"].Cluster != "east" || got.Nodes["train"].Cluster != "east" {
		t.Fatalf("nodes %+v (%v): want the reporting cluster stamped", got.Nodes, err)
	}

	const gib = float64(1 << 30)
	cases := []struct {
		name           string
		opts           client.UsageOptions
		cpu, memGiBSec float64
		executions     int
	}{
		{"whole run", client.UsageOptions{From: t0.Add(-time.Hour), To: t0.Add(4 * time.Hour)}, 0.5*3600 + 2*7200, 0.25*3600 + 4*7200, 1},
		{"window cuts both nodes", client.UsageOptions{From: t0.Add(30 * time.Minute), To: t0.Add(2 * time.Hour)}, 0.5*1800 + 2*3600, 0.25*1800 + 4*3600, 1},
		{"project filter", client.UsageOptions{Project: "ml", From: t0, To: t0.Add(time.Hour)}, 0.5 * 3600, 0.25 * 3600, 1},
		{"other project", client.UsageOptions{Project: "web", From: t0, To: t0.Add(time.Hour)}, 0, 0, 0},
		{"other cluster", client.UsageOptions{Cluster: "west", From: t0, To: t0.Add(time.Hour)}, 0, 0, 0},
		{"before the run", client.UsageOptions{From: t0.Add(-2 * time.Hour), To: t0}, 0, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := c.Usage(ctx, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			near := func(a, b float64) bool { return math.Abs(a-b) < 1e-6*max(1, math.Abs(b)) }
			wantCost := tc.cpu/3600*prices.CPUHour + tc.memGiBSec/3600*prices.GiBHour
			if !near(rep.Total.CPUSeconds, tc.cpu) || !near(rep.Total.MemoryByteSeconds, tc.memGiBSec*gib) || !near(rep.Total.Cost, wantCost) {
				t.Errorf("total %+v, want cpu %v s, mem %v GiB·s, cost %v", rep.Total, tc.cpu, tc.memGiBSec, wantCost)
			}
			if len(rep.Executions) != tc.executions || len(rep.Rows) != tc.executions {
				t.Fatalf("%d executions, %d rows, want %d", len(rep.Executions), len(rep.Rows), tc.executions)
			}
			if tc.executions > 0 {
				row := rep.Rows[0]
				if row.Project != "ml" || row.Domain != "production" || row.Cluster != "east" || row.Executions != 1 || !near(row.Cost, wantCost) {
					t.Errorf("row %+v", row)
				}
				if len(rep.Projects) != 1 || !near(rep.Projects[0].Cost, wantCost) {
					t.Errorf("projects %+v", rep.Projects)
				}
			}
		})
	}
	if _, err := c.Usage(ctx, client.UsageOptions{From: t0, To: t0.Add(-time.Hour)}); client.StatusOf(err) != http.StatusBadRequest {
		t.Errorf("usage with from after to: %v, want 400", err)
	}

	// A resumed node reported without its run keeps the run on record.
	rep := v1.StatusReport{ExecutionKey: ex.Key(), Nodes: map[string]v1.NodeStatus{
		"extract": {Phase: v1.NodeSucceeded},
		"train":   {Phase: v1.NodeRunning, StartedAt: at(5)},
	}}
	r.srv.stampUsage("west", &rep)
	if n := rep.Nodes["extract"]; n.StartedAt == nil || !n.StartedAt.Equal(t0) || n.Cluster != "east" || n.Requests == nil {
		t.Errorf("resumed node %+v: want its earlier run on east", n)
	}
	if n := rep.Nodes["train"]; n.Cluster != "west" {
		t.Errorf("running node stamped %q, want west", n.Cluster)
	}

	if err := r.node.Snapshot(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	r.srv.metrics.refresh(r.node)
	body := scrape(t, r.url)
	for _, want := range []string{
		`federation_submit_to_assigned_seconds_count{tier="standard"} 1`,
		`federation_submit_to_running_seconds_count{tier="standard"} 1`,
		`federation_executions_finished_total{cluster="east",phase="Succeeded"} 1`,
		`federation_usage_cpu_seconds_total{cluster="east",domain="production",project="ml"} 16200`,
		`federation_cluster_breaker_state{cluster="east"} 0`,
		`federation_cluster_weight{cluster="east"} 1`,
		`federation_queue_depth{project="",tier="critical"} 0`,
		`federation_raft_apply_lag_entries 0`,
		`federation_raft_snapshot_duration_seconds_count{stage="fsm_snapshot"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, `federation_raft_snapshot_duration_seconds_count{stage="fsm_snapshot"} 0`) {
		t.Errorf("snapshot taken but not timed")
	}
}

func scrape(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
