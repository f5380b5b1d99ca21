//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// metricsSamples is one scrape: series (name{labels} as exposed) to value.
type metricsSamples map[string]float64

// metricsScrape reads a Prometheus text exposition.
func metricsScrape(e *Env, url string) metricsSamples {
	e.T.Helper()
	req, err := http.NewRequestWithContext(e.Ctx, http.MethodGet, url, nil)
	if err != nil {
		e.T.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		e.T.Fatalf("scrape %s: %s %s", url, resp.Status, b)
	}
	out := metricsSamples{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			e.T.Fatalf("scrape %s: bad line %q", url, line)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		e.T.Fatalf("scrape %s: %v", url, err)
	}
	return out
}

// names returns the metric names of a scrape (histograms by their base name
// as well as their _bucket, _sum and _count series).
func (s metricsSamples) names() map[string]bool {
	out := map[string]bool{}
	for series := range s {
		name, _, _ := strings.Cut(series, "{")
		out[name] = true
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suf); ok {
				out[base] = true
			}
		}
	}
	return out
}

// sum adds the samples of name whose labels include every pair of want
// (given as `k="v"`).
func (s metricsSamples) sum(name string, want ...string) float64 {
	total := 0.0
	for series, v := range s {
		n, labels, _ := strings.Cut(series, "{")
		if n != name {
			continue
		}
		ok := true
		for _, w := range want {
			if !strings.Contains(labels, w) {
				ok = false
			}
		}
		if ok {
			total += v
		}
	}
	return total
}

// TestMetricsMoveDuringARun runs a 3-replica control plane and two agents
// (simulated clusters: the metrics are the binaries', the backend does not
// matter), scrapes /metrics of both binaries before and after a batch of
// executions, and checks that the documented metrics exist and that the
// counters moved by what the run did. It also checks that every federation
// and agent metric the Grafana dashboard and the alert rules in deploy/
// query is one the binaries export.
func TestMetricsMoveDuringARun(t *testing.T) {
	env := NewEnv(t, 3*time.Minute)
	cp := env.StartControlPlane(ControlPlaneOptions{Replicas: 3})
	cp.WaitReady()
	c := cp.Follower().Client
	prices := &v1.Prices{CPUHour: 0.05, GiBHour: 0.01}
	agents := map[string]string{} // cluster → agent metrics URL
	for _, name := range []string{"sim-a", "sim-b"} {
		if _, _, err := c.RegisterCluster(env.Ctx, v1.ClusterSpec{Name: name, Weight: 1, Prices: prices}); err != nil {
			t.Fatalf("register %s: %v", name, err)
		}
		addr := env.FreeAddr()
		env.StartProc("agent-"+name, filepath.Join(env.BinDir, "cluster-agent"),
			"--cluster", name, "--server", cp.Servers[0].URL, "--backend", "sim",
			"--sim-capacity", "cpu=16,memory=64Gi,pods=100", "--sim-task-duration", "300ms",
			"--metrics-addr", addr, "--log-level", "warn")
		agents[name] = "http://" + addr + "/metrics"
	}
	env.WaitClustersReady(c, cp.Opts.SettleTime, "sim-a", "sim-b")

	leaderURL := cp.Leader().URL + "/metrics"
	before := metricsScrape(env, leaderURL)
	agentBefore := map[string]metricsSamples{}
	for name, url := range agents {
		agentBefore[name] = metricsScrape(env, url)
	}

	const n = 8
	specs := make([]v1.ExecutionSpec, 0, n)
	for i := range n {
		specs = append(specs, v1.ExecutionSpec{
			Project: "metrics", Domain: "e2e", Name: fmt.Sprintf("run-%02d", i), Tier: v1.TierStandard,
			Workflow: v1.WorkflowSpec{Nodes: []v1.TaskNode{
				{ID: "prep", Image: "busybox", Resources: v1.Resources{CPU: "1", Memory: "1Gi"}},
				{ID: "train", Image: "busybox", DependsOn: []string{"prep"}, Resources: v1.Resources{CPU: "2", Memory: "2Gi"}},
			}},
		})
	}
	keys := env.SubmitAll(c, specs)
	execs := env.WaitFinished(c, keys, 90*time.Second)
	for k, ex := range execs {
		if ex.Phase != v1.PhaseSucceeded {
			t.Fatalf("%s ended %s: %s", k, ex.Phase, ex.Message)
		}
	}
	// The gauges refresh every 2 s; the counters are immediate.
	time.Sleep(2500 * time.Millisecond)
	after := metricsScrape(env, leaderURL)

	moved := []struct {
		name    string
		labels  []string
		atLeast float64
	}{
		{"federation_submissions_total", []string{`result="created"`}, n},
		{"federation_submit_duration_seconds_count", nil, n},
		{"federation_submit_to_assigned_seconds_count", []string{`tier="standard"`}, n},
		{"federation_submit_to_running_seconds_count", []string{`tier="standard"`}, n},
		{"federation_executions_finished_total", []string{`phase="Succeeded"`}, n},
		{"federation_placement_decisions_total", []string{`outcome="placed"`}, n},
		{"federation_placement_round_duration_seconds_count", nil, 1},
		{"federation_agent_reports_total", []string{`verdict="accepted"`}, 2 * n},
		{"federation_http_request_duration_seconds_count", []string{`route="heartbeat"`}, 1},
		// 8 × (1 cpu + 2 cpu) × 0.3 s at least, by the agents' clocks.
		{"federation_usage_cpu_seconds_total", []string{`project="metrics"`}, n * 3 * 0.25},
		{"federation_usage_cost_total", []string{`project="metrics"`}, 1e-6},
	}
	for _, m := range moved {
		if d := after.sum(m.name, m.labels...) - before.sum(m.name, m.labels...); d < m.atLeast {
			t.Errorf("%s%v moved by %v during the run, want at least %v", m.name, m.labels, d, m.atLeast)
		}
	}
	gauges := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"federation_executions", []string{`phase="Succeeded"`}, n},
		{"federation_queue_depth", nil, 0},
		{"federation_cluster_healthy", nil, 2},
		{"federation_cluster_state", []string{`state="Ready"`}, 2},
		{"federation_cluster_breaker_state", nil, 0},
		{"federation_raft_leader", nil, 1},
	}
	for _, g := range gauges {
		if got := after.sum(g.name, g.labels...); got != g.want {
			t.Errorf("%s%v = %v, want %v", g.name, g.labels, got, g.want)
		}
	}
	if after.sum("federation_cluster_capacity", `kind="allocatable"`, `resource="cpu"`) != 32 {
		t.Errorf("allocatable cpu over both clusters = %v, want 32", after.sum("federation_cluster_capacity", `kind="allocatable"`, `resource="cpu"`))
	}
	if after.sum("federation_raft_term") < 1 || after.sum("federation_raft_commit_index") <= before.sum("federation_raft_commit_index") {
		t.Errorf("raft term %v, commit index %v → %v: want a term and a commit index that moved",
			after.sum("federation_raft_term"), before.sum("federation_raft_commit_index"), after.sum("federation_raft_commit_index"))
	}
	// A follower exports the replicated gauges too, from its own state.
	follower := metricsScrape(env, cp.Follower().URL+"/metrics")
	if follower.sum("federation_raft_leader") != 0 || follower.sum("federation_raft_state", `state="Follower"`) != 1 {
		t.Errorf("follower's raft gauges: leader %v, Follower %v", follower.sum("federation_raft_leader"), follower.sum("federation_raft_state", `state="Follower"`))
	}

	agentNames := map[string]bool{}
	accepted := 0.0
	for name, url := range agents {
		a := metricsScrape(env, url)
		for k := range a.names() {
			agentNames[k] = true
		}
		accepted += a.sum("clusteragent_reports_total", `verdict="accepted"`) - agentBefore[name].sum("clusteragent_reports_total", `verdict="accepted"`)
		if got := a.sum("clusteragent_session_errors_total"); got != 0 {
			t.Errorf("agent %s: %v session errors in a clean run", name, got)
		}
		if got := a.sum("clusteragent_breaker_state"); got != 0 {
			t.Errorf("agent %s: breakers not closed (%v)", name, got)
		}
	}
	if accepted < 2*n {
		t.Errorf("agents' accepted reports moved by %v, want at least %d", accepted, 2*n)
	}
	for _, name := range []string{"clusteragent_session_errors_total", "clusteragent_breaker_state", "clusteragent_reports_total", "clusteragent_workflows"} {
		if !agentNames[name] {
			t.Errorf("agent metrics lack %s", name)
		}
	}

	// Every federation_ and clusteragent_ metric that deploy/ queries exists.
	exported := after.names()
	for k := range agentNames {
		exported[k] = true
	}
	// Only the Kubernetes backend writes to an API server; the simulated
	// one exports no samples of it.
	kubeOnly := map[string]bool{"clusteragent_api_writes_total": true}
	for _, name := range metricsQueriedByDeploy(t) {
		if !exported[name] && !kubeOnly[name] {
			t.Errorf("deploy/ queries %s, which neither binary exports", name)
		}
	}
}

// metricsQueriedByDeploy lists the federation_ and clusteragent_ metric
// names in the Grafana dashboard and the alert rules.
func metricsQueriedByDeploy(t *testing.T) []string {
	t.Helper()
	root, err := projectBinDir()
	if err != nil {
		t.Fatal(err)
	}
	deploy := filepath.Join(filepath.Dir(root), "deploy", "monitoring")
	var text strings.Builder
	dash, err := os.ReadFile(filepath.Join(deploy, "grafana", "federation-dashboard.json"))
	if err != nil {
		t.Fatalf("read dashboard: %v", err)
	}
	var d struct {
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(dash, &d); err != nil {
		t.Fatalf("parse dashboard: %v", err)
	}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			text.WriteString(tg.Expr + "\n")
		}
	}
	rules, err := os.ReadFile(filepath.Join(deploy, "prometheusrule.yaml"))
	if err != nil {
		t.Fatalf("read rules: %v", err)
	}
	text.Write(rules)
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`\b(?:federation|clusteragent)_[a-z_]+`).FindAllString(text.String(), -1) {
		seen[m] = true
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	slices.Sort(out)
	if len(out) < 20 {
		t.Fatalf("found only %d metric names in deploy/monitoring: %v", len(out), out)
	}
	return out
}
