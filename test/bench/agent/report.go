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
)

// result is what one run measured.
type result struct {
	Workflows, Nodes int
	// PodsCreated counts the distinct task pods the member cluster saw.
	PodsCreated       int
	Succeeded, Failed int
	Submit            time.Duration
	Elapsed           time.Duration // first submission to last finish
	Steady            time.Duration // 10th to 90th percentile of finishes
	SteadyCount       int
	// Finished holds, per finishQuantiles, when that share had finished.
	Finished    []time.Duration
	Writes      int64
	ByVerb      map[string]float64
	Reconcilers int
	NodesDesc   string
	Machine     machine
	// CPU is the CPU time each process used over the run.
	CPU cpuSample
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
	reconcilers := "default (4)"
	if r.Reconcilers > 0 {
		reconcilers = fmt.Sprint(r.Reconcilers)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# One cluster agent on one real member cluster\n\n")
	fmt.Fprintf(&b, "`go run ./test/bench/agent --workflows %d`, %s, %d CPUs (%s), %s, load average at the end %s.\n\n",
		r.Workflows, r.Machine.When.UTC().Format(time.RFC3339), r.Machine.NumCPU, r.Machine.CPUModel, r.Machine.GoVersion, r.Machine.LoadAvg)
	fmt.Fprintf(&b, "- Member cluster: testbed (etcd, kube-apiserver, kube-scheduler, kwok) on this machine, fake nodes %s; kwok completes each task pod as soon as it runs.\n", r.NodesDesc)
	fmt.Fprintf(&b, "- Control plane: one federation-server process (fsync on). Agent: session + kube backend + propeller in the bench process, as bin/cluster-agent builds them (heartbeat 500ms, reconcilers %s, no client-side rate limit).\n", reconcilers)
	fmt.Fprintf(&b, "- Workload: %d workflows of 3 chained nodes (100m CPU, 64Mi each), all submitted at once (in %s); timed from the first submission to the last finish, on the federation's clock.\n\n", r.Workflows, r.Submit.Round(time.Millisecond))
	fmt.Fprintf(&b, "| measure | value | target | |\n|---|---:|---:|---|\n")
	fmt.Fprintf(&b, "| workflows succeeded | %d of %d | all | %s |\n", r.Succeeded, r.Workflows, verdict(r.Succeeded == r.Workflows))
	fmt.Fprintf(&b, "| first submission → last finish | %s | | |\n", r.Elapsed.Round(10*time.Millisecond))
	fmt.Fprintf(&b, "| workflows per minute | %.0f | ≥ %d | %s |\n", r.PerMinute(), targetPerMinute, verdict(r.PerMinute() >= targetPerMinute))
	fmt.Fprintf(&b, "| workflows per minute, steady (10th→90th percentile of finishes) | %.0f | | |\n", r.SteadyPerMinute())
	fmt.Fprintf(&b, "| finished after (1%% / 10%% / 50%% / 90%% / 99%% / all) | %s | | |\n", joinDurations(r.Finished))
	fmt.Fprintf(&b, "| task pods created | %d (%d nodes) | | |\n", r.PodsCreated, r.Nodes)
	fmt.Fprintf(&b, "| API writes by the agent | %d | | |\n", r.Writes)
	fmt.Fprintf(&b, "| API writes per task node | %.2f | | |\n", r.WritesPerNode())
	fmt.Fprintf(&b, "| API writes per task node beyond its pod create | %.2f | ≤ %.0f | %s |\n\n", r.WritesPerNodeBeyondPod(), targetWritesPerNode, verdict(r.WritesPerNodeBeyondPod() <= targetWritesPerNode))
	fmt.Fprintf(&b, "Writes by verb (`clusteragent_api_writes_total`):\n\n| verb | writes | per workflow |\n|---|---:|---:|\n")
	for _, v := range slices.Sorted(maps.Keys(r.ByVerb)) {
		fmt.Fprintf(&b, "| %s | %.0f | %.2f |\n", v, r.ByVerb[v], r.ByVerb[v]/float64(max(r.Workflows, 1)))
	}
	fmt.Fprintf(&b, "\nCPU time used over the run (first submission to the last workflow collected), by process:\n\n| process | CPU | share of one core |\n|---|---:|---:|\n")
	wall := r.Elapsed
	for _, name := range slices.Sorted(maps.Keys(r.CPU)) {
		share := 0.0
		if wall > 0 {
			share = float64(r.CPU[name]) / float64(wall)
		}
		fmt.Fprintf(&b, "| %s | %s | %.0f%% |\n", name, r.CPU[name].Round(100*time.Millisecond), 100*share)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func joinDurations(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.Round(100 * time.Millisecond).String()
	}
	return strings.Join(parts, " / ")
}
