//go:build e2e

package e2e

// Helpers of the health, drain and failover suites (drain_test.go,
// failover_test.go, leader_kill_test.go): member clusters here are
// simulated (`cluster-agent --backend sim`), so hundreds of executions run
// in seconds, but every agent and replica is a real process talking HTTP
// and Raft. What ran where and when is read back from the agents' logs
// ("sim workflow started/finished/aborted" lines), which is how the suites
// prove that no execution ran twice at the same time.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	fedclient "github.com/federation-dev/federation/federation/client"
)

// chaosOptions shape a chaos world.
type chaosOptions struct {
	Clusters []string
	// TaskDuration is how long each simulated node runs.
	TaskDuration time.Duration
	// Capacity of each simulated cluster (the sim's --sim-capacity).
	Capacity string
	// ControlPlane flags; the timing flags are set from these.
	HeartbeatTimeout, FailoverGrace, SettleTime time.Duration
	RequeueRate                                 float64
	Args                                        []string
	// ViaProxy puts a cuttable TCP proxy between each agent and its
	// control-plane replica.
	ViaProxy bool
}

// chaosWorld is a control plane of three replicas and one sim agent per
// cluster.
type chaosWorld struct {
	env  *Env
	cp   *ControlPlane
	opts chaosOptions
	// agents by cluster: every process started for it, in order.
	agents  map[string][]*Proc
	proxies map[string]*chaosProxy
}

func chaosStart(env *Env, o chaosOptions) *chaosWorld {
	env.T.Helper()
	if o.TaskDuration == 0 {
		o.TaskDuration = 300 * time.Millisecond
	}
	if o.Capacity == "" {
		o.Capacity = "cpu=64,memory=256Gi,pods=400"
	}
	if o.RequeueRate == 0 {
		o.RequeueRate = 200
	}
	args := append([]string{"--requeue-rate", strconv.FormatFloat(o.RequeueRate, 'f', -1, 64),
		"--raft-timeout", "500ms", "--drain-handoff", "500ms"}, o.Args...)
	cp := env.StartControlPlane(ControlPlaneOptions{Replicas: 3, HeartbeatTimeout: o.HeartbeatTimeout,
		FailoverGrace: o.FailoverGrace, SettleTime: o.SettleTime, Args: args})
	cp.WaitReady()
	w := &chaosWorld{env: env, cp: cp, opts: o, agents: map[string][]*Proc{}, proxies: map[string]*chaosProxy{}}
	c := cp.Servers[0].Client
	for _, name := range o.Clusters {
		if _, _, err := c.RegisterCluster(env.Ctx, v1.ClusterSpec{Name: name, Weight: 1}); err != nil {
			env.T.Fatalf("register %s: %v", name, err)
		}
	}
	for i, name := range o.Clusters {
		server := cp.Servers[i%len(cp.Servers)]
		url := server.URL
		if o.ViaProxy {
			p := chaosNewProxy(env, server.HTTPAddr)
			w.proxies[name] = p
			url = "http://" + p.Addr()
		}
		w.startAgent(name, url)
	}
	env.WaitClustersReady(c, 0, o.Clusters...)
	return w
}

// startAgent starts (or restarts) the sim agent of a cluster.
func (w *chaosWorld) startAgent(name, server string) *Proc {
	w.env.T.Helper()
	n := len(w.agents[name])
	p := w.env.StartProc(fmt.Sprintf("agent-%s-%d", name, n), filepath.Join(w.env.BinDir, "cluster-agent"),
		"--cluster", name, "--server", server, "--backend", "sim",
		"--sim-task-duration", w.opts.TaskDuration.String(), "--sim-capacity", w.opts.Capacity,
		"--heartbeat-interval", "300ms", "--metrics-addr", "")
	w.agents[name] = append(w.agents[name], p)
	return p
}

// client returns a client of a live replica, round robin.
func (w *chaosWorld) client(i int) *fedclient.Client {
	for k := range w.cp.Servers {
		s := w.cp.Servers[(i+k)%len(w.cp.Servers)]
		if !s.Proc.Exited() {
			return s.Client
		}
	}
	w.env.T.Fatal("no live replica")
	return nil
}

// chaosSpec is a chain of n simulated nodes: n0 → n1 → ...
func chaosSpec(key v1.ExecutionKey, n int) v1.ExecutionSpec {
	nodes := make([]v1.TaskNode, n)
	for i := range nodes {
		nodes[i] = v1.TaskNode{ID: fmt.Sprintf("n%d", i), Image: "busybox", Command: []string{"true"},
			Resources: v1.Resources{CPU: "10m", Memory: "16Mi"}}
		if i > 0 {
			nodes[i].DependsOn = []string{nodes[i-1].ID}
		}
	}
	return v1.ExecutionSpec{Project: key.Project, Domain: key.Domain, Name: key.Name, Tier: v1.TierStandard,
		Workflow: v1.WorkflowSpec{Nodes: nodes}}
}

// chaosSubmitter submits executions from several goroutines, through
// every replica in turn, retrying what the control plane could not take
// (a leader change): it counts what was acknowledged.
type chaosSubmitter struct {
	w     *chaosWorld
	nodes int

	mu    sync.Mutex
	acked []v1.ExecutionKey
	tries atomic.Int64
	fails atomic.Int64
	next  atomic.Int64
}

// submit submits count executions named prefix-N and returns when all were
// acknowledged (each retried until it is, or the Env ends).
func (s *chaosSubmitter) submit(prefix string, count, workers int, pause time.Duration) {
	var wg sync.WaitGroup
	idx := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range idx {
				key := v1.ExecutionKey{Project: "chaos", Domain: "e2e", Name: fmt.Sprintf("%s-%04d", prefix, i)}
				sp := chaosSpec(key, s.nodes)
				for try := 0; s.w.env.Ctx.Err() == nil; try++ {
					s.tries.Add(1)
					c := s.w.client(int(s.next.Add(1)))
					if _, _, err := c.SubmitExecution(s.w.env.Ctx, sp); err == nil {
						s.mu.Lock()
						s.acked = append(s.acked, key)
						s.mu.Unlock()
						break
					}
					s.fails.Add(1)
					time.Sleep(50 * time.Millisecond)
				}
				if pause > 0 {
					time.Sleep(pause)
				}
			}
		})
	}
	for i := range count {
		idx <- i
	}
	close(idx)
	wg.Wait()
}

func (s *chaosSubmitter) keys() []v1.ExecutionKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.acked)
}

// ---- what ran where, from the agents' logs ----

// chaosCopy is one workflow copy an agent ran: an execution's attempt on a
// cluster, from its start to its end (finish, abort, or the agent's death).
type chaosCopy struct {
	Cluster string
	Key     string
	Attempt int
	Start   time.Time
	End     time.Time // zero: still running when the log ended
	How     string    // Succeeded, Failed, Aborted, killed, open
	Nodes   int
	Resumed int
}

// chaosLogFields parses a slog text line into its fields.
func chaosLogFields(line string) map[string]string {
	f := map[string]string{}
	for line != "" {
		line = strings.TrimLeft(line, " ")
		eq := strings.IndexByte(line, '=')
		if eq < 0 {
			break
		}
		k := line[:eq]
		line = line[eq+1:]
		var v string
		if strings.HasPrefix(line, `"`) {
			end := 1
			for end < len(line) && (line[end] != '"' || line[end-1] == '\\') {
				end++
			}
			uq, err := strconv.Unquote(line[:min(end+1, len(line))])
			if err != nil {
				uq = line[1:end]
			}
			v, line = uq, line[min(end+1, len(line)):]
		} else {
			sp := strings.IndexByte(line, ' ')
			if sp < 0 {
				sp = len(line)
			}
			v, line = line[:sp], line[sp:]
		}
		f[k] = v
	}
	return f
}

// chaosCopies reads every copy from the agents' logs. A copy still open
// when its process was killed ends at the kill time given for that log.
func (w *chaosWorld) chaosCopies(killedAt map[string]time.Time) ([]chaosCopy, error) {
	var out []chaosCopy
	for cluster, procs := range w.agents {
		for _, p := range procs {
			f, err := os.Open(p.LogPath)
			if err != nil {
				return nil, err
			}
			open := map[string]int{} // key/attempt → index in out
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				fl := chaosLogFields(sc.Text())
				msg := fl["msg"]
				if !strings.HasPrefix(msg, "sim workflow ") {
					continue
				}
				at, err := time.Parse(time.RFC3339Nano, fl["time"])
				if err != nil {
					continue
				}
				id := fl["execution"] + "#" + fl["attempt"]
				attempt, _ := strconv.Atoi(fl["attempt"])
				switch msg {
				case "sim workflow started":
					nodes, _ := strconv.Atoi(fl["nodes"])
					resumed, _ := strconv.Atoi(fl["resumed"])
					open[id] = len(out)
					out = append(out, chaosCopy{Cluster: cluster, Key: fl["execution"], Attempt: attempt, Start: at, How: "open", Nodes: nodes, Resumed: resumed})
				case "sim workflow finished", "sim workflow aborted":
					i, ok := open[id]
					if !ok {
						continue
					}
					out[i].End = at
					out[i].How = fl["phase"]
					if msg == "sim workflow aborted" {
						out[i].How = "Aborted"
					}
					delete(open, id)
				}
			}
			f.Close()
			if err := sc.Err(); err != nil {
				return nil, fmt.Errorf("read %s: %w", p.LogPath, err)
			}
			if t, ok := killedAt[p.Name]; ok {
				for _, i := range open {
					out[i].End, out[i].How = t, "killed"
				}
			}
		}
	}
	return out, nil
}

// chaosOverlaps lists the executions of which two copies ran at the same
// time, by the agents' clocks (one machine, one clock).
func chaosOverlaps(copies []chaosCopy, end time.Time) []string {
	by := map[string][]chaosCopy{}
	for _, c := range copies {
		by[c.Key] = append(by[c.Key], c)
	}
	var bad []string
	for key, cs := range by {
		slices.SortFunc(cs, func(a, b chaosCopy) int { return a.Start.Compare(b.Start) })
		for i := 1; i < len(cs); i++ {
			prevEnd := cs[i-1].End
			if prevEnd.IsZero() {
				prevEnd = end
			}
			if cs[i].Start.Before(prevEnd) {
				bad = append(bad, fmt.Sprintf("%s: attempt %d on %s [%s, %s %s] overlaps attempt %d on %s started %s",
					key, cs[i-1].Attempt, cs[i-1].Cluster, cs[i-1].Start.Format("15:04:05.000"), prevEnd.Format("15:04:05.000"), cs[i-1].How,
					cs[i].Attempt, cs[i].Cluster, cs[i].Start.Format("15:04:05.000")))
			}
		}
	}
	slices.Sort(bad)
	return bad
}

// chaosFinished waits for every key to end and returns them.
func (w *chaosWorld) chaosFinished(keys []v1.ExecutionKey, timeout time.Duration) map[v1.ExecutionKey]v1.Execution {
	w.env.T.Helper()
	return w.env.WaitFinished(w.client(0), keys, timeout)
}

// chaosTally is the suite's report of one test: Duplicated counts
// executions that ran twice at the same time (a later attempt after a
// requeue is expected and not a duplicate).
func chaosTally(keys []v1.ExecutionKey, execs map[v1.ExecutionKey]v1.Execution, overlaps []string, start time.Time, extra ...string) Report {
	r := Report{Submitted: len(keys), Duration: time.Since(start), Extra: extra}
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
	}
	r.Duplicated = len(overlaps)
	return r
}

// chaosSummary gathers the reports of the chaos tests run by this process,
// for TestChaosReport.
var chaosSummary struct {
	mu    sync.Mutex
	lines []string
}

func (w *chaosWorld) report(r Report) {
	r.Test = w.env.T.Name()
	w.env.WriteReport(r)
	chaosSummary.mu.Lock()
	chaosSummary.lines = append(chaosSummary.lines, r.Line())
	chaosSummary.mu.Unlock()
}

// ---- a cuttable TCP proxy ----

// chaosProxy forwards TCP connections to a target until it is cut: then
// it closes every connection and refuses new ones, as a network partition
// would, until it is healed.
type chaosProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func chaosNewProxy(env *Env, target string) *chaosProxy {
	env.T.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		env.T.Fatalf("proxy listen: %v", err)
	}
	p := &chaosProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.serve)
	env.T.Cleanup(p.close)
	return p
}

func (p *chaosProxy) Addr() string { return p.ln.Addr().String() }

func (p *chaosProxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			in.Close()
			continue
		}
		p.conns[in] = struct{}{}
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(in) })
	}
}

func (p *chaosProxy) pipe(in net.Conn) {
	defer p.forget(in)
	out, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		out.Close()
		return
	}
	p.conns[out] = struct{}{}
	p.mu.Unlock()
	defer p.forget(out)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(out, in); done <- struct{}{} }()
	go func() { _, _ = io.Copy(in, out); done <- struct{}{} }()
	<-done
}

func (p *chaosProxy) forget(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// Cut drops every connection and refuses new ones.
func (p *chaosProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
}

// Heal accepts connections again.
func (p *chaosProxy) Heal() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

func (p *chaosProxy) close() {
	p.Cut()
	_ = p.ln.Close()
	p.wg.Wait()
}
