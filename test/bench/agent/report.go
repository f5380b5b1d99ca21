package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/federation-dev/federation/clusteragent/propeller"
)

// result is what one run measured.
type result struct {
	Workflows, Nodes int
	// Clusters is how many member clusters (and agents) ran them.
	Clusters int
	// PodsCreated counts the pods the member clusters created.
	PodsCreated       int
	Succeeded, Failed int
	Submit            time.Duration
	Elapsed           time.Duration // first submission to last finish
	Steady            time.Duration // 10th to 90th percentile of finishes
	SteadyCount       int
	// Finished holds, per finishQuantiles, when that share had finished.
	Finished []time.Duration
	// ToRunning holds, per runningQuantiles, the submit-to-running latency
	// (submission to the agent's first report of Running).
	ToRunning []time.Duration
	// PerCluster counts the workflows each cluster ran.
	PerCluster  map[string]int
	Writes      int64
	ByVerb      map[string]float64
	Reconcilers int
	NodesDesc   string
	Machine     machine
	// CPU is the CPU time each process used over the run (member
	// components summed over the clusters).
	CPU cpuSample
	// MachineCPU is the CPU time every process on the machine used over
	// the run, the benchmark's and any other.
	MachineCPU time.Duration
	// Member is every write the members' API servers served over the run,
	// by verb and resource, whoever sent it.
	Member requestCounts
}

// PerMinute is workflows finished per minute, first submission to last
// finish.
func (r *result) PerMinute() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Succeeded) / r.Elapsed.Minutes()
}

// SteadyPerMinute is the finish rate between the 10th and 90th percentile,
// without the ramp-up and the tail.
func (r *result) SteadyPerMinute() float64 {
	if r.Steady <= 0 {
		return 0
	}
	return float64(r.SteadyCount) / r.Steady.Minutes()
}

// WritesPerNode is API writes per task node, all included.
func (r *result) WritesPerNode() float64 { return float64(r.Writes) / float64(max(r.Nodes, 1)) }

// WritesPerNodeBeyondPod is API writes per task node beyond the create of
// its pod: status writes and the node's share of the workflow's create and
// delete.
func (r *result) WritesPerNodeBeyondPod() float64 {
	return float64(r.Writes-int64(r.PodsCreated)) / float64(max(r.Nodes, 1))
}

// MeetsTargets reports whether every workflow succeeded and both targets
// were met.
func (r *result) MeetsTargets() bool {
	return r.Failed == 0 && r.Succeeded == r.Workflows && r.PerMinute() >= targetPerMinute && r.WritesPerNodeBeyondPod() <= targetWritesPerNode
}

// machine describes where the figures were taken.
type machine struct {
	NumCPU    int
	GoVersion string
	CPUModel  string
	LoadAvg   string
	When      time.Time
}

func probeMachine() machine {
	return machine{NumCPU: runtime.NumCPU(), GoVersion: runtime.Version(), CPUModel: cpuModel(), LoadAvg: loadAvg(), When: time.Now()}
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(data))
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// writeReport renders the result as Markdown.
func writeReport(w io.Writer, r *result) error {
	reconcilers := fmt.Sprintf("default (%d)", propeller.DefaultMaxConcurrentReconciles)
	if r.Reconcilers > 0 {
		reconcilers = fmt.Sprint(r.Reconcilers)
	}
	clusters := max(r.Clusters, 1)
	var b strings.Builder
	cmd := fmt.Sprintf("go run ./test/bench/agent --workflows %d", r.Workflows)
	if clusters == 1 {
		fmt.Fprintf(&b, "# One cluster agent on one real member cluster\n\n")
	} else {
		fmt.Fprintf(&b, "# %d cluster agents on %d real member clusters\n\n", clusters, clusters)
		cmd += fmt.Sprintf(" --clusters %d", clusters)
	}
	fmt.Fprintf(&b, "`%s`, %s, %d CPUs (%s), %s, load average at the end %s.\n\n",
		cmd, r.Machine.When.UTC().Format(time.RFC3339), r.Machine.NumCPU, r.Machine.CPUModel, r.Machine.GoVersion, r.Machine.LoadAvg)
	if clusters == 1 {
		fmt.Fprintf(&b, "- Member cluster: testbed (etcd, kube-apiserver with Go's default GOGC, kube-scheduler, kwok) on this machine, fake nodes %s; kwok completes each task pod as soon as it runs.\n", r.NodesDesc)
		fmt.Fprintf(&b, "- Control plane: one federation-server process (fsync on). Agent: session + kube backend + propeller in the bench process, as bin/cluster-agent builds them (heartbeat 500ms, reconcilers %s, no client-side rate limit).\n", reconcilers)
	} else {
		fmt.Fprintf(&b, "- Member clusters: %d testbeds (each etcd, kube-apiserver with Go's default GOGC, kube-scheduler, kwok), all on this machine, each with fake nodes %s; kwok completes each task pod as soon as it runs.\n", clusters, r.NodesDesc)
		fmt.Fprintf(&b, "- Control plane: one federation-server process (fsync on), the clusters registered with equal weights. Agents: one per cluster (session + kube backend + propeller), all in the bench process, as bin/cluster-agent builds them (heartbeat 500ms, reconcilers %s, no client-side rate limit).\n", reconcilers)
	}
	fmt.Fprintf(&b, "- Workload: %d workflows of 3 chained nodes (100m CPU, 64Mi each), all submitted at once through the control plane (in %s); timed from the first submission to the last finish, on the federation's clock.\n\n", r.Workflows, r.Submit.Round(time.Millisecond))
	fmt.Fprintf(&b, "| measure | value | target | |\n|---|---:|---:|---|\n")
	fmt.Fprintf(&b, "| workflows succeeded | %d of %d | all | %s |\n", r.Succeeded, r.Workflows, verdict(r.Succeeded == r.Workflows))
	if clusters > 1 {
		fmt.Fprintf(&b, "| workflows per cluster | %s | | |\n", joinCounts(r.PerCluster))
	}
	fmt.Fprintf(&b, "| first submission → last finish | %s | | |\n", r.Elapsed.Round(10*time.Millisecond))
	if clusters == 1 {
		fmt.Fprintf(&b, "| workflows per minute | %.0f | ≥ %d | %s |\n", r.PerMinute(), targetPerMinute, verdict(r.PerMinute() >= targetPerMinute))
	} else {
		fmt.Fprintf(&b, "| workflows per minute, all clusters | %.0f | | |\n", r.PerMinute())
	}
	fmt.Fprintf(&b, "| workflows per minute, steady (10th→90th percentile of finishes) | %.0f | | |\n", r.SteadyPerMinute())
	fmt.Fprintf(&b, "| finished after (1%% / 10%% / 50%% / 90%% / 99%% / all) | %s | | |\n", joinDurations(r.Finished))
	fmt.Fprintf(&b, "| submit → running (p50 / p90 / p99 / max) | %s | | |\n", joinDurations(r.ToRunning))
	fmt.Fprintf(&b, "| task pods created | %d (%d nodes) | | |\n", r.PodsCreated, r.Nodes)
	fmt.Fprintf(&b, "| API writes by the agent%s | %d | | |\n", map[bool]string{true: "s"}[clusters > 1], r.Writes)
	fmt.Fprintf(&b, "| API writes per task node | %.2f | | |\n", r.WritesPerNode())
	fmt.Fprintf(&b, "| API writes per task node beyond its pod create | %.2f | ≤ %.0f | %s |\n\n", r.WritesPerNodeBeyondPod(), targetWritesPerNode, verdict(r.WritesPerNodeBeyondPod() <= targetWritesPerNode))
	fmt.Fprintf(&b, "Writes by verb (`clusteragent_api_writes_total`):\n\n| verb | writes | per workflow |\n|---|---:|---:|\n")
	for _, v := range slices.Sorted(maps.Keys(r.ByVerb)) {
		fmt.Fprintf(&b, "| %s | %.0f | %.2f |\n", v, r.ByVerb[v], r.ByVerb[v]/float64(max(r.Workflows, 1)))
	}
	if len(r.Member) > 0 {
		fmt.Fprintf(&b, "\nWrites the member API server%s served over the run, from every client (`apiserver_request_total`, refused ones included): %.0f, %.1f per workflow.\n\n| verb resource | writes | per workflow |\n|---|---:|---:|\n",
			map[bool]string{true: "s"}[clusters > 1], r.Member.total(), r.Member.total()/float64(max(r.Workflows, 1)))
		for _, k := range r.Member.keys() {
			fmt.Fprintf(&b, "| %s | %.0f | %.2f |\n", k, r.Member[k], r.Member[k]/float64(max(r.Workflows, 1)))
		}
	}
	fmt.Fprintf(&b, "\nCPU time used over the run (first submission to the last workflow collected), by process")
	if clusters > 1 {
		fmt.Fprintf(&b, " (member components summed over the %d clusters; the agents all in the bench process)", clusters)
	}
	fmt.Fprintf(&b, ":\n\n| process | CPU | per workflow | share of one core |\n|---|---:|---:|---:|\n")
	wall := r.Elapsed
	share := func(d time.Duration) float64 {
		if wall <= 0 {
			return 0
		}
		return 100 * float64(d) / float64(wall)
	}
	var ours time.Duration
	for _, name := range slices.Sorted(maps.Keys(r.CPU)) {
		ours += r.CPU[name]
		fmt.Fprintf(&b, "| %s | %s | %s | %.0f%% |\n", name, r.CPU[name].Round(100*time.Millisecond), perWorkflow(r.CPU[name], r.Workflows), share(r.CPU[name]))
	}
	if r.MachineCPU > 0 {
		other := max(r.MachineCPU-ours, 0)
		fmt.Fprintf(&b, "| everything else on the machine | %s | | %.0f%% |\n", other.Round(100*time.Millisecond), share(other))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func perWorkflow(d time.Duration, n int) string {
	if n <= 0 {
		return ""
	}
	return (d / time.Duration(n)).Round(10 * time.Microsecond).String()
}

func joinCounts(m map[string]int) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func joinDurations(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.Round(100 * time.Millisecond).String()
	}
	return strings.Join(parts, " / ")
}
