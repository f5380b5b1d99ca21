package cli

import (
	"strings"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// TestExecWatch follows an execution through its phases; the exit code
// says how it ended.
func TestExecWatch(t *testing.T) {
	path := "GET /api/v1alpha1/executions/p/d/n"
	ex := func(phase v1.ExecutionPhase, cluster string, nodes map[string]v1.NodeStatus) reply {
		return reply{200, v1.Execution{ExecutionSpec: v1.ExecutionSpec{Project: "p", Domain: "d", Name: "n"}, Phase: phase, Cluster: cluster, Attempt: 1, Nodes: nodes, Message: map[bool]string{true: "node a failed"}[phase == v1.PhaseFailed]}}
	}
	running := map[string]v1.NodeStatus{"a": {Phase: v1.NodeRunning, Attempts: 1}}
	done := map[string]v1.NodeStatus{"a": {Phase: v1.NodeSucceeded, Attempts: 1}}
	cases := []struct {
		name    string
		args    []string
		replies []reply
		code    int
		lines   []string
		stderr  string
	}{
		{
			name:    "succeeds",
			args:    []string{"exec", "watch", "p/d/n", "--interval", "10ms", "--nodes"},
			replies: []reply{ex(v1.PhaseQueued, "", nil), ex(v1.PhaseQueued, "", nil), ex(v1.PhaseRunning, "east", running), ex(v1.PhaseSucceeded, "east", done)},
			lines:   []string{"Queued", "Running    cluster=east", "node a: Running", "Succeeded", "node a: Succeeded"},
		},
		{
			name:    "fails with exit code 3",
			args:    []string{"exec", "watch", "p", "d", "n", "--interval", "10ms"},
			replies: []reply{ex(v1.PhaseRunning, "east", nil), ex(v1.PhaseFailed, "east", nil)},
			code:    ExitExecutionFailed,
			lines:   []string{"Running", "Failed"},
			stderr:  "execution p/d/n ended Failed: node a failed",
		},
		{
			name:    "unknown execution",
			args:    []string{"exec", "watch", "p/d/n"},
			replies: []reply{apiError(404, v1.CodeNotFound, "execution p/d/n not found")},
			code:    ExitError,
			stderr:  "execution p/d/n not found",
		},
		{
			name:   "bad interval",
			args:   []string{"exec", "watch", "p/d/n", "--interval", "0s"},
			code:   ExitUsage,
			stderr: "--interval must be positive",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, runOpts{routes: map[string][]reply{path: tc.replies}}, tc.args...)
			if got.code != tc.code || !strings.Contains(got.stderr, tc.stderr) || (tc.stderr == "" && got.stderr != "") {
				t.Fatalf("exit %d stderr %q, want %d %q", got.code, got.stderr, tc.code, tc.stderr)
			}
			lines := strings.Split(strings.TrimSpace(got.stdout), "\n")
			if tc.lines == nil && got.stdout != "" {
				t.Errorf("stdout %q, want none", got.stdout)
			}
			// Each expected fragment appears, in order, and a phase that
			// did not change prints no line.
			i := 0
			for _, l := range lines {
				if i < len(tc.lines) && strings.Contains(l, tc.lines[i]) {
					i++
				}
			}
			if i != len(tc.lines) {
				t.Errorf("stdout:\n%s\nwant lines containing, in order, %q", got.stdout, tc.lines)
			}
			if n := strings.Count(got.stdout, "Queued"); n > 1 {
				t.Errorf("Queued printed %d times, want once:\n%s", n, got.stdout)
			}
		})
	}
}

// TestClusterTop shows requested over allocatable per cluster.
func TestClusterTop(t *testing.T) {
	list := v1.ClusterList{Items: []v1.Cluster{
		{ClusterSpec: v1.ClusterSpec{Name: "east", Weight: 2}, State: v1.ClusterReady, Healthy: true, Running: 3, Capacity: &v1.Capacity{
			Allocatable: v1.Amounts{MilliCPU: 8000, MemoryBytes: 32 << 30, Pods: 110},
			Free:        v1.Amounts{MilliCPU: 2000, MemoryBytes: 16 << 30, Pods: 100},
		}},
		{ClusterSpec: v1.ClusterSpec{Name: "new", Weight: 1}, State: v1.ClusterRegistered},
	}}
	got := run(t, runOpts{routes: map[string][]reply{"GET /api/v1alpha1/clusters": {{200, list}}}}, "cluster", "top")
	check(t, got, want{
		requests: []request{{Method: "GET", Path: "/api/v1alpha1/clusters"}},
		has:      []string{"LOAD/WEIGHT", "6.0/8.0 (75%)", "16.0Gi/32.0Gi (50%)", "10/110 (9%)", "1.50"},
	})
	if !strings.Contains(got.stdout, "new") || strings.Count(strings.Split(got.stdout, "\n")[2], "-") < 4 {
		t.Errorf("a cluster without capacity shows dashes:\n%s", got.stdout)
	}
}

// TestUsage checks the query fedctl sends and the tables it prints.
func TestUsage(t *testing.T) {
	from := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	rep := v1.UsageReport{
		From: from, To: now,
		Rows:       []v1.UsageRow{{Project: "ml", Domain: "prod", Cluster: "east", Executions: 2, UsageAmounts: v1.UsageAmounts{CPUSeconds: 7200, MemoryByteSeconds: 3600 * (4 << 30), Cost: 1.5}}},
		Projects:   []v1.ProjectUsage{{Project: "ml", UsageAmounts: v1.UsageAmounts{CPUSeconds: 7200, Cost: 1.5}}},
		Executions: []v1.ExecutionUsage{{ExecutionKey: v1.ExecutionKey{Project: "ml", Domain: "prod", Name: "a"}, UsageAmounts: v1.UsageAmounts{CPUSeconds: 3600, Cost: 1}}},
		Total:      v1.UsageAmounts{CPUSeconds: 7200, MemoryByteSeconds: 3600 * (4 << 30), Cost: 1.5},
	}
	routes := map[string][]reply{"GET /api/v1alpha1/usage": {{200, rep}}}
	cases := []struct {
		name string
		args []string
		want want
	}{
		{
			name: "since",
			args: []string{"usage", "--project", "ml", "--since", "24h"},
			want: want{requests: []request{{Method: "GET", Path: "/api/v1alpha1/usage", Query: "from=2026-02-28T12%3A00%3A00Z&limit=10&project=ml"}},
				has: []string{"CPU-HOURS", "ml   ", "2.00", "4.00", "1.50", "ml/prod/a"}},
		},
		{
			name: "dates",
			args: []string{"usage", "--from", "2026-02-01", "--to", "2026-03-01", "--cluster", "east", "--top", "5"},
			want: want{requests: []request{{Method: "GET", Path: "/api/v1alpha1/usage", Query: "cluster=east&from=2026-02-01T00%3A00%3A00Z&limit=5&to=2026-03-01T00%3A00%3A00Z"}},
				has: []string{"TOTAL"}},
		},
		{
			name: "since and from",
			args: []string{"usage", "--since", "1h", "--from", "2026-02-01"},
			want: want{code: ExitUsage, stderr: "give --since or --from, not both"},
		},
		{
			name: "bad date",
			args: []string{"usage", "--from", "yesterday"},
			want: want{code: ExitUsage, stderr: `--from "yesterday"`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check(t, run(t, runOpts{routes: routes}, tc.args...), tc.want)
		})
	}
}

// TestCompletion prints cobra's scripts, and completes cluster names from
// the server.
func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		got := run(t, runOpts{}, "completion", shell)
		if got.code != 0 || !strings.Contains(got.stdout, "fedctl") || len(got.stdout) < 500 {
			t.Errorf("completion %s: exit %d, %d bytes, stderr %q", shell, got.code, len(got.stdout), got.stderr)
		}
	}
	if got := run(t, runOpts{}, "completion", "tcsh"); got.code != ExitUsage {
		t.Errorf("completion tcsh: exit %d, want %d", got.code, ExitUsage)
	}
	list := v1.ClusterList{Items: []v1.Cluster{{ClusterSpec: v1.ClusterSpec{Name: "east"}, State: v1.ClusterReady}, {ClusterSpec: v1.ClusterSpec{Name: "west"}, State: v1.ClusterCordoned}}}
	got := run(t, runOpts{routes: map[string][]reply{"GET /api/v1alpha1/clusters": {{200, list}}}}, "__complete", "cluster", "drain", "")
	if got.code != 0 || !strings.Contains(got.stdout, "east\tReady") || !strings.Contains(got.stdout, "west\tCordoned") {
		t.Errorf("cluster name completion: exit %d\n%s", got.code, got.stdout)
	}
}
