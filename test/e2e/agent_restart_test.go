//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	wfv1 "github.com/federation-dev/federation/api/workflow/v1alpha1"
	"github.com/federation-dev/federation/clusteragent/kube"
	"github.com/federation-dev/federation/clusteragent/propeller"
	fedclient "github.com/federation-dev/federation/federation/client"
	"github.com/federation-dev/federation/test/testbed"
)

// holdTaint keeps task pods Pending on a member cluster's nodes while the
// test marks them long-running. The agent's capacity ignores taints, so the
// cluster still gets work.
const holdTaint = "e2e.federation.dev/hold"

// TestAgentRestartAbortsStaleWorkflows is issue 5 with the kubernetes
// backend: kill -9 the agent of a real member cluster while its workflows
// run. The control plane requeues them once the lease and the failover
// grace have passed, not before, and they finish on the other cluster
// (attempt 2). The killed agent's Workflows and pods outlive it in the
// member cluster: half still run, half have completed in the meantime (so
// the restarted propeller finds them Succeeded). Restarted, the agent
// aborts and deletes every one of these stale copies itself, and the
// control plane never accepts a success of a stale attempt.
func TestAgentRestartAbortsStaleWorkflows(t *testing.T) {
	const (
		perGroup = 8
		lease    = 2 * time.Second
		grace    = 3 * time.Second
		hbEvery  = 500 * time.Millisecond // StartAgent's heartbeat interval
		// The long group's pods outlive the test; the short group's
		// complete while the agent is dead, well after the kill (which
		// follows their start by a poll or two).
		longDelay, shortDelay = "10m", "8s"
		// B's copies run long enough that A's agent restarts while
		// attempt 2 is live: a stale success accepted then would end it.
		onB = 25 * time.Second
	)
	start := time.Now()
	env := NewEnv(t, 3*time.Minute)
	cp := env.StartControlPlane(ControlPlaneOptions{Replicas: 3, HeartbeatTimeout: lease, FailoverGrace: grace, SettleTime: time.Second})
	members := env.StartMembers(MemberOptions{
		Spec:  v1.ClusterSpec{Name: "a", Weight: 1},
		Nodes: []testbed.NodeSpec{{Name: "a-node", CPU: "8", Memory: "32Gi", Pods: "110"}},
	})
	a := members[0]
	cp.WaitReady()
	c := cp.Follower().Client
	env.RegisterMembers(c, a)
	if _, _, err := c.RegisterCluster(env.Ctx, v1.ClusterSpec{Name: "b", Weight: 1}); err != nil {
		t.Fatalf("register cluster b: %v", err)
	}
	kc, err := client.New(a.Cluster.RESTConfig, client.Options{Scheme: kubeScheme()})
	if err != nil {
		t.Fatalf("client of cluster a: %v", err)
	}
	ns := kube.DefaultNamespace

	// Only A runs at first, so every execution lands there. Its pods are
	// held Pending until each is marked long-running (the testbed's kwok
	// completes a running pod after its sim.federation.dev/delay): no
	// execution spec can set that, and a pod annotated after it started
	// running would already have completed.
	setHoldTaint(env, a, true)
	agents := []*Proc{startKubeAgent(env, a, cp.Servers[1].URL, 0)}
	env.WaitClustersReady(c, cp.Opts.SettleTime, "a")

	var specs []v1.ExecutionSpec
	delayOf := map[string]string{} // pod name → delay
	podOf := map[v1.ExecutionKey]string{}
	for _, g := range []struct{ prefix, delay string }{{"long", longDelay}, {"short", shortDelay}} {
		for i := range perGroup {
			key := v1.ExecutionKey{Project: "restart", Domain: "e2e", Name: fmt.Sprintf("%s-%02d", g.prefix, i)}
			specs = append(specs, chaosSpec(key, 1))
			pod := propeller.PodName(kube.WorkflowName(key, 1), "n0", 1)
			podOf[key], delayOf[pod] = pod, g.delay
		}
	}
	keys := env.SubmitAll(c, specs)
	env.Eventually(30*time.Second, "every execution's pod Pending on cluster a", func() (bool, error) {
		pods, err := taskPods(env, a)
		if err != nil {
			return false, err
		}
		for _, k := range keys {
			p, ok := pods[podOf[k]]
			if !ok {
				return false, fmt.Errorf("no pod %s of %s yet", podOf[k], k)
			}
			if p.Spec.NodeName != "" {
				t.Fatalf("pod %s of %s was scheduled on %s despite the hold taint", p.Name, k, p.Spec.NodeName)
			}
		}
		return allOn(env, c, keys, "a", v1.PhaseRunning)
	})
	// B joins now, with every execution held by A: it gets none of them.
	sim := &chaosWorld{env: env, cp: cp, agents: map[string][]*Proc{},
		opts: chaosOptions{TaskDuration: onB, Capacity: "cpu=64,memory=256Gi,pods=400"}}
	sim.startAgent("b", cp.Servers[2].URL)
	env.WaitClustersReady(c, cp.Opts.SettleTime, "b")

	// Let the pods run, each with its delay; then A's agent dies.
	for pod, delay := range delayOf {
		patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, testbed.AnnotationDelay, delay)
		if _, err := a.Cluster.Client.CoreV1().Pods(ns).Patch(env.Ctx, pod, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatalf("annotate pod %s: %v", pod, err)
		}
	}
	setHoldTaint(env, a, false)
	env.Eventually(30*time.Second, "every execution Running on cluster a with its pod running", func() (bool, error) {
		pods, err := taskPods(env, a)
		if err != nil {
			return false, err
		}
		for _, k := range keys {
			if p := pods[podOf[k]]; p.Status.Phase != corev1.PodRunning {
				return false, fmt.Errorf("pod %s of %s is %q", podOf[k], k, p.Status.Phase)
			}
		}
		return allOn(env, c, keys, "a", v1.PhaseRunning)
	})

	agents[0].Kill()
	killedAt := time.Now()

	var execs map[v1.ExecutionKey]v1.Execution
	env.Eventually(30*time.Second, "every execution requeued and Running on cluster b", func() (bool, error) {
		var err error
		execs, err = executions(env, c)
		if err != nil {
			return false, err
		}
		for _, k := range keys {
			if ex := execs[k]; ex.Phase != v1.PhaseRunning || ex.Cluster != "b" || ex.Attempt != 2 {
				return false, fmt.Errorf("%s is %s on %q at attempt %d", k, ex.Phase, ex.Cluster, ex.Attempt)
			}
		}
		return true, nil
	})
	var requeueAfter []time.Duration
	for _, k := range keys {
		for _, h := range execs[k].History {
			if h.Phase == v1.PhaseQueued && h.Attempt == 2 {
				if h.Reason != v1.ReasonClusterLost {
					t.Errorf("%s requeued for %s, want %s", k, h.Reason, v1.ReasonClusterLost)
				}
				requeueAfter = append(requeueAfter, h.At.Sub(killedAt))
			}
		}
	}
	if t.Failed() || len(requeueAfter) != len(keys) {
		t.Fatalf("%d of %d executions requeued once", len(requeueAfter), len(keys))
	}
	slices.Sort(requeueAfter)
	first, last := requeueAfter[0], requeueAfter[len(requeueAfter)-1]
	// Not before lease + grace from A's last heartbeat (at most one
	// heartbeat interval before the kill), and soon after.
	if first < lease+grace-hbEvery {
		t.Fatalf("first requeue %s after the kill: before lease %s + grace %s", first, lease, grace)
	}
	if last > lease+grace+10*time.Second {
		t.Fatalf("last requeue %s after the kill", last)
	}

	// The dead agent's copies are still in cluster A: the long group
	// running, the short group's pods completed since.
	env.Eventually(30*time.Second, "the short group's pods on cluster a to complete", func() (bool, error) {
		pods, err := taskPods(env, a)
		if err != nil {
			return false, err
		}
		for _, k := range keys {
			want := corev1.PodRunning
			if delayOf[podOf[k]] == shortDelay {
				want = corev1.PodSucceeded
			}
			if got := pods[podOf[k]].Status.Phase; got != want {
				return false, fmt.Errorf("pod %s of %s is %q, want %s", podOf[k], k, got, want)
			}
		}
		return true, nil
	})
	stale, err := workflowsOn(env, kc)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if wf, ok := stale[kube.WorkflowName(k, 1)]; !ok || wf.Status.Phase.Terminal() {
			t.Fatalf("before the restart, cluster a should hold the live stale Workflow of %s attempt 1 (found %v)", k, ok)
		}
	}
	if len(stale) != len(keys) {
		t.Fatalf("cluster a holds %d Workflows, want the %d stale ones", len(stale), len(keys))
	}

	// Restarted while attempt 2 still runs on B, the agent finds the stale
	// copies and removes them itself.
	live, err := executions(env, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if ex := live[k]; ex.Phase != v1.PhaseRunning {
			t.Fatalf("%s is %s before A's agent restarts, want still Running on b (is --sim-task-duration %s too short?)", k, ex.Phase, onB)
		}
	}
	agents = append(agents, startKubeAgent(env, a, cp.Servers[1].URL, 1))
	restartedAt := time.Now()
	env.Eventually(30*time.Second, "the restarted agent to delete every stale Workflow and pod", func() (bool, error) {
		wfs, err := workflowsOn(env, kc)
		if err != nil {
			return false, err
		}
		pods, err := taskPods(env, a)
		if err != nil {
			return false, err
		}
		if len(wfs) > 0 || len(pods) > 0 {
			return false, fmt.Errorf("%d Workflows and %d task pods left", len(wfs), len(pods))
		}
		return true, nil
	})
	cleanup := time.Since(restartedAt)
	env.WaitClustersReady(c, 0, "a")
	staleVerdicts, err := ScrapeCounter(env.Ctx, a.MetricsURL, `clusteragent_reports_total{verdict="stale"}`)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing is assigned to A any more: every report its restarted
	// agent had accepted would be a stale copy's.
	accepted, err := ScrapeCounter(env.Ctx, a.MetricsURL, `clusteragent_reports_total{verdict="accepted"}`)
	if err != nil {
		t.Fatal(err)
	}
	if accepted != 0 {
		t.Errorf("the control plane accepted %.0f reports of the restarted agent, whose copies are all stale", accepted)
	}
	// The restarted agent says it removed each one (by one way or both:
	// its assignment list no longer holds it, the control plane refused
	// its report).
	selfAborted, err := copiesLogged(agents[1].LogPath,
		"workflow no longer assigned here; aborting and deleting it",
		"the federation refused this copy; aborting and deleting it")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !selfAborted[k.String()+"#1"] {
			t.Errorf("the restarted agent did not log aborting %s attempt 1", k)
		}
	}

	// A stale success accepted after the restart would have ended the
	// executions early, with cluster a's node status.
	execs = env.WaitFinished(c, keys, onB+30*time.Second)
	staleSuccesses := 0
	for _, k := range keys {
		ex := execs[k]
		succeeded := 0
		for _, h := range ex.History {
			if h.Phase != v1.PhaseSucceeded {
				continue
			}
			succeeded++
			if h.Attempt != 2 || h.Cluster != "b" {
				staleSuccesses++
				t.Errorf("%s: success of attempt %d on %q accepted (execution at attempt %d)", k, h.Attempt, h.Cluster, ex.Attempt)
			}
		}
		if ex.Phase != v1.PhaseSucceeded || ex.Attempt != 2 || ex.Cluster != "b" || succeeded != 1 {
			t.Errorf("%s after the restart: %s on %q at attempt %d with %d successes, want one success on b at attempt 2", k, ex.Phase, ex.Cluster, ex.Attempt, succeeded)
		}
		if n := ex.Nodes["n0"]; n.Phase != v1.NodeSucceeded || n.Cluster != "b" {
			staleSuccesses++
			t.Errorf("%s: node n0 %s as reported by %q, want Succeeded by b", k, n.Phase, n.Cluster)
		}
		if ran := ranFor(ex, 2); ran < onB {
			t.Errorf("%s ended %s after its placement on b, before its copy there could finish (%s)", k, ran, onB)
		}
	}
	r := Tally(keys, execs)
	r.Test = t.Name()
	r.Duplicated = staleSuccesses
	r.Duration = time.Since(start)
	r.Extra = []string{
		fmt.Sprintf("failed_over=%d", len(requeueAfter)),
		fmt.Sprintf("failover_first_requeue=%s", first.Round(10*time.Millisecond)),
		fmt.Sprintf("failover_last_requeue=%s", last.Round(10*time.Millisecond)),
		fmt.Sprintf("stale_workflows=%d", len(stale)),
		fmt.Sprintf("stale_cleanup=%s", cleanup.Round(10*time.Millisecond)),
		fmt.Sprintf("self_aborted=%d", len(selfAborted)),
		fmt.Sprintf("stale_verdicts=%.0f", staleVerdicts),
	}
	sim.report(r)
	if r.Succeeded != len(keys) || r.Lost != 0 || r.Duplicated != 0 {
		t.Fatalf("want all %d Succeeded once: %s", len(keys), r.Line())
	}
}

// startKubeAgent starts m's kubernetes agent as StartAgent does, under a
// name of its own per start so that a restart keeps the killed one's log.
func startKubeAgent(env *Env, m *Member, server string, n int) *Proc {
	env.T.Helper()
	metrics := env.FreeAddr()
	m.Agent = env.StartProc(fmt.Sprintf("agent-%s-%d", m.Spec.Name, n), filepath.Join(env.BinDir, "cluster-agent"),
		"--cluster", m.Spec.Name, "--server", server, "--backend", "kubernetes",
		"--kubeconfig", m.Cluster.Kubeconfig, "--install-crd",
		"--heartbeat-interval", "500ms", "--metrics-addr", metrics)
	m.MetricsURL = "http://" + metrics + "/metrics"
	return m.Agent
}

// setHoldTaint puts holdTaint on m's nodes, or takes it off.
func setHoldTaint(env *Env, m *Member, on bool) {
	env.T.Helper()
	hold := func(t corev1.Taint) bool { return t.Key == holdTaint }
	nodes := m.Cluster.Client.CoreV1().Nodes()
	for _, name := range m.Cluster.Nodes {
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			node, err := nodes.Get(env.Ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			node.Spec.Taints = slices.DeleteFunc(node.Spec.Taints, hold)
			if on {
				node.Spec.Taints = append(node.Spec.Taints, corev1.Taint{Key: holdTaint, Effect: corev1.TaintEffectNoSchedule})
			}
			_, err = nodes.Update(env.Ctx, node, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			env.T.Fatalf("set hold taint %v on node %s: %v", on, name, err)
		}
	}
}

// taskPods returns the task pods in m's workflow namespace, by name.
func taskPods(env *Env, m *Member) (map[string]corev1.Pod, error) {
	list, err := m.Cluster.Client.CoreV1().Pods(kube.DefaultNamespace).List(env.Ctx, metav1.ListOptions{LabelSelector: propeller.LabelWorkflow})
	if err != nil {
		return nil, fmt.Errorf("list task pods of %s: %w", m.Spec.Name, err)
	}
	out := make(map[string]corev1.Pod, len(list.Items))
	for _, p := range list.Items {
		out[p.Name] = p
	}
	return out, nil
}

// workflowsOn returns the Workflows in the workflow namespace, by name,
// read from the API server.
func workflowsOn(env *Env, kc client.Client) (map[string]wfv1.Workflow, error) {
	var list wfv1.WorkflowList
	if err := kc.List(env.Ctx, &list, client.InNamespace(kube.DefaultNamespace)); err != nil {
		return nil, fmt.Errorf("list workflows: %w", err)
	}
	out := make(map[string]wfv1.Workflow, len(list.Items))
	for _, wf := range list.Items {
		out[wf.Name] = wf
	}
	return out, nil
}

// executions returns every execution, by key.
func executions(env *Env, c *fedclient.Client) (map[v1.ExecutionKey]v1.Execution, error) {
	all, err := c.ListAllExecutions(env.Ctx, fedclient.ListOptions{Limit: 1000})
	if err != nil {
		return nil, err
	}
	out := make(map[v1.ExecutionKey]v1.Execution, len(all))
	for _, ex := range all {
		out[ex.Key()] = ex
	}
	return out, nil
}

// ranFor is how long after its placement at attempt an execution ended
// (0 when it was not placed at that attempt or has not ended).
func ranFor(ex v1.Execution, attempt int) time.Duration {
	var placed time.Time
	for _, h := range ex.History {
		if h.Phase == v1.PhaseAssigned && h.Attempt == attempt {
			placed = h.At
		}
	}
	end, ok := FinishedAt(ex)
	if placed.IsZero() || !ok {
		return 0
	}
	return end.Sub(placed)
}

// allOn reports whether every key is in phase on cluster.
func allOn(env *Env, c *fedclient.Client, keys []v1.ExecutionKey, cluster string, phase v1.ExecutionPhase) (bool, error) {
	byKey, err := executions(env, c)
	if err != nil {
		return false, err
	}
	for _, k := range keys {
		if ex := byKey[k]; ex.Phase != phase || ex.Cluster != cluster {
			return false, fmt.Errorf("%s is %s on %q, want %s on %s", k, ex.Phase, ex.Cluster, phase, cluster)
		}
	}
	return true, nil
}

// copiesLogged returns the workflow copies ("<execution>#<attempt>") of
// the log lines of path whose msg is one of msgs.
func copiesLogged(path string, msgs ...string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if !strings.Contains(sc.Text(), "msg=") {
			continue
		}
		if fl := chaosLogFields(sc.Text()); slices.Contains(msgs, fl["msg"]) {
			out[fl["execution"]+"#"+fl["attempt"]] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}
