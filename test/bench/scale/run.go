package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/placement"
	"github.com/federation-dev/federation/raftstore"
)

// result is what one run measures; a child process prints it as JSON.
type result struct {
	Executions int `json:"executions"`
	Clusters   int `json:"clusters"`

	SubmitSeconds  float64 `json:"submitSeconds"`
	SubmitsPerSec  float64 `json:"submitsPerSec"`
	AssignsPerSec  float64 `json:"assignsPerSec"`
	AssignP50Ms    float64 `json:"assignP50Ms"`
	AssignP99Ms    float64 `json:"assignP99Ms"`
	Rounds         int     `json:"rounds"`
	MaxRoundMs     float64 `json:"maxRoundMs"`
	HeapMB         float64 `json:"heapMB"`
	RSSMB          float64 `json:"rssMB"`
	PeakRSSMB      float64 `json:"peakRssMB"`
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
	assignBatch   = 2000 // as federation's scheduler
	reportBatch   = 2000
	archiveChunk  = 5000
	projects      = 50
)

// runOne is one measured run in this process: a single-voter control plane
// (real Raft, bbolt log with fsync, file snapshots) with `clusters` Ready
// clusters of ample capacity; `executions` three-node workflows submitted
// as fast as the node commits them while a placement loop, the one of
// federation/scheduler.go without its per-cluster reservation walk, assigns
// them. Then memory and a snapshot are measured; with retain, every
// execution is reported Succeeded and archived, and they are measured again.
func runOne(ctx context.Context, executions, clusters int, retain bool) (*result, error) {
	start := time.Now()
	dir, err := os.MkdirTemp("", "bench-scale-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	node, err := raftstore.Open(raftstore.Config{
		ID: "bench", Dir: dir, BindAddr: "127.0.0.1:0", Bootstrap: true,
		// Only explicit snapshots: the measured one is the only one. It
		// compacts the log down to a few entries, which also empties the
		// in-memory log cache of large batches before memory is measured.
		SnapshotThreshold: 1 << 40, SnapshotInterval: time.Hour, TrailingLogs: 64,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return nil, err
	}
	defer func() { _ = node.Close() }()
	if err := waitLeader(ctx, node); err != nil {
		return nil, err
	}
	if err := registerClusters(ctx, node, clusters); err != nil {
		return nil, err
	}

	res := &result{Executions: executions, Clusters: clusters}
	lat := make([]float64, 0, executions)
	var assigned atomic.Int64
	var rounds int
	var maxRound time.Duration
	placeCtx, stopPlace := context.WithCancel(ctx)
	defer stopPlace()
	placeDone := make(chan error, 1)
	go func() {
		placeDone <- placeLoop(placeCtx, node, executions, &assigned, &lat, &rounds, &maxRound)
	}()

	subStart := time.Now()
	if err := submitAll(ctx, node, executions); err != nil {
		return nil, err
	}
	res.SubmitSeconds = time.Since(subStart).Seconds()
	res.SubmitsPerSec = float64(executions) / res.SubmitSeconds
	if err := <-placeDone; err != nil {
		return nil, err
	}
	placeSec := time.Since(subStart).Seconds()
	res.AssignsPerSec = float64(executions) / placeSec
	slices.Sort(lat)
	res.AssignP50Ms, res.AssignP99Ms = pct(lat, 0.50), pct(lat, 0.99)
	res.Rounds, res.MaxRoundMs = rounds, ms(maxRound)
	lat = nil

	res.SnapshotSec, res.SnapshotMB, err = snapshot(node, dir)
	if err != nil {
		return nil, err
	}
	res.HeapMB, res.RSSMB, res.PeakRSSMB = memory()
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
		res.HeapAfterMB, res.RSSAfterMB, _ = memory()
	}
	res.WallSeconds = time.Since(start).Seconds()
	return res, nil
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
func registerClusters(ctx context.Context, node *raftstore.Node, n int) error {
	names := make([]string, n)
	var cmds []raftstore.Command
	for i := range n {
		names[i] = fmt.Sprintf("cluster-%04d", i)
		spec := v1.ClusterSpec{Name: names[i], Weight: 1 + i%5, Labels: map[string]string{"region": []string{"eu", "us", "ap"}[i%3]}}
		cmds = append(cmds, raftstore.Command{Type: raftstore.CmdRegisterCluster, Cluster: &spec},
			raftstore.Command{Type: raftstore.CmdHeartbeat, Name: names[i], Heartbeat: &v1.Heartbeat{AgentVersion: "bench", Capacity: ample()}})
	}
	for len(cmds) > 0 {
		k := min(len(cmds), 2000)
		rs, err := node.ApplyBatch(ctx, cmds[:k])
		if err != nil {
			return fmt.Errorf("register clusters: %w", err)
		}
		for _, r := range rs {
			if r.Err != nil {
				return fmt.Errorf("register clusters: %w", r.Err)
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
		Tier:   v1.Tiers[i%3],
		Inputs: map[string]string{"date": "2025-01-01", "shard": strconv.Itoa(i % 64)},
		Workflow: v1.WorkflowSpec{Nodes: []v1.TaskNode{
			{ID: "extract", Image: "ghcr.io/example/etl:1.4", Command: []string{"extract"}, Resources: v1.Resources{CPU: "500m", Memory: "512Mi"}},
			{ID: "transform", Image: "ghcr.io/example/etl:1.4", Command: []string{"transform"}, DependsOn: []string{"extract"}, Resources: v1.Resources{CPU: "1", Memory: "1Gi"}},
			{ID: "load", Image: "ghcr.io/example/etl:1.4", Command: []string{"load"}, DependsOn: []string{"transform"}, Resources: v1.Resources{CPU: "500m", Memory: "512Mi"}},
		}},
	}
	s.Default()
	return s
}

// submitAll submits n executions from submitWorkers goroutines, each
// proposing batches of submitBatch commands, as an HTTP front end under
// load would with group commit.
func submitAll(ctx context.Context, node *raftstore.Node, n int) error {
	var next atomic.Int64
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
					cmds = append(cmds, raftstore.Command{Type: raftstore.CmdSubmit, Submit: raftstore.NewSubmitCmd(benchSpec(i))})
				}
				rs, err := node.ApplyBatch(ctx, cmds)
				if err != nil {
					errs <- fmt.Errorf("submit: %w", err)
					return
				}
				for _, r := range rs {
					if r.Err != nil {
						errs <- fmt.Errorf("submit: %w", r.Err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// placeLoop places queued executions until want are assigned, recording
// each one's submit-to-assigned latency: from the submission's commit time
// (CreatedAt) to when the assignment was acknowledged.
func placeLoop(ctx context.Context, node *raftstore.Node, want int, assigned *atomic.Int64, lat *[]float64, rounds *int, maxRound *time.Duration) error {
	st := node.State()
	changed, unsubscribe := st.Changed()
	defer unsubscribe()
	opts := placement.Options{SpotLabel: "capacity=spot", BestEffortHeadroom: 0.1}
	for int(assigned.Load()) < want {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case <-time.After(100 * time.Millisecond):
		}
		t := time.Now()
		snap := &placement.Snapshot{ProjectUsage: map[string]v1.Amounts{}, ProjectRunning: map[string]int{}}
		for _, c := range st.Clusters() {
			cap := ample()
			snap.Clusters = append(snap.Clusters, placement.ClusterView{
				Name: c.Name, Labels: c.Labels, Weight: c.Weight, Tiers: c.Tiers, AllowedProjects: c.AllowedProjects,
				State: c.State, Healthy: true, Settled: true, Breaker: c.Breaker, Load: c.Running,
				HasCapacity: true, Allocatable: cap.Allocatable, Free: cap.Free,
			})
		}
		var pending []placement.Pending
		st.ForEachQueued(func(e *v1.Execution) bool {
			pending = append(pending, placement.Pending{Key: e.Key(), Attempt: e.Attempt, Tier: e.Tier, Seq: e.Seq,
				Selector: e.ClusterSelector, PreferredLabels: e.PreferredLabels,
				Need: v1.Amounts{MilliCPU: 1000, MemoryBytes: 1 << 30, Pods: 1}})
			return true
		})
		if len(pending) == 0 {
			continue
		}
		var cmds []raftstore.Command
		for _, d := range placement.Decide(snap, pending, opts) {
			if d.Cluster != "" {
				cmds = append(cmds, raftstore.Command{Type: raftstore.CmdAssign, Assign: &raftstore.AssignCmd{Key: d.Key, Cluster: d.Cluster, Attempt: d.Attempt}})
			}
		}
		for len(cmds) > 0 {
			k := min(len(cmds), assignBatch)
			rs, err := node.ApplyBatch(ctx, cmds[:k])
			if err != nil {
				return fmt.Errorf("assign: %w", err)
			}
			acked := time.Now()
			for _, r := range rs {
				if r.Err == nil {
					*lat = append(*lat, ms(acked.Sub(r.Execution.CreatedAt)))
					assigned.Add(1)
				}
			}
			cmds = cmds[k:]
		}
		*rounds++
		*maxRound = max(*maxRound, time.Since(t))
	}
	return nil
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

// memory returns the live heap after a GC, the resident set and its peak,
// in MiB.
func memory() (heap, rss, peak float64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	rssKB, peakKB := procStatus("VmRSS"), procStatus("VmHWM")
	return float64(m.HeapAlloc) / (1 << 20), float64(rssKB) / 1024, float64(peakKB) / 1024
}

func pct(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
