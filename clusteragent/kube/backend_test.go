package kube

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	wfv1 "github.com/federation-dev/federation/api/workflow/v1alpha1"
	"github.com/federation-dev/federation/clusteragent"
	"github.com/federation-dev/federation/clusteragent/propeller"
	"github.com/federation-dev/federation/clusteragent/propeller/kubetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	kubetest.Stop()
	os.Exit(code)
}

// startBackend runs a Backend on the shared API server in a namespace of its
// own, until the test ends.
func startBackend(t *testing.T) (*Backend, *kubetest.Env, string) {
	t.Helper()
	env := kubetest.Shared(t)
	ns := env.Namespace(t)
	b, err := New(env.Config, Options{
		Namespace:   ns,
		InstallCRD:  true, // already installed by envtest: exercises the update path
		MetricsAddr: "0",
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("Run did not return")
		}
	})
	syncCtx, syncCancel := context.WithTimeout(ctx, 20*time.Second)
	defer syncCancel()
	if !b.mgr.GetCache().WaitForCacheSync(syncCtx) {
		t.Fatal("cache did not sync")
	}
	// The manager started, so the first Run holds the backend.
	if err := b.Run(ctx); !errors.Is(err, ErrAlreadyRunning) {
		t.Errorf("second Run = %v, want ErrAlreadyRunning", err)
	}
	return b, env, ns
}

func assignment(name string, attempt int) v1.Assignment {
	val := "v"
	return v1.Assignment{
		ExecutionSpec: v1.ExecutionSpec{
			Project: "proj", Domain: "dev", Name: name, Tier: v1.TierStandard,
			Inputs: map[string]string{"in": "hello"},
			Workflow: v1.WorkflowSpec{Nodes: []v1.TaskNode{
				{ID: "a", Image: "busybox", Resources: v1.Resources{CPU: "100m", Memory: "32Mi"}, Timeout: "1h", Retries: 1,
					Inputs: map[string]v1.Binding{"in": {FromInput: "in"}, "lit": {Value: &val}}},
				{ID: "b", Image: "busybox", DependsOn: []string{"a"}, Inputs: map[string]v1.Binding{"x": {FromNode: "a", Output: "x"}}},
			}},
		},
		Attempt: attempt,
		Phase:   v1.PhaseAssigned,
	}
}

func find(t *testing.T, b *Backend, key v1.ExecutionKey, attempt int) (clusteragent.WorkflowState, bool) {
	t.Helper()
	states, err := b.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, s := range states {
		if s.Key == key && s.Attempt == attempt {
			return s, true
		}
	}
	return clusteragent.WorkflowState{}, false
}

func waitState(t *testing.T, b *Backend, key v1.ExecutionKey, attempt int, phase v1.ExecutionPhase) clusteragent.WorkflowState {
	t.Helper()
	var s clusteragent.WorkflowState
	kubetest.Eventually(t, 30*time.Second, key.String()+" "+string(phase), func() (bool, error) {
		var ok bool
		s, ok = find(t, b, key, attempt)
		return ok && s.Phase == phase, nil
	})
	return s
}

// TestStartTwiceCreatesOneWorkflow: Start is idempotent by key and attempt,
// also when called concurrently, and the workflow runs to Succeeded as List
// reports it.
func TestStartTwiceCreatesOneWorkflow(t *testing.T) {
	b, env, ns := startBackend(t)
	a := assignment("etl-daily", 1)
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		wg.Go(func() { errs <- b.Start(context.Background(), a) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
	}
	if err := b.Start(context.Background(), a); err != nil {
		t.Fatalf("Start again: %v", err)
	}
	var list wfv1.WorkflowList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(list.Items) != 1 {
		t.Fatalf("%d workflows after 4 Starts, want 1", len(list.Items))
	}
	wf := list.Items[0]
	if wf.Name != WorkflowName(a.Key(), 1) || wf.Labels[LabelProject] != "proj" || wf.Labels[LabelDomain] != "dev" || wf.Labels[LabelExecution] != "etl-daily" || wf.Labels[LabelAttempt] != "1" {
		t.Errorf("workflow %s labels %v", wf.Name, wf.Labels)
	}
	if got := wf.Spec.Nodes[0].Timeout; got == nil || got.Duration != time.Hour {
		t.Errorf("timeout %v", got)
	}

	waitState(t, b, a.Key(), 1, v1.PhaseRunning)
	podA := propeller.PodName(wf.Name, "a", 1)
	env.Kubelet(t, ns, podA, corev1.PodSucceeded, 0, `{"x":"42"}`)
	podB := propeller.PodName(wf.Name, "b", 1)
	env.Kubelet(t, ns, podB, corev1.PodSucceeded, 0, `{"y":"done"}`)
	s := waitState(t, b, a.Key(), 1, v1.PhaseSucceeded)
	if s.Nodes["a"].Phase != v1.NodeSucceeded || s.Nodes["a"].Outputs["x"] != "42" || s.Nodes["b"].Attempts != 1 {
		t.Errorf("nodes %+v", s.Nodes)
	}
	if s.Outputs["b.y"] != "done" {
		t.Errorf("outputs %v", s.Outputs)
	}
	select {
	case <-b.Changes():
	default:
		t.Error("Changes did not tick")
	}
	c, err := b.Capacity(context.Background())
	if err != nil || c.RunningWorkflows != 0 {
		t.Errorf("Capacity = %+v, %v; want no running workflows", c, err)
	}
}

// TestResumeAndAbortAndDelete: resumed nodes get no pod; Abort ends the
// workflow Aborted and deletes its pods; Delete removes it; both are
// idempotent and accept unknown workflows.
func TestResumeAndAbortAndDelete(t *testing.T) {
	b, env, ns := startBackend(t)
	a := assignment("backfill", 2)
	a.Resume = map[string]v1.NodeStatus{"a": {Phase: v1.NodeSucceeded, Attempts: 1, Outputs: map[string]string{"x": "7"}}}
	if err := b.Start(context.Background(), a); err != nil {
		t.Fatalf("Start: %v", err)
	}
	name := WorkflowName(a.Key(), 2)
	podB := env.WaitPod(t, ns, propeller.PodName(name, "b", 1))
	if podB.Spec.Containers[0].Env[0].Value != "7" {
		t.Errorf("pod b env %v", podB.Spec.Containers[0].Env)
	}
	// List reads the manager's cache, which may not show the status write
	// that accompanied pod b's creation yet: wait for it.
	var s clusteragent.WorkflowState
	kubetest.Eventually(t, 30*time.Second, "resumed node a recorded", func() (bool, error) {
		var ok bool
		s, ok = find(t, b, a.Key(), 2)
		return ok && s.Phase == v1.PhaseRunning && s.Nodes["a"].Phase == v1.NodeSucceeded, nil
	})
	if n := s.Nodes["a"]; n.Attempts != 1 || n.Outputs["x"] != "7" {
		t.Errorf("resumed node a %+v", n)
	}
	c, err := b.Capacity(context.Background())
	if err != nil || c.RunningWorkflows != 1 {
		t.Errorf("Capacity = %+v, %v; want 1 running workflow", c, err)
	}

	for range 2 {
		if err := b.Abort(context.Background(), a.Key(), 2); err != nil {
			t.Fatalf("Abort: %v", err)
		}
	}
	s = waitState(t, b, a.Key(), 2, v1.PhaseAborted)
	if s.Nodes["b"].Phase != v1.NodeAborted {
		t.Errorf("node b %+v", s.Nodes["b"])
	}
	var pods corev1.PodList
	if err := env.Client.List(context.Background(), &pods, client.InNamespace(ns)); err != nil || len(pods.Items) != 0 {
		t.Errorf("pods after abort: %d (%v)", len(pods.Items), err)
	}
	if err := b.Abort(context.Background(), v1.ExecutionKey{Project: "proj", Domain: "dev", Name: "nope"}, 1); err != nil {
		t.Errorf("Abort of an unknown workflow: %v", err)
	}

	for range 2 {
		if err := b.Delete(context.Background(), a.Key(), 2); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	err = env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &wfv1.Workflow{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("workflow after Delete: %v", err)
	}
	kubetest.Eventually(t, 10*time.Second, "List without the deleted workflow", func() (bool, error) {
		_, ok := find(t, b, a.Key(), 2)
		return !ok, nil
	})
}

// TestCapacityCountsSchedulableNodes: allocatable over Ready, uncordoned
// nodes; free net of the requests of live pods bound to them.
func TestCapacityCountsSchedulableNodes(t *testing.T) {
	b, env, ns := startBackend(t)
	ctx := context.Background()
	mkNode := func(name string, ready, unschedulable bool, cpu, mem, gpu string) {
		t.Helper()
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{Unschedulable: unschedulable}}
		if err := env.Client.Create(ctx, n); err != nil {
			t.Fatalf("create node %s: %v", name, err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), n) })
		status := corev1.ConditionTrue
		if !ready {
			status = corev1.ConditionFalse
		}
		n.Status = corev1.NodeStatus{
			Allocatable: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem),
				propeller.ResourceGPU: resource.MustParse(gpu), corev1.ResourcePods: resource.MustParse("110"),
			},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
		}
		n.Status.Capacity = n.Status.Allocatable
		if err := env.Client.Status().Update(ctx, n); err != nil {
			t.Fatalf("node %s status: %v", name, err)
		}
	}
	mkPod := func(name, node, cpu, mem, gpu string) {
		t.Helper()
		req := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}
		var lim corev1.ResourceList
		if gpu != "" {
			req[propeller.ResourceGPU] = resource.MustParse(gpu)
			lim = corev1.ResourceList{propeller.ResourceGPU: resource.MustParse(gpu)}
		}
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{
				Name: "task", Image: "busybox", Resources: corev1.ResourceRequirements{Requests: req, Limits: lim},
			}}},
		}
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatalf("create pod %s: %v", name, err)
		}
	}
	mkNode("cap-ready", true, false, "4", "8Gi", "2")
	mkNode("cap-cordoned", true, true, "16", "64Gi", "8")
	mkNode("cap-notready", false, false, "16", "64Gi", "8")
	mkPod("live", "cap-ready", "1500m", "1Gi", "1")
	mkPod("done", "cap-ready", "2", "2Gi", "")
	env.Kubelet(t, ns, "done", corev1.PodSucceeded, 0, "")
	mkPod("elsewhere", "cap-cordoned", "1", "1Gi", "")
	mkPod("unbound", "", "1", "1Gi", "")

	want := v1.Capacity{
		Allocatable: v1.Amounts{MilliCPU: 4000, MemoryBytes: 8 << 30, GPU: 2, Pods: 110},
		Free:        v1.Amounts{MilliCPU: 2500, MemoryBytes: 7 << 30, GPU: 1, Pods: 109},
	}
	var got v1.Capacity
	kubetest.Eventually(t, 10*time.Second, "capacity from the cache", func() (bool, error) {
		var err error
		got, err = b.Capacity(ctx)
		return err == nil && got == want, err
	})
}

func TestWorkflowName(t *testing.T) {
	for _, tc := range []struct {
		key     v1.ExecutionKey
		attempt int
		prefix  string
	}{
		{v1.ExecutionKey{Project: "p", Domain: "d", Name: "etl"}, 1, "etl-"},
		{v1.ExecutionKey{Project: "p", Domain: "d", Name: "a-very-long-execution-name-that-goes-on-and-on-forever"}, 3, "a-very-long-execution-name-that-goes-on-"},
		{v1.ExecutionKey{Project: "p", Domain: "d", Name: "--"}, 1, "wf-"},
	} {
		got := WorkflowName(tc.key, tc.attempt)
		if len(got) > 63 || got[:len(tc.prefix)] != tc.prefix {
			t.Errorf("WorkflowName(%v, %d) = %q, want prefix %q and at most 63 characters", tc.key, tc.attempt, got, tc.prefix)
		}
		if got != WorkflowName(tc.key, tc.attempt) {
			t.Errorf("WorkflowName not deterministic")
		}
		if got == WorkflowName(tc.key, tc.attempt+1) {
			t.Errorf("attempts %d and %d share name %q", tc.attempt, tc.attempt+1, got)
		}
	}
	// Keys that differ only in project must not collide.
	if WorkflowName(v1.ExecutionKey{Project: "a", Domain: "d", Name: "x"}, 1) == WorkflowName(v1.ExecutionKey{Project: "b", Domain: "d", Name: "x"}, 1) {
		t.Error("different projects share a name")
	}
}

func TestPhaseMapping(t *testing.T) {
	for _, tc := range []struct {
		status wfv1.WorkflowPhase
		abort  bool
		want   v1.ExecutionPhase
	}{
		{"", false, v1.PhaseRunning},
		{wfv1.WorkflowPending, false, v1.PhaseRunning},
		{wfv1.WorkflowRunning, false, v1.PhaseRunning},
		{wfv1.WorkflowRunning, true, v1.PhaseAborting},
		{wfv1.WorkflowAborting, true, v1.PhaseAborting},
		{wfv1.WorkflowAborted, true, v1.PhaseAborted},
		{wfv1.WorkflowSucceeded, true, v1.PhaseSucceeded},
		{wfv1.WorkflowFailed, false, v1.PhaseFailed},
	} {
		wf := &wfv1.Workflow{Spec: wfv1.WorkflowSpec{Abort: tc.abort}, Status: wfv1.WorkflowStatus{Phase: tc.status}}
		if got := Phase(wf); got != tc.want {
			t.Errorf("Phase(%q, abort=%v) = %s, want %s", tc.status, tc.abort, got, tc.want)
		}
	}
}
