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

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/clusteragent"
	"github.com/federation-dev/federation/clusteragent/kube"
	"github.com/federation-dev/federation/clusteragent/propeller"
	fedclient "github.com/federation-dev/federation/federation/client"
	"github.com/federation-dev/federation/test/testbed"
)

const (
	clusterName = "bench"
	// submitWorkers submit concurrently: submission is not what is measured.
	submitWorkers = 32
	// gcTimeout bounds the wait for the agent to delete what finished, so
	// that its deletes are counted too.
	gcTimeout = 60 * time.Second
)

// benchNodes are the member cluster's fake nodes: ample for every workflow
// to be live at once (each holds one 100m/64Mi pod at a time).
var benchNodes = []testbed.NodeSpec{
	{Name: "bench-0", CPU: "64", Memory: "256Gi", Pods: "1000"},
	{Name: "bench-1", CPU: "64", Memory: "256Gi", Pods: "1000"},
	{Name: "bench-2", CPU: "64", Memory: "256Gi", Pods: "1000"},
	{Name: "bench-3", CPU: "64", Memory: "256Gi", Pods: "1000"},
}

// run starts the member cluster, the control plane and the agent, runs the
// workflows and measures. progress receives what it is doing.
func run(ctx context.Context, cfg *config, progress io.Writer) (*result, error) {
	say := func(format string, args ...any) { fmt.Fprintf(progress, format+"\n", args...) }
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout+3*time.Minute)
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

	say("starting the member cluster (%d fake nodes)", len(benchNodes))
	cluster, err := testbed.Start(ctx, testbed.ClusterOptions{Name: clusterName, Nodes: benchNodes})
	if err != nil {
		return nil, err
	}
	defer func() { _ = cluster.Stop() }() // best effort: the numbers are already taken

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
	if err := waitFor(ctx, cp, 30*time.Second, "the control plane", func() error {
		_, _, err := fc.RegisterCluster(ctx, v1.ClusterSpec{Name: clusterName, Weight: 1})
		return err
	}); err != nil {
		return nil, err
	}

	// The agent, in this process, as bin/cluster-agent builds it.
	logf, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	log := slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rc, err := clientcmd.BuildConfigFromFlags("", cluster.Kubeconfig)
	if err != nil {
		return nil, err
	}
	backend, err := kube.New(rc, kube.Options{InstallCRD: true, MetricsAddr: "0", Logger: log, MaxConcurrentReconciles: cfg.reconcilers})
	if err != nil {
		return nil, err
	}
	agent, err := clusteragent.New(clusteragent.Config{Cluster: clusterName, Version: "bench", HeartbeatInterval: 500 * time.Millisecond,
		Registry: prometheus.NewRegistry(), Logger: log}, fc, backend)
	if err != nil {
		return nil, err
	}
	agentCtx, stopAgent := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stopAgent()
		wg.Wait()
	}()
	agentErr := make(chan error, 2)
	wg.Go(func() { agentErr <- backend.Run(agentCtx) })
	wg.Go(func() { agentErr <- agent.Run(agentCtx) })

	pods, err := countPods(agentCtx, cluster, &wg)
	if err != nil {
		return nil, err
	}
	if err := waitFor(ctx, cp, 60*time.Second, "the agent's first heartbeat", func() error {
		select {
		case err := <-agentErr:
			return backoffStop{fmt.Errorf("agent stopped: %w", err)}
		default:
		}
		cl, err := fc.GetCluster(ctx, clusterName)
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

	pids := append(cluster.Pids(), cp.cmd.Process.Pid)
	cpuBefore := sampleCPU(pids)
	writesBefore := backend.Writes()
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
	if err := submitAll(ctx, fc, specs); err != nil {
		return nil, err
	}
	submitted := time.Since(start)
	say("submitted in %s; waiting for them to finish", submitted.Round(time.Millisecond))
	if err := waitFor(ctx, cp, cfg.timeout, "every workflow to finish", func() error {
		// Cheap on both sides, so that polling does not compete with
		// what is measured: the cluster's count of executions it holds,
		// and whether any is still queued.
		cl, err := fc.GetCluster(ctx, clusterName)
		if err != nil {
			return err
		}
		queued, err := fc.ListExecutions(ctx, fedclient.ListOptions{Phase: v1.PhaseQueued, Limit: 1, Stale: true})
		if err != nil {
			return err
		}
		if cl.Running > 0 || len(queued.Items) > 0 {
			return fmt.Errorf("%d on the cluster, queue empty: %v", cl.Running, len(queued.Items) == 0)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	// Finished on the federation; the agent still deletes what finished.
	// Those deletes belong to the workflows' cost.
	if err := waitFor(ctx, cp, gcTimeout, "the agent to collect the finished workflows", func() error {
		l, err := backend.List(ctx)
		if err != nil {
			return err
		}
		if len(l) > 0 {
			return fmt.Errorf("%d workflows left", len(l))
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if cfg.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	cpuUsed := sampleCPU(pids).since(cpuBefore)

	all, err := fc.ListAllExecutions(ctx, fedclient.ListOptions{Limit: 1000})
	if err != nil {
		return nil, err
	}
	res := &result{
		Workflows:   cfg.workflows,
		Nodes:       cfg.workflows * nodesPerWorkflowSpec,
		PodsCreated: pods.count(),
		Submit:      submitted,
		Writes:      backend.Writes() - writesBefore,
		ByVerb:      subVerbs(writesByVerb(), byVerbBefore),
		Reconcilers: cfg.reconcilers,
		NodesDesc:   describeNodes(benchNodes),
		Machine:     probeMachine(),
		CPU:         cpuUsed,
	}
	res.fromExecutions(all)
	return res, nil
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

// podCounter counts the distinct task pods created in the member cluster.
type podCounter struct {
	mu   sync.Mutex
	seen map[string]struct{}
}

func (p *podCounter) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.seen)
}

// countPods watches the task pods of the agent's namespace until ctx ends.
func countPods(ctx context.Context, cluster *testbed.Cluster, wg *sync.WaitGroup) (*podCounter, error) {
	pc := &podCounter{seen: map[string]struct{}{}}
	f := informers.NewSharedInformerFactoryWithOptions(cluster.Client, 0, informers.WithNamespace(kube.DefaultNamespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = propeller.LabelWorkflow }))
	inf := f.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: func(obj any) {
		if p, ok := obj.(*corev1.Pod); ok {
			pc.mu.Lock()
			pc.seen[p.Name] = struct{}{}
			pc.mu.Unlock()
		}
	}}); err != nil {
		return nil, err
	}
	f.Start(ctx.Done())
	wg.Go(func() {
		<-ctx.Done()
		f.Shutdown()
	})
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return nil, fmt.Errorf("pod watch %v did not sync", typ)
		}
	}
	return pc, nil
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

// fromExecutions fills the outcome and timings from the federation's
// records: from the first submission to the last finish, and the steady
// rate between the 10th and 90th percentile of finishes.
func (r *result) fromExecutions(all []v1.Execution) {
	var submitted, finished []time.Time
	for _, ex := range all {
		switch ex.Phase {
		case v1.PhaseSucceeded:
			r.Succeeded++
		default:
			r.Failed++
		}
		if len(ex.History) > 0 {
			submitted = append(submitted, ex.History[0].At)
		}
		for _, h := range slices.Backward(ex.History) {
			if h.Phase.Terminal() {
				finished = append(finished, h.At)
				break
			}
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
