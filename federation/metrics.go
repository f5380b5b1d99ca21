package federation

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/raftstore"
)

// metrics are the control plane's Prometheus metrics. Each server has its
// own registry, so several replicas can live in one test process.
type metrics struct {
	requests       *prometheus.HistogramVec
	submissions    *prometheus.CounterVec
	submitLatency  prometheus.Histogram
	reports        *prometheus.CounterVec
	placementRound prometheus.Histogram
	decisions      *prometheus.CounterVec
	requeues       *prometheus.CounterVec
	failoverFrozen prometheus.Gauge
	// toAssigned and toRunning time an execution from its submission to
	// its first placement and to its first report of running.
	toAssigned *prometheus.HistogramVec
	toRunning  *prometheus.HistogramVec
	finished   *prometheus.CounterVec

	queueDepth    *prometheus.GaugeVec
	executions    *prometheus.GaugeVec
	onCluster     *prometheus.GaugeVec
	clusterState  *prometheus.GaugeVec
	clusterHealth *prometheus.GaugeVec
	breaker       *prometheus.GaugeVec
	weight        *prometheus.GaugeVec
	capacity      *prometheus.GaugeVec
	raftState     *prometheus.GaugeVec
	raftTerm      prometheus.Gauge
	raftCommit    prometheus.Gauge
	raftApplied   prometheus.Gauge
	raftLast      prometheus.Gauge
	commitLag     prometheus.Gauge
	applyLag      prometheus.Gauge
	isLeader      prometheus.Gauge
}

func newMetrics(reg *prometheus.Registry, node *raftstore.Node) *metrics {
	installRaftSink()
	m := &metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "federation_http_request_duration_seconds", Help: "HTTP API request latency by route and status code.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"route", "code"}),
		submissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "federation_submissions_total", Help: "Execution submissions by result (created, existing, conflict, invalid, overloaded, error).",
		}, []string{"result"}),
		submitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "federation_submit_duration_seconds", Help: "Time from receiving a new submission to its commit on a quorum.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "federation_agent_reports_total", Help: "Agent status reports by verdict.",
		}, []string{"verdict"}),
		placementRound: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "federation_placement_round_duration_seconds", Help: "Duration of one placement round.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "federation_placement_decisions_total", Help: "Placement decisions by outcome (placed, pending).",
		}, []string{"outcome"}),
		requeues: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "federation_requeues_total", Help: "Executions moved back to the queue, by reason.",
		}, []string{"reason"}),
		failoverFrozen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "federation_failover_frozen", Help: "1 while failover is frozen because most clusters are silent.",
		}),
		toAssigned: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "federation_submit_to_assigned_seconds", Help: "Time from submission to first placement on a cluster, by tier (first attempts only).",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 20),
		}, []string{"tier"}),
		toRunning: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "federation_submit_to_running_seconds", Help: "Time from submission to the agent's first report of running, by tier (first attempts only).",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 20),
		}, []string{"tier"}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "federation_executions_finished_total", Help: "Executions that reached a terminal phase on a cluster, by cluster and phase (counted by the leader).",
		}, []string{"cluster", "phase"}),
		queueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "federation_queue_depth", Help: "Queued executions by tier and project.",
		}, []string{"tier", "project"}),
		executions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "federation_executions", Help: "Executions by phase.",
		}, []string{"phase"}),
		clusterState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "federation_cluster_state", Help: "1 for the state each cluster is in.",
		}, []string{"cluster", "state"}),
		onCluster: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "federation_cluster_executions", Help: "Executions that occupy each cluster, by phase (Assigned, Running, Aborting).",
		}, []string{"cluster", "phase"}),
		clusterHealth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "federation_cluster_healthy", Help: "1 if the cluster's lease is current.",
		}, []string{"cluster"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "federation_cluster_breaker_state", Help: "Each cluster's circuit breaker: 0 closed, 1 half-open, 2 open.",
		}, []string{"cluster"}),
		weight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "federation_cluster_weight", Help: "Each cluster's placement weight.",
		}, []string{"cluster"}),
		capacity: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "federation_cluster_capacity", Help: "Reported capacity per cluster, in base units (cpu cores, memory bytes, gpus, pods).",
		}, []string{"cluster", "kind", "resource"}),
		raftState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "federation_raft_state", Help: "1 for this replica's Raft state.",
		}, []string{"state"}),
		raftTerm:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "federation_raft_term", Help: "Current Raft term."}),
		raftCommit:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "federation_raft_commit_index", Help: "Raft commit index."}),
		raftApplied: prometheus.NewGauge(prometheus.GaugeOpts{Name: "federation_raft_applied_index", Help: "Index applied to the FSM."}),
		raftLast:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "federation_raft_last_index", Help: "Last index in this replica's Raft log."}),
		commitLag:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "federation_raft_commit_lag_entries", Help: "Log entries on this replica not yet known committed (last index - commit index)."}),
		applyLag:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "federation_raft_apply_lag_entries", Help: "Committed log entries not yet applied to the FSM (commit index - applied index)."}),
		isLeader:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "federation_raft_leader", Help: "1 while this replica leads."}),
	}
	reg.MustRegister(m.requests, m.submissions, m.submitLatency, m.reports, m.placementRound, m.decisions,
		m.requeues, m.failoverFrozen, m.queueDepth, m.executions, m.clusterState, m.clusterHealth, m.capacity,
		m.raftState, m.raftTerm, m.raftCommit, m.raftApplied, m.isLeader,
		m.toAssigned, m.toRunning, m.finished, m.onCluster, m.breaker, m.weight, m.raftLast, m.commitLag, m.applyLag,
		raftSnapshotDuration, newUsageCollector(node),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Series that exist from the start, so that dashboards and rate()
	// see zero rather than nothing.
	for _, t := range v1.Tiers {
		m.toAssigned.WithLabelValues(string(t))
		m.toRunning.WithLabelValues(string(t))
	}
	for _, r := range []string{v1.ReasonClusterLost, v1.ReasonDrainDeadline} {
		m.requeues.WithLabelValues(r)
	}
	for _, o := range []string{"placed", "pending"} {
		m.decisions.WithLabelValues(o)
	}
	return m
}

// instrument records the latency of each request by route.
func (m *metrics) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		m.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Observe(time.Since(start).Seconds())
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Flush lets streaming responses through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// run refreshes the gauges derived from state every few seconds.
func (m *metrics) run(ctx context.Context, node *raftstore.Node) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		m.refresh(node)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *metrics) refresh(node *raftstore.Node) {
	st := node.State()
	for _, p := range v1.ExecutionPhases {
		m.executions.WithLabelValues(string(p)).Set(0)
	}
	for p, n := range st.PhaseCounts() {
		m.executions.WithLabelValues(string(p)).Set(float64(n))
	}
	m.queueDepth.Reset()
	for _, t := range v1.Tiers {
		// Every tier is present, so a dashboard shows an empty queue as 0.
		m.queueDepth.WithLabelValues(string(t), "")
	}
	for k, n := range st.QueueDepths() {
		m.queueDepth.WithLabelValues(string(k.Tier), k.Project).Set(float64(n))
	}
	m.onCluster.Reset()
	live := st.LiveCounts()
	m.clusterState.Reset()
	m.capacity.Reset()
	m.clusterHealth.Reset()
	m.breaker.Reset()
	m.weight.Reset()
	for _, c := range st.Clusters() {
		m.clusterState.WithLabelValues(c.Name, string(c.State)).Set(1)
		m.clusterHealth.WithLabelValues(c.Name).Set(boolGauge(c.Healthy))
		m.breaker.WithLabelValues(c.Name).Set(breakerGauge(c.Breaker))
		m.weight.WithLabelValues(c.Name).Set(float64(c.Weight))
		for _, p := range v1.ExecutionPhases {
			if p.OnCluster() {
				m.onCluster.WithLabelValues(c.Name, string(p)).Set(float64(live[c.Name][p]))
			}
		}
		if c.Capacity != nil {
			for kind, a := range map[string]v1.Amounts{"allocatable": c.Capacity.Allocatable, "free": c.Capacity.Free} {
				m.capacity.WithLabelValues(c.Name, kind, "cpu").Set(float64(a.MilliCPU) / 1000)
				m.capacity.WithLabelValues(c.Name, kind, "memory").Set(float64(a.MemoryBytes))
				m.capacity.WithLabelValues(c.Name, kind, "gpu").Set(float64(a.GPU))
				m.capacity.WithLabelValues(c.Name, kind, "pods").Set(float64(a.Pods))
			}
		}
	}
	status := node.Status()
	m.raftState.Reset()
	m.raftState.WithLabelValues(status.State).Set(1)
	m.raftTerm.Set(float64(status.Term))
	m.raftCommit.Set(float64(status.CommitIndex))
	m.raftApplied.Set(float64(status.AppliedIndex))
	m.raftLast.Set(float64(status.LastIndex))
	m.commitLag.Set(float64(lag(status.LastIndex, status.CommitIndex)))
	m.applyLag.Set(float64(lag(status.CommitIndex, status.AppliedIndex)))
	m.isLeader.Set(boolGauge(node.IsLeader()))
}

// lag is a-b, or 0 when b is ahead (the indexes are read one by one).
func lag(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

// breakerGauge encodes a breaker state: 0 closed (or unknown), 1 half-open, 2 open.
func breakerGauge(state string) float64 {
	switch state {
	case v1.BreakerHalfOpen:
		return 1
	case v1.BreakerOpen:
		return 2
	}
	return 0
}

// observeAssigned records submit-to-assigned latency from the results of a
// batch of Assign commands. A successful Assign is always a transition out
// of Queued; only first attempts are counted, so a requeue does not skew it.
func (m *metrics) observeAssigned(results []raftstore.Result) {
	for _, res := range results {
		ex := res.Execution
		if res.Err != nil || ex == nil || ex.Phase != v1.PhaseAssigned || ex.Attempt != 1 {
			continue
		}
		m.toAssigned.WithLabelValues(string(ex.Tier)).Observe(ex.UpdatedAt.Sub(ex.CreatedAt).Seconds())
	}
}

// observeReport records what an applied report changed: submit-to-running
// latency on the first attempt's move to Running, and terminal phases. at is
// the At of the report's command: the transition happened in this command
// only if the newest history entry carries it (a report that changes nothing
// leaves the history as it was).
func (m *metrics) observeReport(at time.Time, res raftstore.Result) {
	ex := res.Execution
	if res.Err != nil || ex == nil || res.Verdict != v1.VerdictAccepted || len(ex.History) == 0 {
		return
	}
	last := ex.History[len(ex.History)-1]
	if !last.At.Equal(at) || last.Phase != ex.Phase {
		return
	}
	switch {
	case ex.Phase == v1.PhaseRunning && ex.Attempt == 1:
		m.toRunning.WithLabelValues(string(ex.Tier)).Observe(last.At.Sub(ex.CreatedAt).Seconds())
	case ex.Phase.Terminal():
		m.finished.WithLabelValues(ex.Cluster, string(ex.Phase)).Inc()
	}
}
