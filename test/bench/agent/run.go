package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"k8s.io/client-go/tools/clientcmd"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/clusteragent"
	"github.com/federation-dev/federation/clusteragent/kube"
	fedclient "github.com/federation-dev/federation/federation/client"
	"github.com/federation-dev/federation/test/testbed"
)

const (
	// clusterName names the member cluster of a one-cluster run; with
	// --clusters N they are bench-1 ... bench-N.
	clusterName = "bench"
	// submitWorkers submit concurrently: submission is not what is measured.
	submitWorkers = 32
	// gcTimeout bounds the wait for the agents to delete what finished, so
	// that their deletes are counted too.
	gcTimeout = 2 * time.Minute
)

// benchAPIServerGOGC runs the members' kube-apiservers with Go's default GC
// target, as a production API server runs, rather than the testbed's
// memory-saving 50 (see testbed.ClusterOptions.APIServerGOGC).
const benchAPIServerGOGC = 100

// benchNodes are a member cluster's fake nodes for perCluster workflows:
// ample for every one of them to be live at once (each holds one 100m/64Mi
// pod at a time): 4 nodes of 64 CPU, 256Gi and 1,000 pods per 1,000
// workflows.
func benchNodes(perCluster int) []testbed.NodeSpec {
	scale := max(1, (perCluster+999)/1000)
	nodes := make([]testbed.NodeSpec, 4)
	for i := range nodes {
		nodes[i] = testbed.NodeSpec{Name: fmt.Sprintf("bench-%d", i), CPU: fmt.Sprint(64 * scale),
			Memory: fmt.Sprintf("%dGi", 256*scale), Pods: fmt.Sprint(1000 * scale)}
	}
	return nodes
}

// member is one member cluster and its agent (in this process).
type member struct {
	name    string
	cluster *testbed.Cluster
	backend *kube.Backend
	agent   *clusteragent.Agent
}

func clusterNames(n int) []string {
	if n == 1 {
		return []string{clusterName}
	}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%d", clusterName, i+1)
	}
	return names
}

// run starts the member clusters, the control plane and the agents, runs
// the workflows and measures. progress receives what it is doing.
func run(ctx context.Context, cfg *config, progress io.Writer) (*result, error) {
	say := func(format string, args ...any) { fmt.Fprintf(progress, format+"\n", args...) }
	timeout := cfg.runTimeout()
	ctx, cancel := context.WithTimeout(ctx, timeout+3*time.Minute)
	defer cancel()
	binDir := cfg.binDir
	if binDir == "" {
		d, err := testbed.BinDir() // <repo>/bin/testbin
		if err != nil {
			return nil, err
		}
		binDir = filepath.Dir(d)
	}
	server := filepath.Join(binDir, "federation-server")
	if _, err := os.Stat(server); err != nil {
		return nil, fmt.Errorf("%s not found: run `make build`", server)
	}
	if err := testbed.Available(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "bench-agent-")
	if err != nil {
		return nil, err
	}
	if cfg.keep {
		say("logs in %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	names := clusterNames(cfg.clusters)
	nodes := benchNodes((cfg.workflows + cfg.clusters - 1) / cfg.clusters)
	say("starting %d member cluster(s) (%d fake nodes each)", len(names), len(nodes))
	opts := make([]testbed.ClusterOptions, len(names))
	for i, name := range names {
		opts[i] = testbed.ClusterOptions{Name: name, Nodes: nodes, APIServerGOGC: benchAPIServerGOGC}
	}
	clusters, err := testbed.StartN(ctx, opts)
	if err != nil {
		return nil, err
	}
	members := make([]*member, len(clusters))
	for i, c := range clusters {
		members[i] = &member{name: names[i], cluster: c}
		defer func() { _ = c.Stop() }() // best effort: the numbers are already taken
	}

	say("starting the control plane")
	httpAddr, raftAddr := freeAddr(), freeAddr()
	cp, err := startProc(filepath.Join(dir, "federation-server.log"), server,
		"--id", "cp1", "--data-dir", filepath.Join(dir, "cp1"), "--bootstrap",
		"--http-addr", httpAddr, "--raft-addr", raftAddr, "--insecure-no-auth", "--insecure-no-tls",
		"--heartbeat-timeout", "5s", "--settle-time", "0s", "--log-level", "warn")
	if err != nil {
		return nil, err
	}
	defer cp.stop()
	fc, err := fedclient.New("http://" + httpAddr)
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		if err := waitFor(ctx, cp, 30*time.Second, "the control plane", func() error {
			_, _, err := fc.RegisterCluster(ctx, v1.ClusterSpec{Name: m.name, Weight: 1})
			return err
		}); err != nil {
			return nil, err
		}
	}

	// The agents, in this process, as bin/cluster-agent builds them.
	logf, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	log := slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// controller-runtime's own logs go there too, as bin/cluster-agent's do
	// (unset, it prints a stack trace to stderr on its first log line).
	ctrllog.SetLogger(logr.FromSlogHandler(log.Handler()))
	agentCtx, stopAgents := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stopAgents()
		wg.Wait()
	}()
	agentErr := make(chan error, 2*len(members))
	for _, m := range members {
		rc, err := clientcmd.BuildConfigFromFlags("", m.cluster.Kubeconfig)
		if err != nil {
			return nil, err
		}
		m.backend, err = kube.New(rc, kube.Options{InstallCRD: true, MetricsAddr: "0", Logger: log.With("cluster", m.name), MaxConcurrentReconciles: cfg.reconcilers})
		if err != nil {
			return nil, err
		}
		m.agent, err = clusteragent.New(clusteragent.Config{Cluster: m.name, Version: "bench", HeartbeatInterval: 500 * time.Millisecond,
			Registry: prometheus.NewRegistry(), Logger: log}, fc, m.backend)
		if err != nil {
			return nil, err
		}
		wg.Go(func() { agentErr <- wrapErr(m.name, m.backend.Run(agentCtx)) })
		wg.Go(func() { agentErr <- wrapErr(m.name, m.agent.Run(agentCtx)) })
	}
	for _, m := range members {
		if err := waitFor(ctx, cp, 60*time.Second, "the first heartbeat of the agent of "+m.name, func() error {
			select {
			case err := <-agentErr:
				return backoffStop{fmt.Errorf("agent stopped: %w", err)}
			default:
			}
			cl, err := fc.GetCluster(ctx, m.name)
			if err != nil {
				return err
			}
			if cl.State != v1.ClusterReady || !cl.Healthy || cl.Capacity == nil {
				return fmt.Errorf("cluster %s healthy %v", cl.State, cl.Healthy)
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}

	pids := []int{cp.cmd.Process.Pid}
	for _, m := range members {
		pids = append(pids, m.cluster.Pids()...)
	}
	memberBefore, err := allMemberWrites(ctx, members)
	if err != nil {
		return nil, err
	}
	cpuBefore := sampleCPU(pids)
	machineBefore := machineCPU()
	var writesBefore int64
	for _, m := range members {
		writesBefore += m.backend.Writes()
	}
	byVerbBefore := writesByVerb()
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}

	say("submitting %d workflows of %d nodes", cfg.workflows, nodesPerWorkflowSpec)
	specs := make([]v1.ExecutionSpec, cfg.workflows)
	for i := range specs {
		specs[i] = benchSpec(fmt.Sprintf("wf-%05d", i))
	}
	start := time.Now()
	if cfg.progress > 0 {
		pctx, stopProgress := context.WithCancel(ctx)
		defer stopProgress()
		backends := make([]lister, len(members))
		for i, m := range members {
			backends[i] = m.backend
		}
		go logProgress(pctx, progress, cfg.progress, backends, func() []int { return pids })
	}
	profDone := make(chan error, 1)
	if cfg.apiserverProfile != "" {
		go func() {
			profDone <- profileAPIServer(ctx, members[0].cluster, cfg.apiserverProfileFor, cfg.apiserverProfile)
		}()
	} else {
		profDone <- nil
	}
	if err := submitAll(ctx, fc, specs); err != nil {
		return nil, err
	}
	submitted := time.Since(start)
	say("submitted in %s; waiting for them to finish", submitted.Round(time.Millisecond))
	if err := waitFor(ctx, cp, timeout, "every workflow to finish", func() error {
		// Cheap on both sides, so that polling does not compete with
		// what is measured: each cluster's count of executions it holds,
		// and whether any is still queued.
		running := 0
		for _, m := range members {
			cl, err := fc.GetCluster(ctx, m.name)
			if err != nil {
				return err
			}
			running += cl.Running
		}
		queued, err := fc.ListExecutions(ctx, fedclient.ListOptions{Phase: v1.PhaseQueued, Limit: 1, Stale: true})
		if err != nil {
			return err
		}
		if running > 0 || len(queued.Items) > 0 {
			return fmt.Errorf("%d on the clusters, queue empty: %v", running, len(queued.Items) == 0)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	// Finished on the federation; the agents still delete what finished.
	// Those deletes belong to the workflows' cost.
	if err := waitFor(ctx, cp, gcTimeout, "the agents to collect the finished workflows", func() error {
		left := 0
		for _, m := range members {
			l, err := m.backend.List(ctx)
			if err != nil {
				return err
			}
			left += len(l)
		}
		if left > 0 {
			return fmt.Errorf("%d workflows left", left)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if cfg.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	cpuUsed := sampleCPU(pids).since(cpuBefore)
	machineUsed := machineCPU() - machineBefore
	memberAfter, err := allMemberWrites(ctx, members)
	if err != nil {
		return nil, err
	}
	if err := <-profDone; err != nil {
		return nil, err
	}
	var writes int64
	for _, m := range members {
		writes += m.backend.Writes()
	}

	all, err := fc.ListAllExecutions(ctx, fedclient.ListOptions{Limit: 1000})
	if err != nil {
		return nil, err
	}
	member := memberAfter.since(memberBefore)
	res := &result{
		Workflows:   cfg.workflows,
		Clusters:    len(members),
		Nodes:       cfg.workflows * nodesPerWorkflowSpec,
		PodsCreated: int(member.podsCreated()),
		Submit:      submitted,
		Writes:      writes - writesBefore,
		ByVerb:      subVerbs(writesByVerb(), byVerbBefore),
		Reconcilers: cfg.reconcilers,
		NodesDesc:   describeNodes(nodes),
		Machine:     probeMachine(),
		CPU:         cpuUsed,
		MachineCPU:  machineUsed,
		Member:      member,
	}
	res.fromExecutions(all)
	return res, nil
}

func wrapErr(name string, err error) error {
	if err == nil {
		return fmt.Errorf("%s: stopped", name)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// allMemberWrites sums the members' API server request counters.
func allMemberWrites(ctx context.Context, members []*member) (requestCounts, error) {
	sum := requestCounts{}
	for _, m := range members {
		c, err := memberWrites(ctx, m.cluster)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.name, err)
		}
		for k, v := range c {
			sum[k] += v
		}
	}
	return sum, nil
}

// finishQuantiles are the shares of workflows whose finish time the
// report shows, from the first submission.
var finishQuantiles = []float64{0.01, 0.1, 0.5, 0.9, 0.99, 1}

// benchSpec is a 3-node chain with small requests; kwok completes each pod
// as soon as it runs.
func benchSpec(name string) v1.ExecutionSpec {
	res := v1.Resources{CPU: "100m", Memory: "64Mi"}
	return v1.ExecutionSpec{
		Project: "bench", Domain: "agent", Name: name, Tier: v1.TierStandard,
		Workflow: v1.WorkflowSpec{Nodes: []v1.TaskNode{
			{ID: "extract", Image: "busybox", Resources: res},
			{ID: "train", DependsOn: []string{"extract"}, Image: "busybox", Resources: res},
			{ID: "report", DependsOn: []string{"train"}, Image: "busybox", Resources: res},
		}},
	}
}

func submitAll(ctx context.Context, c *fedclient.Client, specs []v1.ExecutionSpec) error {
	errs := make([]error, len(specs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range submitWorkers {
		wg.Go(func() {
			for i := range next {
				_, _, errs[i] = c.SubmitExecution(ctx, specs[i])
			}
		})
	}
	for i := range specs {
		next <- i
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

// writesByVerb reads clusteragent_api_writes_total from controller-
// runtime's registry, where the propeller registers it.
func writesByVerb() map[string]float64 {
	out := map[string]float64{}
	mfs, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		return out
	}
	for _, mf := range mfs {
		if mf.GetName() != "clusteragent_api_writes_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[verbOf(m)] += m.GetCounter().GetValue()
		}
	}
	return out
}

func verbOf(m *dto.Metric) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == "verb" {
			return l.GetValue()
		}
	}
	return "?"
}

func subVerbs(after, before map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

func describeNodes(ns []testbed.NodeSpec) string {
	return fmt.Sprintf("%d × (cpu %s, memory %s, pods %s)", len(ns), ns[0].CPU, ns[0].Memory, ns[0].Pods)
}

// proc is the control-plane process.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startProc(logPath, bin string, args ...string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// stop ends the process group: SIGTERM, then SIGKILL after 10 s.
func (p *proc) stop() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

func (p *proc) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("federation-server exited: %v", p.err)
	default:
		return nil
	}
}

// backoffStop wraps an error that ends a wait at once.
type backoffStop struct{ error }

// waitFor polls cond every 200ms until it returns nil.
func waitFor(ctx context.Context, p *proc, timeout time.Duration, what string, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		if err := p.exited(); err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		err := cond()
		if err == nil {
			return nil
		}
		var stop backoffStop
		if errors.As(err, &stop) {
			return fmt.Errorf("waiting for %s: %w", what, stop.error)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s: %w", timeout, what, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer l.Close()
	return l.Addr().String()
}

// runningQuantiles are the quantiles of submit-to-running the report shows.
var runningQuantiles = []float64{0.5, 0.9, 0.99, 1}

// fromExecutions fills the outcome and timings from the federation's
// records: from the first submission to the last finish, the steady rate
// between the 10th and 90th percentile of finishes, and each workflow's
// submit-to-running latency (submission to its first Running).
func (r *result) fromExecutions(all []v1.Execution) {
	var submitted, finished []time.Time
	var toRunning []time.Duration
	r.PerCluster = map[string]int{}
	for _, ex := range all {
		switch ex.Phase {
		case v1.PhaseSucceeded:
			r.Succeeded++
		default:
			r.Failed++
		}
		if ex.Cluster != "" {
			r.PerCluster[ex.Cluster]++
		}
		if len(ex.History) > 0 {
			submitted = append(submitted, ex.History[0].At)
			for _, h := range ex.History {
				if h.Phase == v1.PhaseRunning {
					toRunning = append(toRunning, h.At.Sub(ex.History[0].At))
					break
				}
			}
		}
		for _, h := range slices.Backward(ex.History) {
			if h.Phase.Terminal() {
				finished = append(finished, h.At)
				break
			}
		}
	}
	if len(toRunning) > 0 {
		slices.Sort(toRunning)
		for _, q := range runningQuantiles {
			r.ToRunning = append(r.ToRunning, toRunning[min(int(q*float64(len(toRunning))), len(toRunning)-1)])
		}
	}
	if len(submitted) == 0 || len(finished) == 0 {
		return
	}
	slices.SortFunc(submitted, time.Time.Compare)
	slices.SortFunc(finished, time.Time.Compare)
	r.Elapsed = finished[len(finished)-1].Sub(submitted[0])
	for _, q := range finishQuantiles {
		i := min(int(q*float64(len(finished))), len(finished)-1)
		r.Finished = append(r.Finished, finished[i].Sub(submitted[0]))
	}
	lo, hi := len(finished)/10, len(finished)*9/10
	if hi > lo {
		r.SteadyCount = hi - lo
		r.Steady = finished[hi-1].Sub(finished[lo])
	}
}
