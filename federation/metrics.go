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

	queueDepth    *prometheus.GaugeVec
	executions    *prometheus.GaugeVec
	clusterState  *prometheus.GaugeVec
	clusterHealth *prometheus.GaugeVec
	capacity      *prometheus.GaugeVec
	raftState     *prometheus.GaugeVec
	raftTerm      prometheus.Gauge
	raftCommit    prometheus.Gauge
	raftApplied   prometheus.Gauge
	isLeader      prometheus.Gauge
}

func newMetrics(reg *prometheus.Registry, _ *raftstore.Node) *metrics {
	m := &metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "federation_http_request_duration_seconds", Help: "HTTP API request latency by route and status code.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"route", "code"}),
		submissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "federation_submissions_total", Help: "Execution submissions by result (created, existing, conflict, invalid, error).",
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
		queueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "federation_queue_depth", Help: "Queued executions by tier.",
		}, []string{"tier"}),
		executions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "federation_executions", Help: "Executions by phase.",
		}, []string{"phase"}),
		clusterState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "federation_cluster_state", Help: "1 for the state each cluster is in.",
		}, []string{"cluster", "state"}),
		clusterHealth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "federation_cluster_healthy", Help: "1 if the cluster's lease is current.",
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
		isLeader:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "federation_raft_leader", Help: "1 while this replica leads."}),
	}
	reg.MustRegister(m.requests, m.submissions, m.submitLatency, m.reports, m.placementRound, m.decisions,
		m.requeues, m.failoverFrozen, m.queueDepth, m.executions, m.clusterState, m.clusterHealth, m.capacity,
		m.raftState, m.raftTerm, m.raftCommit, m.raftApplied, m.isLeader,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
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
	depth := map[v1.Tier]int{}
	for _, t := range v1.Tiers {
		depth[t] = 0
	}
	for _, ex := range st.Queued() {
		depth[ex.Tier]++
	}
	for t, n := range depth {
		m.queueDepth.WithLabelValues(string(t)).Set(float64(n))
	}
	m.clusterState.Reset()
	m.capacity.Reset()
	m.clusterHealth.Reset()
	for _, c := range st.Clusters() {
		m.clusterState.WithLabelValues(c.Name, string(c.State)).Set(1)
		m.clusterHealth.WithLabelValues(c.Name).Set(boolGauge(c.Healthy))
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
	m.isLeader.Set(boolGauge(node.IsLeader()))
}
