package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/federation"
	"github.com/federation-dev/federation/raftstore"
)

// result is what one run measures; a child process prints it as JSON.
type result struct {
	Executions int `json:"executions"`
	Clusters   int `json:"clusters"`

	SubmitSeconds float64 `json:"submitSeconds"`
	SubmitsPerSec float64 `json:"submitsPerSec"`
	AssignsPerSec float64 `json:"assignsPerSec"`
	AssignP50Ms   float64 `json:"assignP50Ms"`
	AssignP99Ms   float64 `json:"assignP99Ms"`
	AssignMaxMs   float64 `json:"assignMaxMs"`
	// SubmitP99Ms is the 99th percentile of a submission's own commit:
	// from its proposal (CreatedAt) to its acknowledgement, the part of
	// submit-to-assigned before the scheduler can see it.
	SubmitP99Ms float64 `json:"submitP99Ms"`
	// Rounds is how many placement rounds the scheduler ran; MaxRoundMs is
	// the upper bound of the slowest round's histogram bucket, MeanRoundMs
	// their mean (from federation_placement_round_duration_seconds).
	Rounds      int     `json:"rounds"`
	MaxRoundMs  float64 `json:"maxRoundMs"`
	MeanRoundMs float64 `json:"meanRoundMs"`
	// MaxLag is the largest placement lag sampled (submissions committed
	// but not yet examined by a round); Refused counts submission batches
	// that admission control refused (429) and the proposer retried.
	MaxLag          int `json:"maxLag"`
	Refused         int `json:"refused"`
	MaxPlacementLag int `json:"maxPlacementLag"`

	HeapMB    float64 `json:"heapMB"`
	RSSMB     float64 `json:"rssMB"`
	PeakRSSMB float64 `json:"peakRssMB"`
	// RSS split: anonymous memory (the Go heap and runtime) and
	// file-backed pages (bbolt's mapped files) that the kernel can drop.
	RSSAnonMB      float64 `json:"rssAnonMB"`
	RSSFileMB      float64 `json:"rssFileMB"`
	SnapshotSec    float64 `json:"snapshotSec"`
	SnapshotMB     float64 `json:"snapshotMB"`
	Archived       int     `json:"archived"`
	ArchiveSec     float64 `json:"archiveSec"`
	HeapAfterMB    float64 `json:"heapAfterMB"`
	RSSAfterMB     float64 `json:"rssAfterMB"`
	SnapAfterSec   float64 `json:"snapAfterSec"`
	SnapAfterMB    float64 `json:"snapAfterMB"`
	WallSeconds    float64 `json:"wallSeconds"`
	RetentionSkips bool    `json:"retentionSkipped"`
}

const (
	submitWorkers = 4
	submitBatch   = 500
	reportBatch   = 2000
	archiveChunk  = 5000
	projects      = 50
	// heartbeatEvery is how often every simulated agent heartbeats, well
	// inside the default 15 s lease.
	heartbeatEvery = 2 * time.Second
)

// runOne is one measured run in this process: a single-voter control plane
// (real Raft, bbolt log with fsync, file snapshots) serving as
// federation.Server does in production (its scheduler, health monitor,
// metrics and HTTP API), with `clusters` Ready clusters of ample capacity
// whose agents heartbeat (batched: one log entry for all of them); and
// `executions` three-node workflows submitted as fast as the control plane
// takes them, through its admission control. Then memory and a snapshot
// are measured; with retain, every execution is reported Succeeded and
// archived, and they are measured again.
func runOne(ctx context.Context, executions, clusters, maxLag int, retain bool) (*result, error) {
	start := time.Now()
	dir, err := os.MkdirTemp("", "bench-scale-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	node, err := raftstore.Open(raftstore.Config{
		ID: "bench", Dir: dir, BindAddr: "127.0.0.1:0", Bootstrap: true,
		// Only explicit snapshots: the measured one is the only one. It
		// compacts the log down to a few entries, which also empties the
		// in-memory log cache of large batches before memory is measured.
		SnapshotThreshold: 1 << 40, SnapshotInterval: time.Hour, TrailingLogs: 64,
		Logger: quiet,
	})
	if err != nil {
		return nil, err
	}
	defer func() { _ = node.Close() }()
	if err := waitLeader(ctx, node); err != nil {
		return nil, err
	}
	names, err := registerClusters(ctx, node, clusters)
	if err != nil {
		return nil, err
	}

	res := &result{Executions: executions, Clusters: clusters, MaxPlacementLag: maxLag}
	rec := newRecorder(executions)
	cfg := federation.DefaultConfig()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.Logger = quiet
	cfg.MaxPlacementLag = maxLag
	cfg.OnAssigned = rec.observe
	// The simulated agents heartbeat but never start what they are given:
	// no assignment may count as a start failure during the run.
	cfg.BreakerStartTimeout = 24 * time.Hour
	// The run archives explicitly, after measuring the hot state.
	cfg.Retention = 0
	srv, err := federation.New(cfg, node)
	if err != nil {
		return nil, err
	}
	srvCtx, stopSrv := context.WithCancel(ctx)
	defer stopSrv()
	var bg sync.WaitGroup
	defer bg.Wait()
	srvErr := make(chan error, 1)
	bg.Go(func() { srvErr <- srv.Run(srvCtx) })
	bg.Go(func() { heartbeats(srvCtx, node, names) })
	var maxSeen atomic.Int64
	bg.Go(func() { sampleLag(srvCtx, srv, &maxSeen) })

	subStart := time.Now()
	refused, submitLat, err := submitAll(ctx, srv, node, executions)
	if err != nil {
		return nil, err
	}
	res.SubmitSeconds = time.Since(subStart).Seconds()
	res.SubmitsPerSec = float64(executions) / res.SubmitSeconds
	res.Refused = refused
	slices.Sort(submitLat)
	res.SubmitP99Ms = pct(submitLat, 0.99)
	select {
	case <-rec.done:
	case err := <-srvErr:
		return nil, fmt.Errorf("server stopped: %v", err)
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for placement (%d of %d assigned): %w", rec.assigned.Load(), executions, ctx.Err())
	}
	placeSec := time.Since(subStart).Seconds()
	res.AssignsPerSec = float64(executions) / placeSec
	res.Rounds, res.MeanRoundMs, res.MaxRoundMs = rounds(srv)
	res.MaxLag = int(maxSeen.Load())
	stopSrv()
	bg.Wait()
	lat := rec.sorted()
	res.AssignP50Ms, res.AssignP99Ms, res.AssignMaxMs = pct(lat, 0.50), pct(lat, 0.99), lat[len(lat)-1]
	rec = nil

	res.SnapshotSec, res.SnapshotMB, err = snapshot(node, dir)
	if err != nil {
		return nil, err
	}
	m := memory()
	res.HeapMB, res.RSSMB, res.PeakRSSMB, res.RSSAnonMB, res.RSSFileMB = m.heap, m.rss, m.peak, m.anon, m.file
	if retain {
		t := time.Now()
		if err := finishAll(ctx, node); err != nil {
			return nil, err
		}
		n, err := archiveAll(ctx, node)
		if err != nil {
			return nil, err
		}
		res.Archived, res.ArchiveSec = n, time.Since(t).Seconds()
		res.SnapAfterSec, res.SnapAfterMB, err = snapshot(node, dir)
		if err != nil {
			return nil, err
		}
		m := memory()
		res.HeapAfterMB, res.RSSAfterMB = m.heap, m.rss
	}
	res.WallSeconds = time.Since(start).Seconds()
	return res, nil
}

// recorder collects submit-to-assigned latencies from the scheduler's
// acknowledged assignments (federation.Config.OnAssigned).
type recorder struct {
	want     int64
	assigned atomic.Int64
	done     chan struct{}
	once     sync.Once

	mu  sync.Mutex
	lat []float64
}

func newRecorder(want int) *recorder {
	return &recorder{want: int64(want), done: make(chan struct{}), lat: make([]float64, 0, want)}
}

// observe records, for each first-attempt assignment the scheduler
// committed, the time from the submission's commit (CreatedAt: the time
// its command was proposed) to the acknowledgement of its assignment.
func (r *recorder) observe(results []raftstore.Result, acked time.Time) {
	r.mu.Lock()
	n := 0
	for _, res := range results {
		if res.Err == nil && res.Execution != nil && res.Execution.Attempt == 1 {
			r.lat = append(r.lat, ms(acked.Sub(res.Execution.CreatedAt)))
			n++
		}
	}
	r.mu.Unlock()
	if r.assigned.Add(int64(n)) >= r.want {
		r.once.Do(func() { close(r.done) })
	}
}

func (r *recorder) sorted() []float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	slices.Sort(r.lat)
	return r.lat
}

// rounds reads the scheduler's round histogram: how many rounds, their
// mean, and the upper bound of the slowest one's bucket, in ms.
func rounds(srv *federation.Server) (n int, meanMs, maxMs float64) {
	mfs, err := srv.Registry().Gather()
	if err != nil {
		return 0, 0, 0
	}
	for _, mf := range mfs {
		if mf.GetName() != "federation_placement_round_duration_seconds" || len(mf.GetMetric()) == 0 {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		n = int(h.GetSampleCount())
		if n > 0 {
			meanMs = 1000 * h.GetSampleSum() / float64(n)
		}
		prev := uint64(0)
		maxMs = math.Inf(1)
		for _, b := range h.GetBucket() {
			if b.GetCumulativeCount() == uint64(n) && prev < uint64(n) {
				maxMs = 1000 * b.GetUpperBound()
				break
			}
			prev = b.GetCumulativeCount()
		}
	}
	return n, meanMs, maxMs
}

// sampleLag records the largest placement lag seen, every few ms.
func sampleLag(ctx context.Context, srv *federation.Server, maxSeen *atomic.Int64) {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if lag := int64(srv.PlacementLag()); lag > maxSeen.Load() {
				maxSeen.Store(lag)
			}
		}
	}
}

func waitLeader(ctx context.Context, n *raftstore.Node) error {
	for !n.IsLeader() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for leadership: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// registerClusters registers n clusters and makes them Ready with one
// heartbeat each, all in a few log entries.
func registerClusters(ctx context.Context, node *raftstore.Node, n int) ([]string, error) {
	names := make([]string, n)
	var cmds []raftstore.Command
	for i := range n {
		names[i] = fmt.Sprintf("cluster-%04d", i)
		spec := v1.ClusterSpec{Name: names[i], Weight: 1 + i%5, Labels: map[string]string{"region": []string{"eu", "us", "ap"}[i%3]}}
		cmds = append(cmds, raftstore.Command{Type: raftstore.CmdRegisterCluster, Cluster: &spec}, heartbeatCmd(names[i]))
	}
	if err := applyAll(ctx, node, cmds, 2000); err != nil {
		return nil, fmt.Errorf("register clusters: %w", err)
	}
	return names, nil
}

func heartbeatCmd(name string) raftstore.Command {
	return raftstore.Command{Type: raftstore.CmdHeartbeat, Name: name, Heartbeat: &v1.Heartbeat{AgentVersion: "bench", Capacity: ample()}}
}

// heartbeats keeps every cluster's lease fresh as its agent would, all of
// them in one log entry every heartbeatEvery (as group commit packs
// concurrent heartbeats).
func heartbeats(ctx context.Context, node *raftstore.Node, names []string) {
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cmds := make([]raftstore.Command, len(names))
		for i, name := range names {
			cmds[i] = heartbeatCmd(name)
		}
		if err := applyAll(ctx, node, cmds, 2000); err != nil && ctx.Err() == nil {
			fmt.Fprintln(os.Stderr, "heartbeats:", err)
		}
	}
}

// applyAll commits cmds in batches and fails on any refusal.
func applyAll(ctx context.Context, node *raftstore.Node, cmds []raftstore.Command, batch int) error {
	for len(cmds) > 0 {
		k := min(len(cmds), batch)
		rs, err := node.ApplyBatchShared(ctx, cmds[:k])
		if err != nil {
			return err
		}
		for _, r := range rs {
			if r.Err != nil {
				return r.Err
			}
		}
		cmds = cmds[k:]
	}
	return nil
}

func ample() v1.Capacity {
	a := v1.Amounts{MilliCPU: 1 << 40, MemoryBytes: 1 << 60, Pods: 1 << 40}
	return v1.Capacity{Allocatable: a, Free: a}
}

// benchSpec is a three-node chain of small tasks.
func benchSpec(i int) v1.ExecutionSpec {
	s := v1.ExecutionSpec{
		Project: "proj-" + strconv.Itoa(i%projects), Domain: "production", Name: fmt.Sprintf("wf-%07d", i),
		Tier:     v1.Tiers[i%3],
		Inputs:   map[string]string{"date": "2025-01-01", "shard": strconv.Itoa(i % 64)},
		Workflow: benchWorkflow,
	}
	s.Default()
	return s
}

// benchWorkflow is every execution's DAG, shared and never modified, as the
// HTTP front end's workflow cache shares one decoded DAG between the
// submissions of the same workflow.
var benchWorkflow = v1.WorkflowSpec{Nodes: []v1.TaskNode{
	{ID: "extract", Image: "ghcr.io/example/etl:1.4", Command: []string{"extract"}, Resources: v1.Resources{CPU: "500m", Memory: "512Mi"}},
	{ID: "transform", Image: "ghcr.io/example/etl:1.4", Command: []string{"transform"}, DependsOn: []string{"extract"}, Resources: v1.Resources{CPU: "1", Memory: "1Gi"}},
	{ID: "load", Image: "ghcr.io/example/etl:1.4", Command: []string{"load"}, DependsOn: []string{"transform"}, Resources: v1.Resources{CPU: "500m", Memory: "512Mi"}},
}}

// benchWorkflowJSON is benchWorkflow's canonical JSON, rendered once as the
// HTTP front end's workflow cache keeps it and splices it into each
// submission's (federation/api_executions.go newSubmitCmd).
var benchWorkflowJSON = benchWorkflow.AppendCanonical(nil)

// submitAll submits n executions from submitWorkers goroutines, each
// proposing batches of submitBatch commands, as an HTTP front end under
// load would with group commit. Each batch passes the server's admission
// control first, as an HTTP submission does; a refused batch (429) is
// retried. It returns how many batches were refused and each submission's
// commit latency (ms).
func submitAll(ctx context.Context, srv *federation.Server, node *raftstore.Node, n int) (int, []float64, error) {
	var next atomic.Int64
	var refused atomic.Int64
	var mu sync.Mutex
	lat := make([]float64, 0, n)
	var wg sync.WaitGroup
	errs := make(chan error, submitWorkers)
	for range submitWorkers {
		wg.Go(func() {
			for {
				from := int(next.Add(submitBatch)) - submitBatch
				if from >= n {
					return
				}
				to := min(from+submitBatch, n)
				cmds := make([]raftstore.Command, 0, to-from)
				for i := from; i < to; i++ {
					spec := benchSpec(i)
					sub := raftstore.NewSubmitCmdCanonical(spec, spec.CanonicalWith(benchWorkflowJSON))
					cmds = append(cmds, raftstore.Command{Type: raftstore.CmdSubmit, Submit: sub})
				}
				var release func()
				for {
					var err error
					release, err = srv.Admit(ctx, len(cmds))
					if err == nil {
						break
					}
					if !errors.Is(err, federation.ErrOverloaded) {
						errs <- fmt.Errorf("submit: %w", err)
						return
					}
					refused.Add(1)
				}
				rs, err := node.ApplyBatchShared(ctx, cmds)
				release()
				if err != nil {
					errs <- fmt.Errorf("submit: %w", err)
					return
				}
				acked := time.Now()
				mu.Lock()
				for _, r := range rs {
					if r.Err != nil {
						mu.Unlock()
						errs <- fmt.Errorf("submit: %w", r.Err)
						return
					}
					lat = append(lat, ms(acked.Sub(r.Execution.CreatedAt)))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	return int(refused.Load()), lat, <-errs
}

// finishAll reports every assigned execution Succeeded, as its agent
// would, with the three nodes' statuses.
func finishAll(ctx context.Context, node *raftstore.Node) error {
	st := node.State()
	at := time.Now().UTC()
	var cmds []raftstore.Command
	for _, c := range st.Clusters() {
		for _, a := range st.Assignments(c.Name).Items {
			nodes := map[string]v1.NodeStatus{}
			for _, tn := range a.Workflow.Nodes {
				nodes[tn.ID] = v1.NodeStatus{Phase: v1.NodeSucceeded, StartedAt: &at, FinishedAt: &at}
			}
			cmds = append(cmds, raftstore.Command{Type: raftstore.CmdReport, Report: &raftstore.ReportCmd{Cluster: c.Name,
				Report: v1.StatusReport{ExecutionKey: a.Key(), Attempt: a.Attempt, Phase: v1.PhaseSucceeded, Nodes: nodes}}})
		}
	}
	for len(cmds) > 0 {
		k := min(len(cmds), reportBatch)
		if _, err := node.ApplyBatch(ctx, cmds[:k]); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		cmds = cmds[k:]
	}
	return nil
}

// archiveAll archives every terminal execution with retention zero, as
// the retention loop does once the period has passed.
func archiveAll(ctx context.Context, node *raftstore.Node) (int, error) {
	total := 0
	for {
		keys := node.State().ExpiredTerminal(time.Now().UTC(), 0, archiveChunk)
		if len(keys) == 0 {
			return total, nil
		}
		r, err := node.ApplyShared(ctx, raftstore.Command{Type: raftstore.CmdArchive, Archive: &raftstore.ArchiveCmd{Keys: keys}})
		if err == nil {
			err = r.Err
		}
		if err != nil {
			return total, fmt.Errorf("archive: %w", err)
		}
		if r.Archived == 0 {
			return total, fmt.Errorf("archive: nothing moved of %d candidates", len(keys))
		}
		total += r.Archived
	}
}

// snapshot takes a Raft snapshot and returns how long it took and the size
// of the newest snapshot file.
func snapshot(node *raftstore.Node, dir string) (sec, mb float64, err error) {
	t := time.Now()
	if err := node.Snapshot(); err != nil {
		return 0, 0, err
	}
	sec = time.Since(t).Seconds()
	files, _ := filepath.Glob(filepath.Join(dir, "snapshots", "*", "state.bin"))
	var newest os.FileInfo
	for _, f := range files {
		fi, err := os.Stat(f)
		if err == nil && (newest == nil || fi.ModTime().After(newest.ModTime())) {
			newest = fi
		}
	}
	if newest == nil {
		return sec, 0, fmt.Errorf("snapshot: no state.bin under %s", dir)
	}
	return sec, float64(newest.Size()) / (1 << 20), nil
}

// mem is a process's memory in MiB.
type mem struct {
	heap, rss, peak, anon, file float64
}

// memory returns the live heap after a GC, the resident set, its peak and
// its anonymous and file-backed parts.
func memory() mem {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	mib := func(field string) float64 { return float64(procStatus(field)) / 1024 }
	return mem{
		heap: float64(m.HeapAlloc) / (1 << 20),
		rss:  mib("VmRSS"), peak: mib("VmHWM"), anon: mib("RssAnon"), file: mib("RssFile"),
	}
}

func pct(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
