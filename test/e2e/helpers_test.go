//go:build e2e

// Package e2e proves the federation's guarantees end to end: real
// federation-server and cluster-agent processes from bin/, and real member
// clusters from test/testbed (etcd, kube-apiserver, kube-scheduler, kwok).
//
// This file is the shared harness. A test makes an Env (a time bound, a
// folder for logs and data, the processes it started), then starts what it
// needs on it:
//
//	env := NewEnv(t, 3*time.Minute)
//	cp := env.StartControlPlane(ControlPlaneOptions{Replicas: 3})
//	members := env.StartMembers(MemberOptions{Spec: ..., Nodes: ...}, ...)
//	cp.WaitReady()
//	env.RegisterMembers(cp.Follower().Client, members...)
//	env.StartAgent(members[0], AgentOptions{Server: cp.Servers[0].URL})
//	env.WaitClustersReady(cp.Follower().Client, names...)
//	keys := env.SubmitAll(cp.Follower().Client, specs)
//	execs := env.WaitFinished(cp.Follower().Client, keys)
//	env.WriteReport(Tally(keys, execs, recorders...))
//
// Everything started is stopped at cleanup, by its own pid only. The Env's
// folder is removed when the test passes and kept (its path logged, with the
// tail of every process log) when it fails.
package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	wfv1 "github.com/federation-dev/federation/api/workflow/v1alpha1"
	"github.com/federation-dev/federation/clusteragent/kube"
	"github.com/federation-dev/federation/clusteragent/propeller"
	fedclient "github.com/federation-dev/federation/federation/client"
	"github.com/federation-dev/federation/test/testbed"
)

func init() {
	// The recorders use controller-runtime's cache, which otherwise
	// complains on stderr that no logger was set.
	ctrllog.SetLogger(logr.Discard())
}

// pollInterval is how often the harness polls while it waits.
const pollInterval = 200 * time.Millisecond

// Env is one test's world: its deadline, its folder and the processes and
// member clusters it started.
type Env struct {
	T *testing.T
	// Ctx ends at the Env's deadline or at cleanup.
	Ctx context.Context
	// Dir holds the logs and data of everything the Env started.
	Dir string
	// BinDir holds federation-server, cluster-agent and fedctl.
	BinDir string

	mu    sync.Mutex
	procs []*Proc
}

// NewEnv makes an Env bounded by timeout. It skips the test when bin/ lacks
// the project's binaries (run `make build`).
func NewEnv(t *testing.T, timeout time.Duration) *Env {
	t.Helper()
	binDir, err := projectBinDir()
	if err != nil {
		t.Fatalf("find bin dir: %v", err)
	}
	for _, b := range []string{"federation-server", "cluster-agent"} {
		if fi, err := os.Stat(filepath.Join(binDir, b)); err != nil || fi.Mode()&0o111 == 0 {
			t.Skipf("%s not found in %s: run `make build` first", b, binDir)
		}
	}
	dir, err := os.MkdirTemp("", "e2e-"+sanitize(t.Name())+"-")
	if err != nil {
		t.Fatalf("make env dir: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	e := &Env{T: t, Ctx: ctx, Dir: dir, BinDir: binDir}
	t.Cleanup(func() {
		cancel()
		e.stopAll()
		if t.Failed() {
			e.dumpLogs()
			t.Logf("e2e: logs and data kept in %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	return e
}

// projectBinDir is $FEDERATION_BIN, else <repo>/bin.
func projectBinDir() (string, error) {
	if d := os.Getenv("FEDERATION_BIN"); d != "" {
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "bin"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' {
			return '_'
		}
		return r
	}, s)
}

// Proc is one process the Env started, in its own process group.
type Proc struct {
	Name    string
	LogPath string

	cmd      *exec.Cmd
	done     chan struct{}
	waitErr  error
	mu       sync.Mutex
	stopping bool
}

// StartProc starts bin with args; its output goes to <Dir>/<name>.log. It
// is stopped at cleanup.
func (e *Env) StartProc(name, bin string, args ...string) *Proc {
	e.T.Helper()
	logPath := filepath.Join(e.Dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		e.T.Fatalf("start %s: %v", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	// Own process group: stopping it reaches only what it started.
	// Pdeathsig: if the test binary dies, so does the process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := testbed.Spawn(cmd); err != nil {
		f.Close()
		e.T.Fatalf("start %s: %v", name, err)
	}
	p := &Proc{Name: name, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	e.mu.Lock()
	e.procs = append(e.procs, p)
	e.mu.Unlock()
	return p
}

// Pid is the process id (and process group id).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM to the process group, then SIGKILL after 10 s, and
// waits for the process to end. Safe to call more than once.
func (p *Proc) Stop() {
	p.signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.signal(syscall.SIGKILL)
		<-p.done
	}
}

// Kill ends the process group at once (a crash) and waits for it.
func (p *Proc) Kill() {
	p.signal(syscall.SIGKILL)
	<-p.done
}

func (p *Proc) signal(sig syscall.Signal) {
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
	if !p.Exited() {
		_ = syscall.Kill(-p.Pid(), sig)
	}
}

// unexpectedExit describes a process that ended without being stopped.
func (p *Proc) unexpectedExit() error {
	p.mu.Lock()
	stopping := p.stopping
	p.mu.Unlock()
	if stopping || !p.Exited() {
		return nil
	}
	return fmt.Errorf("%s exited on its own (%v); log tail:\n%s", p.Name, p.waitErr, p.Tail(20))
}

// Tail returns the last n lines of the process's log.
func (p *Proc) Tail(n int) string {
	data, err := os.ReadFile(p.LogPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// CheckProcs fails with the log tail of any process that ended on its own.
func (e *Env) CheckProcs() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range e.procs {
		if err := p.unexpectedExit(); err != nil {
			return err
		}
	}
	return nil
}

func (e *Env) stopAll() {
	e.mu.Lock()
	procs := slices.Clone(e.procs)
	e.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range slices.Backward(procs) {
		wg.Go(p.Stop)
	}
	wg.Wait()
}

func (e *Env) dumpLogs() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range e.procs {
		e.T.Logf("--- tail of %s (%s):\n%s", p.Name, p.LogPath, p.Tail(15))
	}
}

// FreeAddr returns a free 127.0.0.1:port.
func (e *Env) FreeAddr() string {
	e.T.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.T.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Eventually polls cond until it holds, the timeout passes, the Env's
// deadline passes or one of its processes dies; the last three fail the
// test, naming what was awaited and cond's last error.
func (e *Env) Eventually(timeout time.Duration, what string, cond func() (bool, error)) {
	e.T.Helper()
	if err := e.poll(timeout, what, cond); err != nil {
		e.T.Fatal(err)
	}
}

func (e *Env) poll(timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		if err := e.CheckProcs(); err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		ok, err := cond()
		if ok {
			return nil
		}
		last = err
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s (last error: %v)", timeout, what, last)
		}
		select {
		case <-e.Ctx.Done():
			return fmt.Errorf("test deadline passed waiting for %s (last error: %v)", what, last)
		case <-time.After(pollInterval):
		}
	}
}

// ---- control plane ----

// ControlPlaneOptions shape a control plane. Zero fields take small values
// fit for tests.
type ControlPlaneOptions struct {
	// Replicas is the number of federation-server processes; default 3.
	Replicas int
	// HeartbeatTimeout, FailoverGrace and SettleTime are passed as the
	// flags of the same name; defaults 3s, 5s and 1s.
	HeartbeatTimeout, FailoverGrace, SettleTime time.Duration
	// Args are extra flags for every replica.
	Args []string
}

func (o *ControlPlaneOptions) defaults() {
	if o.Replicas == 0 {
		o.Replicas = 3
	}
	if o.HeartbeatTimeout == 0 {
		o.HeartbeatTimeout = 3 * time.Second
	}
	if o.FailoverGrace == 0 {
		o.FailoverGrace = 5 * time.Second
	}
	if o.SettleTime == 0 {
		o.SettleTime = time.Second
	}
}

// Server is one federation-server replica.
type Server struct {
	ID       string
	HTTPAddr string
	RaftAddr string
	// URL is http://HTTPAddr.
	URL     string
	DataDir string
	Proc    *Proc
	// Client talks to this replica.
	Client *fedclient.Client
}

// ControlPlane is a set of federation-server replicas.
type ControlPlane struct {
	env     *Env
	Opts    ControlPlaneOptions
	Servers []*Server
}

// StartControlPlane starts the replicas: the first bootstraps, the others
// join through it. It does not wait: call WaitReady.
func (e *Env) StartControlPlane(o ControlPlaneOptions) *ControlPlane {
	e.T.Helper()
	o.defaults()
	cp := &ControlPlane{env: e, Opts: o}
	for i := 1; i <= o.Replicas; i++ {
		s := &Server{ID: fmt.Sprintf("cp%d", i), HTTPAddr: e.FreeAddr(), RaftAddr: e.FreeAddr()}
		s.URL = "http://" + s.HTTPAddr
		s.DataDir = filepath.Join(e.Dir, s.ID)
		args := []string{"--id", s.ID, "--data-dir", s.DataDir, "--http-addr", s.HTTPAddr, "--raft-addr", s.RaftAddr,
			"--heartbeat-timeout", o.HeartbeatTimeout.String(), "--failover-grace", o.FailoverGrace.String(),
			"--settle-time", o.SettleTime.String(), "--insecure-no-auth", "--insecure-no-tls", "--log-level", "info"}
		if i == 1 {
			args = append(args, "--bootstrap")
		} else {
			args = append(args, "--join", cp.Servers[0].URL)
		}
		args = append(args, o.Args...)
		s.Proc = e.StartProc(s.ID, filepath.Join(e.BinDir, "federation-server"), args...)
		c, err := fedclient.New(s.URL)
		if err != nil {
			e.T.Fatalf("client for %s: %v", s.ID, err)
		}
		s.Client = c
		cp.Servers = append(cp.Servers, s)
	}
	return cp
}

// WaitReady waits until every replica sees the same leader and all
// replicas as members.
func (cp *ControlPlane) WaitReady() {
	cp.env.T.Helper()
	n := len(cp.Servers)
	cp.env.Eventually(60*time.Second, fmt.Sprintf("a %d-member control plane", n), func() (bool, error) {
		leader := ""
		for _, s := range cp.Servers {
			st, err := s.Client.RaftStatus(cp.env.Ctx)
			if err != nil {
				return false, fmt.Errorf("%s: %w", s.ID, err)
			}
			if st.Leader == nil || len(st.Members) != n {
				return false, fmt.Errorf("%s sees leader %v and %d members", s.ID, st.Leader, len(st.Members))
			}
			if leader != "" && st.Leader.ID != leader {
				return false, fmt.Errorf("replicas disagree on the leader: %s and %s", leader, st.Leader.ID)
			}
			leader = st.Leader.ID
		}
		return true, nil
	})
}

// Leader returns the replica that leads now, as the first live replica
// sees it.
func (cp *ControlPlane) Leader() *Server {
	cp.env.T.Helper()
	var leader *Server
	cp.env.Eventually(30*time.Second, "a leader", func() (bool, error) {
		for _, s := range cp.Servers {
			if s.Proc.Exited() {
				continue
			}
			st, err := s.Client.RaftStatus(cp.env.Ctx)
			if err != nil || st.Leader == nil {
				continue
			}
			for _, l := range cp.Servers {
				if l.ID == st.Leader.ID && !l.Proc.Exited() {
					leader = l
					return true, nil
				}
			}
		}
		return false, errors.New("no live replica names a live leader")
	})
	return leader
}

// Follower returns a live replica that does not lead.
func (cp *ControlPlane) Follower() *Server {
	cp.env.T.Helper()
	leader := cp.Leader()
	for _, s := range cp.Servers {
		if s != leader && !s.Proc.Exited() {
			return s
		}
	}
	cp.env.T.Fatal("no live follower")
	return nil
}

// ---- member clusters and agents ----

// MemberOptions describe one member cluster: how it is registered and its
// fake nodes.
type MemberOptions struct {
	Spec  v1.ClusterSpec
	Nodes []testbed.NodeSpec
}

// Member is a running member cluster and, once started, its agent.
type Member struct {
	Spec    v1.ClusterSpec
	Nodes   []testbed.NodeSpec
	Cluster *testbed.Cluster
	// Agent and MetricsURL are set by StartAgent.
	Agent      *Proc
	MetricsURL string
}

// StartMembers starts one testbed cluster per option, in parallel, and
// stops them at cleanup. It skips the test when the testbed binaries are
// missing (run `make testbin`).
func (e *Env) StartMembers(opts ...MemberOptions) []*Member {
	e.T.Helper()
	if err := testbed.Available(); err != nil {
		e.T.Skipf("member clusters need the testbed: %v", err)
	}
	copts := make([]testbed.ClusterOptions, len(opts))
	for i, o := range opts {
		copts[i] = testbed.ClusterOptions{Name: o.Spec.Name, Nodes: o.Nodes}
	}
	ctx, cancel := context.WithTimeout(e.Ctx, 2*time.Minute)
	defer cancel()
	clusters, err := testbed.StartN(ctx, copts)
	if err != nil {
		e.T.Fatalf("start member clusters: %v", err)
	}
	e.T.Cleanup(func() {
		for _, c := range clusters {
			if err := c.Stop(); err != nil {
				e.T.Errorf("stop member cluster: %v", err)
			}
		}
	})
	members := make([]*Member, len(opts))
	for i, o := range opts {
		members[i] = &Member{Spec: o.Spec, Nodes: o.Nodes, Cluster: clusters[i]}
	}
	return members
}

// RegisterMembers registers the members' specs through c.
func (e *Env) RegisterMembers(c *fedclient.Client, members ...*Member) {
	e.T.Helper()
	for _, m := range members {
		if _, _, err := c.RegisterCluster(e.Ctx, m.Spec); err != nil {
			e.T.Fatalf("register cluster %s: %v", m.Spec.Name, err)
		}
	}
}

// AgentOptions shape a cluster-agent process.
type AgentOptions struct {
	// Server is the federation URL the agent talks to (required).
	Server string
	// HeartbeatInterval defaults to 500ms.
	HeartbeatInterval time.Duration
	// Args are extra flags.
	Args []string
}

// StartAgent starts `cluster-agent --backend kubernetes` for m, with the
// member's admin kubeconfig and --install-crd.
func (e *Env) StartAgent(m *Member, o AgentOptions) *Proc {
	e.T.Helper()
	if o.HeartbeatInterval == 0 {
		o.HeartbeatInterval = 500 * time.Millisecond
	}
	metrics := e.FreeAddr()
	args := []string{"--cluster", m.Spec.Name, "--server", o.Server, "--backend", "kubernetes",
		"--kubeconfig", m.Cluster.Kubeconfig, "--install-crd",
		"--heartbeat-interval", o.HeartbeatInterval.String(), "--metrics-addr", metrics}
	args = append(args, o.Args...)
	m.Agent = e.StartProc("agent-"+m.Spec.Name, filepath.Join(e.BinDir, "cluster-agent"), args...)
	m.MetricsURL = "http://" + metrics + "/metrics"
	return m.Agent
}

// WaitClustersReady waits until each named cluster is Ready, healthy, has
// reported capacity and has been healthy for settle (the control plane's
// settle time: placement skips clusters still settling). It returns them.
func (e *Env) WaitClustersReady(c *fedclient.Client, settle time.Duration, names ...string) map[string]v1.Cluster {
	e.T.Helper()
	got := map[string]v1.Cluster{}
	e.Eventually(60*time.Second, "clusters "+strings.Join(names, ", ")+" Ready with capacity", func() (bool, error) {
		l, err := c.ListClusters(e.Ctx)
		if err != nil {
			return false, err
		}
		byName := map[string]v1.Cluster{}
		for _, cl := range l.Items {
			byName[cl.Name] = cl
		}
		for _, n := range names {
			cl, ok := byName[n]
			switch {
			case !ok:
				return false, fmt.Errorf("cluster %s not registered", n)
			case cl.State != v1.ClusterReady || !cl.Healthy || cl.Capacity == nil:
				return false, fmt.Errorf("cluster %s: state %s healthy %v capacity %v", n, cl.State, cl.Healthy, cl.Capacity)
			case time.Since(cl.HealthySince) < settle:
				return false, fmt.Errorf("cluster %s still settling", n)
			}
			got[n] = cl
		}
		return true, nil
	})
	return got
}

// NodeAmounts is what the member's fake nodes add up to, as the agent must
// report it in capacity.allocatable.
func (m *Member) NodeAmounts() (v1.Amounts, error) {
	var a v1.Amounts
	for _, n := range m.Nodes {
		r := v1.Resources{CPU: orDefault(n.CPU, "32"), Memory: orDefault(n.Memory, "128Gi"), GPU: n.GPU}
		x, err := r.Amounts()
		if err != nil {
			return a, fmt.Errorf("node %s: %w", n.Name, err)
		}
		pods, err := strconv.ParseInt(orDefault(n.Pods, "110"), 10, 64)
		if err != nil {
			return a, fmt.Errorf("node %s pods: %w", n.Name, err)
		}
		x.Pods = pods
		a = a.Add(x)
	}
	return a, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// ScrapeCounter sums the samples of a Prometheus counter (all label sets)
// from a /metrics URL.
func ScrapeCounter(ctx context.Context, url, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	return sumCounter(resp.Body, name)
}

func sumCounter(r io.Reader, name string) (float64, error) {
	var sum float64
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue // another metric sharing the prefix
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("parse %q: %w", line, err)
		}
		sum += v
	}
	return sum, sc.Err()
}

// ---- what the member clusters saw ----

// RecordedWorkflow is a Workflow seen in a member cluster.
type RecordedWorkflow struct {
	Name    string
	Key     v1.ExecutionKey
	Attempt int
}

// RecordedPod is a task pod seen in a member cluster, in the last state
// seen.
type RecordedPod struct {
	Name, Workflow, Node string
	Env                  map[string]string
	Phase                corev1.PodPhase
	NodeName             string
}

// Recorder watches a member cluster's Workflows and task pods and keeps
// every one it saw, even after the agent deleted it: finished workflows do
// not stay in the cluster.
type Recorder struct {
	Member *Member

	mu        sync.Mutex
	workflows map[string]RecordedWorkflow
	pods      map[string]RecordedPod
}

// Record starts watching m's namespace ns (empty: the agent's default). The
// Workflow CRD must be installed (start the agent with --install-crd and
// wait for its cluster to be Ready first). It returns once the watches have
// synced, and stops them at cleanup.
func (e *Env) Record(m *Member, ns string) *Recorder {
	e.T.Helper()
	if ns == "" {
		ns = kube.DefaultNamespace
	}
	r := &Recorder{Member: m, workflows: map[string]RecordedWorkflow{}, pods: map[string]RecordedPod{}}
	scheme := kubeScheme()
	c, err := cache.New(m.Cluster.RESTConfig, cache.Options{Scheme: scheme, DefaultNamespaces: map[string]cache.Config{ns: {}}})
	if err != nil {
		e.T.Fatalf("recorder for %s: %v", m.Spec.Name, err)
	}
	ctx, cancel := context.WithCancel(e.Ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Start(ctx)
	}()
	e.T.Cleanup(func() {
		cancel()
		<-done
	})
	add := func(obj any, fn func(client.Object)) {
		if o, ok := obj.(client.Object); ok {
			fn(o)
		}
	}
	for _, w := range []struct {
		obj client.Object
		fn  func(client.Object)
	}{{&wfv1.Workflow{}, r.sawWorkflow}, {&corev1.Pod{}, r.sawPod}} {
		inf, err := c.GetInformer(ctx, w.obj)
		if err != nil {
			e.T.Fatalf("recorder for %s: informer: %v", m.Spec.Name, err)
		}
		fn := w.fn
		_, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { add(obj, fn) },
			UpdateFunc: func(_, obj any) { add(obj, fn) },
			DeleteFunc: func(obj any) {
				if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
					obj = d.Obj
				}
				add(obj, fn)
			},
		})
		if err != nil {
			e.T.Fatalf("recorder for %s: handler: %v", m.Spec.Name, err)
		}
	}
	syncCtx, syncCancel := context.WithTimeout(ctx, 30*time.Second)
	defer syncCancel()
	if !c.WaitForCacheSync(syncCtx) {
		e.T.Fatalf("recorder for %s: watches did not sync", m.Spec.Name)
	}
	return r
}

func (r *Recorder) sawWorkflow(o client.Object) {
	wf, ok := o.(*wfv1.Workflow)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.workflows[wf.Name] = RecordedWorkflow{
		Name:    wf.Name,
		Key:     v1.ExecutionKey{Project: wf.Spec.Execution.Project, Domain: wf.Spec.Execution.Domain, Name: wf.Spec.Execution.Name},
		Attempt: int(wf.Spec.Attempt),
	}
}

func (r *Recorder) sawPod(o client.Object) {
	p, ok := o.(*corev1.Pod)
	if !ok || p.Labels[propeller.LabelWorkflow] == "" {
		return
	}
	env := map[string]string{}
	for _, c := range p.Spec.Containers {
		for _, v := range c.Env {
			env[v.Name] = v.Value
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pods[p.Name] = RecordedPod{Name: p.Name, Workflow: p.Labels[propeller.LabelWorkflow], Node: p.Labels[propeller.LabelNode],
		Env: env, Phase: p.Status.Phase, NodeName: p.Spec.NodeName}
}

// Workflows returns every Workflow seen, by name.
func (r *Recorder) Workflows() map[string]RecordedWorkflow {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]RecordedWorkflow, len(r.workflows))
	for k, v := range r.workflows {
		out[k] = v
	}
	return out
}

// Pods returns every task pod seen, by name.
func (r *Recorder) Pods() map[string]RecordedPod {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]RecordedPod, len(r.pods))
	for k, v := range r.pods {
		out[k] = v
	}
	return out
}

func kubeScheme() *kruntime.Scheme {
	s := kruntime.NewScheme()
	if err := corev1.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := wfv1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// ---- executions ----

// Outputs the ThreeNodeSpec tasks declare (through testbed.EnvOutputs).
const (
	OutputPath  = "path"
	OutputModel = "model"
	OutputScore = "score"
)

// ThreeNodeSpec is a 3-node chain extract → train → report with small
// requests. Each node declares its outputs (testbed.EnvOutputs), and train
// and report take their upstream node's output as an input, so the outputs
// an execution reports prove the data flowed.
func ThreeNodeSpec(key v1.ExecutionKey) v1.ExecutionSpec {
	res := v1.Resources{CPU: "100m", Memory: "64Mi"}
	return v1.ExecutionSpec{
		Project: key.Project, Domain: key.Domain, Name: key.Name, Tier: v1.TierStandard,
		Inputs: map[string]string{"date": "2026-11-25"},
		Workflow: v1.WorkflowSpec{Nodes: []v1.TaskNode{
			{ID: "extract", Image: "python:3.12", Command: []string{"python", "-m", "extract"}, Resources: res,
				Inputs: map[string]v1.Binding{"date": {FromInput: "date"}},
				Env:    map[string]string{testbed.EnvOutputs: `{"` + OutputPath + `":"` + ExpectedPath(key) + `"}`}},
			{ID: "train", DependsOn: []string{"extract"}, Image: "python:3.12", Command: []string{"python", "-m", "train"}, Resources: res,
				Inputs: map[string]v1.Binding{"data": {FromNode: "extract", Output: OutputPath}},
				Env:    map[string]string{testbed.EnvOutputs: `{"` + OutputModel + `":"` + ExpectedModel(key) + `"}`}},
			{ID: "report", DependsOn: []string{"train"}, Image: "python:3.12", Command: []string{"python", "-m", "report"}, Resources: res,
				Inputs: map[string]v1.Binding{"model": {FromNode: "train", Output: OutputModel}},
				Env:    map[string]string{testbed.EnvOutputs: `{"` + OutputScore + `":0.93}`}},
		}},
	}
}

// ExpectedPath is the output "path" of a ThreeNodeSpec's extract node.
func ExpectedPath(key v1.ExecutionKey) string { return "s3://e2e/" + key.Name + "/data" }

// ExpectedModel is the output "model" of a ThreeNodeSpec's train node.
func ExpectedModel(key v1.ExecutionKey) string { return "s3://e2e/" + key.Name + "/model" }

// SubmitAll submits the specs through c with 16 workers and returns the
// keys of the acknowledged ones, in spec order. Any refusal fails the test.
func (e *Env) SubmitAll(c *fedclient.Client, specs []v1.ExecutionSpec) []v1.ExecutionKey {
	e.T.Helper()
	const workers = 16
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				_, _, errs[i] = c.SubmitExecution(e.Ctx, specs[i])
			}
		})
	}
	for i := range specs {
		next <- i
	}
	close(next)
	wg.Wait()
	keys := make([]v1.ExecutionKey, len(specs))
	for i, s := range specs {
		if errs[i] != nil {
			e.T.Fatalf("submit %s: %v", s.Key(), errs[i])
		}
		keys[i] = s.Key()
	}
	return keys
}

// WaitFinished waits until every key is in a terminal phase and returns
// them all, by key.
func (e *Env) WaitFinished(c *fedclient.Client, keys []v1.ExecutionKey, timeout time.Duration) map[v1.ExecutionKey]v1.Execution {
	e.T.Helper()
	var got map[v1.ExecutionKey]v1.Execution
	e.Eventually(timeout, fmt.Sprintf("%d executions to finish", len(keys)), func() (bool, error) {
		all, err := c.ListAllExecutions(e.Ctx, fedclient.ListOptions{Limit: 1000})
		if err != nil {
			return false, err
		}
		got = make(map[v1.ExecutionKey]v1.Execution, len(all))
		for _, ex := range all {
			got[ex.Key()] = ex
		}
		live := 0
		for _, k := range keys {
			if ex, ok := got[k]; !ok || !ex.Phase.Terminal() {
				live++
			}
		}
		if live > 0 {
			return false, fmt.Errorf("%d of %d not finished", live, len(keys))
		}
		return true, nil
	})
	return got
}

// FirstPlacement is the first Assigned entry of an execution's history.
func FirstPlacement(ex v1.Execution) (v1.PhaseTransition, bool) {
	for _, h := range ex.History {
		if h.Phase == v1.PhaseAssigned {
			return h, true
		}
	}
	return v1.PhaseTransition{}, false
}

// FinishedAt is when an execution reached its terminal phase.
func FinishedAt(ex v1.Execution) (time.Time, bool) {
	for _, h := range slices.Backward(ex.History) {
		if h.Phase.Terminal() {
			return h.At, true
		}
	}
	return time.Time{}, false
}

// ---- the report ----

// Report is the outcome of one e2e run: the line every suite ends with.
type Report struct {
	Test string
	// Submitted counts acknowledged submissions; Succeeded those that
	// ended Succeeded; Failed those that ended Failed or Aborted.
	Submitted, Succeeded, Failed int
	// Lost counts acknowledged executions that are missing or did not
	// end (or ended other than Succeeded without a reason).
	Lost int
	// Duplicated counts executions that ran more than once: more than
	// one Workflow in the member clusters, or more than one attempt.
	Duplicated int
	Duration   time.Duration
	// Extra are further "key=value" facts for the line.
	Extra []string
}

// Tally computes a Report from the acknowledged keys, the executions as
// the federation ends with them, and what the member clusters saw.
func Tally(keys []v1.ExecutionKey, execs map[v1.ExecutionKey]v1.Execution, recs ...*Recorder) Report {
	r := Report{Submitted: len(keys)}
	runs := map[v1.ExecutionKey]int{}
	for _, rec := range recs {
		for _, wf := range rec.Workflows() {
			runs[wf.Key]++
		}
	}
	for _, k := range keys {
		ex, ok := execs[k]
		switch {
		case !ok || !ex.Phase.Terminal():
			r.Lost++
		case ex.Phase == v1.PhaseSucceeded:
			r.Succeeded++
		default:
			r.Failed++
		}
		if ok && (ex.Attempt > 1 || runs[k] > 1) {
			r.Duplicated++
		}
	}
	return r
}

// Line renders the report as one line.
func (r Report) Line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "e2e %s: submitted=%d succeeded=%d failed=%d lost=%d duplicated=%d duration=%s",
		r.Test, r.Submitted, r.Succeeded, r.Failed, r.Lost, r.Duplicated, r.Duration.Round(100*time.Millisecond))
	extra := slices.Clone(r.Extra)
	sort.Strings(extra)
	for _, x := range extra {
		b.WriteString(" " + x)
	}
	return b.String()
}

// WriteReport logs the report line, prints it (so `go test` shows it
// without -v) and appends it to $E2E_REPORT when that names a file.
func (e *Env) WriteReport(r Report) {
	e.T.Helper()
	if r.Test == "" {
		r.Test = e.T.Name()
	}
	line := r.Line()
	e.T.Log(line)
	fmt.Println(line)
	if path := os.Getenv("E2E_REPORT"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			e.T.Errorf("write e2e report: %v", err)
			return
		}
		defer f.Close()
		if _, err := f.WriteString(line + "\n"); err != nil {
			e.T.Errorf("write e2e report: %v", err)
		}
	}
}
