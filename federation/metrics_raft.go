package federation

import (
	"sync"

	gometrics "github.com/hashicorp/go-metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// hashicorp/raft times its snapshots through the process-wide go-metrics
// sink and nowhere else. raftSnapshotSink is that sink: it keeps only the
// snapshot timings and turns them into one Prometheus histogram, which every
// server of the process registers (a process runs one replica in
// production; in tests the replicas of one process share it).
var (
	raftSnapshotDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "federation_raft_snapshot_duration_seconds",
		Help:    "Duration of Raft snapshot work by stage: fsm_snapshot (capture the state), create, persist (write it out), restore.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
	}, []string{"stage"})
	installRaftSinkOnce sync.Once
)

// raftSnapshotStages maps raft's timer keys to the stage label.
var raftSnapshotStages = map[[3]string]string{
	{"raft", "fsm", "snapshot"}:     "fsm_snapshot",
	{"raft", "snapshot", "create"}:  "create",
	{"raft", "snapshot", "persist"}: "persist",
	{"raft", "fsm", "restore"}:      "restore",
}

// installRaftSink makes raftSnapshotSink the global go-metrics sink, once
// per process. The filter lets only the snapshot timers through, so raft's
// per-entry timers cost nothing more than with the default blackhole sink.
func installRaftSink() {
	installRaftSinkOnce.Do(func() {
		for _, stage := range raftSnapshotStages {
			raftSnapshotDuration.WithLabelValues(stage)
		}
		cfg := gometrics.DefaultConfig("")
		cfg.EnableHostname = false
		cfg.EnableHostnameLabel = false
		cfg.EnableRuntimeMetrics = false
		cfg.EnableTypePrefix = false
		cfg.FilterDefault = false
		cfg.AllowedPrefixes = []string{"raft.fsm.snapshot", "raft.snapshot.create", "raft.snapshot.persist", "raft.fsm.restore"}
		_, _ = gometrics.NewGlobal(cfg, &raftSnapshotSink{})
	})
}

// raftSnapshotSink is a go-metrics sink that records snapshot timings.
type raftSnapshotSink struct{ gometrics.BlackholeSink }

// AddSample records a timer sample, which go-metrics gives in milliseconds.
func (*raftSnapshotSink) AddSample(key []string, ms float32) {
	(&raftSnapshotSink{}).AddSampleWithLabels(key, ms, nil)
}

// AddSampleWithLabels records a timer sample, which go-metrics gives in milliseconds.
func (*raftSnapshotSink) AddSampleWithLabels(key []string, ms float32, _ []gometrics.Label) {
	if len(key) != 3 {
		return
	}
	if stage, ok := raftSnapshotStages[[3]string{key[0], key[1], key[2]}]; ok {
		raftSnapshotDuration.WithLabelValues(stage).Observe(float64(ms) / 1000)
	}
}
