package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/federation/client"
)

// Options shape a demo run.
type Options struct {
	Executions int
	Backend    string
	BinDir     string
	Timeout    time.Duration
	Keep       bool
	// Kubeconfigs, for the kubernetes backend, by cluster name.
	Kubeconfigs map[string]string
}

func defaultOptions() Options {
	return Options{Executions: 300, Backend: "sim", Timeout: 4 * time.Minute}
}

// Report is what a run ended with.
type Report struct {
	Submitted, Succeeded, Lost int
	ByCluster                  map[string]int
	Requeued                   int
}

// member is one demo member cluster.
type member struct {
	spec     v1.ClusterSpec
	capacity string
}

var members = []member{
	{v1.ClusterSpec{Name: "us-east-a", Labels: map[string]string{"region": "us-east", "zone": "a"}, Weight: 1}, "cpu=64,memory=256Gi,pods=500"},
	{v1.ClusterSpec{Name: "us-east-b", Labels: map[string]string{"region": "us-east", "zone": "b"}, Weight: 3, Tiers: []v1.Tier{v1.TierCritical, v1.TierStandard}}, "cpu=64,memory=256Gi,pods=500"},
	{v1.ClusterSpec{Name: "eu-spot", Labels: map[string]string{"region": "eu-west", "capacity": "spot"}, Weight: 1, Tiers: []v1.Tier{v1.TierStandard, v1.TierBestEffort}}, "cpu=32,memory=128Gi,pods=200"},
}

// procs owns the processes the demo started; it ends only those, by pid.
type procs struct {
	dir string

	mu       sync.Mutex
	list     []*proc
	stopping bool
	exited   []string // processes that ended on their own
}

type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *procs) start(name string, bin string, args ...string) error {
	logPath := filepath.Join(p.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	pr := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		f.Close()
		p.mu.Lock()
		if !p.stopping {
			p.exited = append(p.exited, fmt.Sprintf("%s exited (%v); its log: %s", name, err, logPath))
		}
		p.mu.Unlock()
		close(pr.done)
	}()
	p.mu.Lock()
	p.list = append(p.list, pr)
	p.mu.Unlock()
	return nil
}

// failed names a process that died before the demo stopped it.
func (p *procs) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.exited) > 0 {
		return errors.New(p.exited[0])
	}
	return nil
}

func (p *procs) stopAll() {
	p.mu.Lock()
	p.stopping = true
	list := p.list
	p.mu.Unlock()
	for _, pr := range list {
		_ = syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGTERM)
	}
	timeout := time.After(10 * time.Second)
	for _, pr := range list {
		select {
		case <-pr.done:
		case <-timeout:
			_ = syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGKILL)
			<-pr.done
		}
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func findBinDir() (string, error) {
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
			return "", errors.New("cannot find the repository root (go.mod); pass --bin")
		}
		dir = parent
	}
}

// Run runs the whole demo and writes its story to out.
func Run(ctx context.Context, o Options, out io.Writer) (*Report, error) {
	if o.BinDir == "" {
		d, err := findBinDir()
		if err != nil {
			return nil, err
		}
		o.BinDir = d
	}
	for _, b := range []string{"federation-server", "cluster-agent", "fedctl"} {
		if _, err := os.Stat(filepath.Join(o.BinDir, b)); err != nil {
			return nil, fmt.Errorf("%s not found in %s: run `make build` first", b, o.BinDir)
		}
	}
	if o.Backend != "sim" && o.Backend != "kubernetes" {
		return nil, fmt.Errorf("backend %q: want sim or kubernetes", o.Backend)
	}
	if o.Backend == "kubernetes" && len(o.Kubeconfigs) < len(members) {
		return nil, errors.New("the kubernetes backend needs a kubeconfig per member cluster")
	}
	dir, err := os.MkdirTemp("", "federation-demo-")
	if err != nil {
		return nil, err
	}
	p := &procs{dir: dir}
	defer p.stopAll()
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	say("== Federation demo (logs in %s)", dir)

	tokens, err := writeDemoTokens(dir)
	if err != nil {
		return nil, err
	}

	// 1. A 3-replica control plane: one bootstraps, two join through it.
	// Every call carries a token of tokens.csv; TLS stays off on loopback.
	var urls []string
	for i := 1; i <= 3; i++ {
		httpAddr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		raftAddr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		args := []string{"--id", fmt.Sprintf("cp%d", i), "--data-dir", filepath.Join(dir, fmt.Sprintf("cp%d", i)),
			"--http-addr", httpAddr, "--raft-addr", raftAddr,
			"--heartbeat-timeout", "3s", "--failover-grace", "5s", "--settle-time", "1s",
			"--token-file", tokens.file, "--join-token", tokens.admin, "--insecure-no-tls",
			// The demo's burst of submissions is one trusted script's.
			"--submit-rate", "200", "--submit-burst", "400"}
		if i == 1 {
			args = append(args, "--bootstrap")
		} else {
			args = append(args, "--join", urls[0])
		}
		if err := p.start(fmt.Sprintf("cp%d", i), filepath.Join(o.BinDir, "federation-server"), args...); err != nil {
			return nil, err
		}
		urls = append(urls, "http://"+httpAddr)
	}
	// Every later call goes to the third replica: a follower most likely,
	// which forwards writes to the leader.
	c, err := client.New(urls[2], client.WithToken(tokens.admin))
	if err != nil {
		return nil, err
	}
	if err := waitFor(ctx, p, 30*time.Second, "a 3-voter control plane", func() (bool, error) {
		st, err := c.RaftStatus(ctx)
		if err != nil {
			return false, nil
		}
		return st.Leader != nil && len(st.Members) == 3 && len(urls) == 3, nil
	}); err != nil {
		return nil, err
	}
	st, _ := c.RaftStatus(ctx)
	say("control plane: 3 replicas, leader %s, endpoints %s", st.Leader.ID, strings.Join(urls, " "))

	// 2. Register the member clusters, then start an agent in each.
	for _, m := range members {
		if _, _, err := c.RegisterCluster(ctx, m.spec); err != nil {
			return nil, fmt.Errorf("register %s: %w", m.spec.Name, err)
		}
		metricsAddr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		args := []string{"--cluster", m.spec.Name, "--server", urls[0], "--token", tokens.agents[m.spec.Name], "--heartbeat-interval", "500ms", "--metrics-addr", metricsAddr}
		if o.Backend == "sim" {
			args = append(args, "--backend", "sim", "--sim-capacity", m.capacity, "--sim-task-duration", "1s")
		} else {
			args = append(args, "--backend", "kubernetes", "--kubeconfig", o.Kubeconfigs[m.spec.Name], "--install-crd")
		}
		if err := p.start("agent-"+m.spec.Name, filepath.Join(o.BinDir, "cluster-agent"), args...); err != nil {
			return nil, err
		}
		say("cluster %-10s weight %d labels %v tiers %v", m.spec.Name, m.spec.Weight, m.spec.Labels, tiersOf(m.spec))
	}
	if err := waitFor(ctx, p, 30*time.Second, "every agent's first heartbeat", func() (bool, error) {
		l, err := c.ListClusters(ctx)
		if err != nil {
			return false, nil
		}
		ready := 0
		for _, cl := range l.Items {
			if cl.State == v1.ClusterReady && cl.Capacity != nil {
				ready++
			}
		}
		return ready == len(members), nil
	}); err != nil {
		return nil, err
	}
	say("all %d agents heartbeating with capacity", len(members))

	// 3. Submit executions across tiers and projects.
	specs := demoSpecs(o.Executions)
	if o.Backend == "kubernetes" {
		declareOutputs(specs)
	}
	if err := submitAll(ctx, c, specs); err != nil {
		return nil, err
	}
	say("submitted %d executions (tiers critical/standard/best-effort, projects pricing/search/ads)", len(specs))

	// 4. Drain us-east-b while work is running: what has not finished by the
	// deadline is requeued elsewhere.
	time.Sleep(1500 * time.Millisecond)
	drainStart := time.Now()
	if _, err := c.Drain(ctx, "us-east-b", time.Second); err != nil {
		return nil, fmt.Errorf("drain: %w", err)
	}
	say("draining us-east-b with a 1s deadline while its executions run (each takes about 3s)")

	// 5. Wait for everything to finish.
	var all []v1.Execution
	if err := waitFor(ctx, p, o.Timeout, "every execution to finish", func() (bool, error) {
		items, err := listAll(ctx, c)
		if err != nil {
			return false, nil
		}
		all = items
		for _, ex := range items {
			if !ex.Phase.Terminal() {
				return false, nil
			}
		}
		return len(items) == len(specs), nil
	}); err != nil {
		return nil, err
	}
	if err := waitFor(ctx, p, 20*time.Second, "us-east-b to be Drained", func() (bool, error) {
		cl, err := c.GetCluster(ctx, "us-east-b")
		return err == nil && cl.State == v1.ClusterDrained, nil
	}); err != nil {
		return nil, err
	}
	rep := summarize(all)
	printReport(out, all, rep)
	if errs := check(all, drainStart.Add(time.Second)); len(errs) > 0 {
		return rep, fmt.Errorf("the demo found broken promises:\n  %s", strings.Join(errs, "\n  "))
	}
	say("checked: every tier and label rule held, nothing started on us-east-b after its drain deadline")
	say("us-east-b is Drained; uncordon brings it back: fedctl cluster uncordon us-east-b")
	if _, err := c.Uncordon(ctx, "us-east-b"); err != nil {
		return nil, err
	}
	fmt.Fprintln(out, "\n$ fedctl cluster list")
	fedctl := exec.CommandContext(ctx, filepath.Join(o.BinDir, "fedctl"), "--server", urls[1], "cluster", "list")
	fedctl.Stdout, fedctl.Stderr = out, out
	fedctl.Env = append(os.Environ(), "FEDCTL_TOKEN="+tokens.admin)
	_ = fedctl.Run()

	if o.Keep {
		say("\nleft running; try: FEDCTL_TOKEN=%s %s --server %s exec list --limit 5   (Ctrl-C to stop; tokens in %s)", tokens.admin, filepath.Join(o.BinDir, "fedctl"), urls[0], tokens.file)
		<-ctx.Done()
	}
	if rep.Succeeded != len(specs) {
		return rep, fmt.Errorf("%d of %d executions did not succeed", len(specs)-rep.Succeeded, len(specs))
	}
	return rep, nil
}

func tiersOf(s v1.ClusterSpec) string {
	if len(s.Tiers) == 0 {
		return "all"
	}
	var ts []string
	for _, t := range s.Tiers {
		ts = append(ts, string(t))
	}
	return strings.Join(ts, ",")
}

// demoSpecs makes n executions of a 3-node DAG, spread over tiers and
// projects; a third must run in us-east (a label selector).
func demoSpecs(n int) []v1.ExecutionSpec {
	projects := []string{"pricing", "search", "ads"}
	tiers := []v1.Tier{v1.TierStandard, v1.TierStandard, v1.TierCritical, v1.TierBestEffort}
	specs := make([]v1.ExecutionSpec, 0, n)
	for i := 0; i < n; i++ {
		s := v1.ExecutionSpec{
			Project: projects[i%len(projects)],
			Domain:  "production",
			Name:    fmt.Sprintf("demo-%04d", i),
			Tier:    tiers[i%len(tiers)],
			Inputs:  map[string]string{"date": "2026-11-25"},
			Workflow: v1.WorkflowSpec{Nodes: []v1.TaskNode{
				{ID: "extract", Image: "python:3.12", Command: []string{"python", "-m", "extract"},
					Resources: v1.Resources{CPU: "500m", Memory: "256Mi"}, Inputs: map[string]v1.Binding{"date": {FromInput: "date"}}},
				{ID: "train", DependsOn: []string{"extract"}, Image: "python:3.12", Command: []string{"python", "-m", "train"},
					Resources: v1.Resources{CPU: "2", Memory: "4Gi"}, Inputs: map[string]v1.Binding{"data": {FromNode: "extract", Output: "path"}}, Retries: 2},
				{ID: "report", DependsOn: []string{"train"}, Image: "python:3.12", Command: []string{"python", "-m", "report"},
					Resources: v1.Resources{CPU: "250m", Memory: "128Mi"}},
			}},
		}
		if i%3 == 0 && s.Tier != v1.TierBestEffort {
			s.ClusterSelector = &v1.LabelSelector{MatchLabels: map[string]string{"region": "us-east"}}
		}
		specs = append(specs, s)
	}
	return specs
}

// submitPaced submits s, waiting as told when the token's submission rate
// is exceeded (429 with Retry-After), as every well-behaved client does.
func submitPaced(ctx context.Context, c *client.Client, s v1.ExecutionSpec) error {
	for {
		_, _, err := c.SubmitExecution(ctx, s)
		var ae *client.APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusTooManyRequests {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(max(ae.RetryAfter, 100*time.Millisecond)):
		}
	}
}

func submitAll(ctx context.Context, c *client.Client, specs []v1.ExecutionSpec) error {
	const workers = 16
	errc := make(chan error, len(specs))
	work := make(chan v1.ExecutionSpec)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range work {
				if err := submitPaced(ctx, c, s); err != nil {
					errc <- fmt.Errorf("submit %s: %w", s.Key(), err)
				}
			}
		}()
	}
	for _, s := range specs {
		work <- s
	}
	close(work)
	wg.Wait()
	close(errc)
	return <-errc
}

func listAll(ctx context.Context, c *client.Client) ([]v1.Execution, error) {
	var all []v1.Execution
	cont := ""
	for {
		l, err := c.ListExecutions(ctx, client.ListOptions{Limit: 1000, Continue: cont})
		if err != nil {
			return nil, err
		}
		all = append(all, l.Items...)
		if l.Continue == "" {
			return all, nil
		}
		cont = l.Continue
	}
}

func summarize(all []v1.Execution) *Report {
	rep := &Report{Submitted: len(all), ByCluster: map[string]int{}}
	for _, ex := range all {
		if ex.Phase == v1.PhaseSucceeded {
			rep.Succeeded++
			rep.ByCluster[ex.Cluster]++
		}
		if ex.Attempt > 1 {
			rep.Requeued++
		}
	}
	rep.Lost = rep.Submitted - rep.Succeeded
	return rep
}

func firstPlacement(ex v1.Execution) string {
	for _, h := range ex.History {
		if h.Phase == v1.PhaseAssigned {
			return h.Cluster
		}
	}
	return ""
}

func printReport(out io.Writer, all []v1.Execution, rep *Report) {
	type row struct{ cluster, tier string }
	final := map[row]int{}
	first := map[string]int{}
	for _, ex := range all {
		final[row{ex.Cluster, string(ex.Tier)}]++
		first[firstPlacement(ex)]++
	}
	fmt.Fprintln(out, "\nwhere the executions went:")
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tWEIGHT\tFIRST PLACED\tFINISHED: CRITICAL\tSTANDARD\tBEST-EFFORT\tTOTAL")
	for _, m := range members {
		n := m.spec.Name
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", n, m.spec.Weight, first[n],
			final[row{n, "critical"}], final[row{n, "standard"}], final[row{n, "best-effort"}], rep.ByCluster[n])
	}
	_ = tw.Flush()
	fmt.Fprintln(out, "(placement follows the weights among the clusters that accept a tier, match its labels and have room)")
	fmt.Fprintf(out, "requeued by the drain deadline and finished elsewhere: %d\n", rep.Requeued)
	fmt.Fprintf(out, "succeeded %d of %d, lost %d\n", rep.Succeeded, rep.Submitted, rep.Lost)
}

// check verifies what the demo promises, from the executions' histories.
func check(all []v1.Execution, drainDeadline time.Time) []string {
	accepts := map[string]v1.ClusterSpec{}
	for _, m := range members {
		accepts[m.spec.Name] = m.spec
	}
	var errs []string
	for _, ex := range all {
		for _, h := range ex.History {
			if h.Phase != v1.PhaseAssigned {
				continue
			}
			cs := accepts[h.Cluster]
			if !cs.AcceptsTier(ex.Tier) {
				errs = append(errs, fmt.Sprintf("%s (%s) placed on %s, which does not accept that tier", ex.Key(), ex.Tier, h.Cluster))
			}
			if !ex.ClusterSelector.Matches(cs.Labels) {
				errs = append(errs, fmt.Sprintf("%s placed on %s, which does not match its selector", ex.Key(), h.Cluster))
			}
			if h.Cluster == "us-east-b" && h.At.After(drainDeadline) {
				errs = append(errs, fmt.Sprintf("%s placed on the drained us-east-b at %s", ex.Key(), h.At.Format(time.RFC3339Nano)))
			}
		}
		if ex.Phase != v1.PhaseSucceeded {
			errs = append(errs, fmt.Sprintf("%s ended %s: %s", ex.Key(), ex.Phase, ex.Message))
		}
	}
	return errs
}

func waitFor(ctx context.Context, p *procs, timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		if err := p.failed(); err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
