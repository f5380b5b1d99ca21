package propeller

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	wfv1 "github.com/federation-dev/federation/api/workflow/v1alpha1"
	"github.com/federation-dev/federation/clusteragent/propeller/kubetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	kubetest.Stop()
	os.Exit(code)
}

// harness is one propeller loop, in a manager of its own, watching one
// namespace of the shared API server.
type harness struct {
	t      *testing.T
	env    *kubetest.Env
	ns     string
	writes *CountingClient
	rec    *WorkflowReconciler
	stop   func()
	// cache, when set before start, is the loop's task cache (cache_test.go).
	cache Cache
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	env := kubetest.Shared(t)
	h := &harness{t: t, env: env, ns: env.Namespace(t)}
	h.start()
	return h
}

// start runs a fresh manager and loop (again, after stop: a restarted agent).
func (h *harness) start() {
	t := h.t
	t.Helper()
	mgr, err := ctrl.NewManager(h.env.Config, ctrl.Options{
		Scheme:                 h.env.Scheme,
		Logger:                 logr.Discard(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{h.ns: {}}},
	})
	if err != nil {
		t.Fatalf("manager: %v", err)
	}
	h.writes = NewCountingClient(mgr.GetClient())
	h.rec = &WorkflowReconciler{Client: h.writes, APIReader: mgr.GetAPIReader(), Scheme: h.env.Scheme, Cache: h.cache}
	if err := h.rec.SetupWithManager(mgr); err != nil {
		t.Fatalf("setup: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	stopped := false
	h.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("manager: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("manager did not stop")
		}
	}
	t.Cleanup(h.stop)
	syncCtx, syncCancel := context.WithTimeout(ctx, 20*time.Second)
	defer syncCancel()
	if !mgr.GetCache().WaitForCacheSync(syncCtx) {
		t.Fatal("cache did not sync")
	}
}

func (h *harness) create(wf *wfv1.Workflow) {
	h.t.Helper()
	wf.Namespace = h.ns
	if err := h.env.Client.Create(context.Background(), wf); err != nil {
		h.t.Fatalf("create workflow: %v", err)
	}
}

func (h *harness) get(name string) *wfv1.Workflow {
	h.t.Helper()
	var wf wfv1.Workflow
	if err := h.env.Client.Get(context.Background(), types.NamespacedName{Namespace: h.ns, Name: name}, &wf); err != nil {
		h.t.Fatalf("get workflow %s: %v", name, err)
	}
	return &wf
}

func (h *harness) waitPhase(name string, phase wfv1.WorkflowPhase) *wfv1.Workflow {
	h.t.Helper()
	var wf wfv1.Workflow
	kubetest.Eventually(h.t, 30*time.Second, "workflow "+name+" "+string(phase), func() (bool, error) {
		err := h.env.Client.Get(context.Background(), types.NamespacedName{Namespace: h.ns, Name: name}, &wf)
		return err == nil && wf.Status.Phase == phase, err
	})
	return &wf
}

func (h *harness) succeed(pod, outputs string) {
	h.t.Helper()
	h.env.Kubelet(h.t, h.ns, pod, corev1.PodSucceeded, 0, outputs)
}

func (h *harness) fail(pod string) {
	h.t.Helper()
	h.env.Kubelet(h.t, h.ns, pod, corev1.PodFailed, 3, "boom")
}

func (h *harness) pods() map[string]corev1.Pod {
	h.t.Helper()
	var list corev1.PodList
	if err := h.env.Client.List(context.Background(), &list, client.InNamespace(h.ns)); err != nil {
		h.t.Fatalf("list pods: %v", err)
	}
	out := map[string]corev1.Pod{}
	for _, p := range list.Items {
		out[p.Name] = p
	}
	return out
}

// settle waits until the loop has made no write for a while.
func (h *harness) settle() {
	h.t.Helper()
	last, since := h.writes.Writes(), time.Now()
	kubetest.Eventually(h.t, 20*time.Second, "the loop to go quiet", func() (bool, error) {
		if n := h.writes.Writes(); n != last {
			last, since = n, time.Now()
		}
		return time.Since(since) > 700*time.Millisecond, nil
	})
}

func envOf(p corev1.Pod) map[string]string {
	out := map[string]string{}
	for _, e := range p.Spec.Containers[0].Env {
		out[e.Name] = e.Value
	}
	return out
}

func node(id string, deps ...string) wfv1.TaskNode {
	return wfv1.TaskNode{ID: id, Image: "busybox", DependsOn: deps}
}

func workflow(name string, nodes ...wfv1.TaskNode) *wfv1.Workflow {
	return &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: wfv1.WorkflowSpec{
			Execution:        wfv1.ExecutionRef{Project: "p", Domain: "d", Name: name},
			Attempt:          1,
			Nodes:            nodes,
			TTLAfterFinished: &metav1.Duration{Duration: time.Hour},
		},
	}
}

// TestDiamondPassesOutputs runs a → (b, c) → d: outputs travel to the
// downstream pods as FED_INPUT_ variables, the workflow succeeds with the
// leaf's outputs, and the loop stays within its write budget per node.
func TestDiamondPassesOutputs(t *testing.T) {
	h := newHarness(t)
	promBefore := promWrites(t)
	a := node("a")
	a.Resources = wfv1.Resources{CPU: ptr.To(resource.MustParse("250m")), Memory: ptr.To(resource.MustParse("64Mi")), GPU: ptr.To(resource.MustParse("1"))}
	b := node("b", "a")
	b.Inputs = map[string]wfv1.Binding{"rows": {FromNode: "a", Output: "rows"}, "mode": {Value: ptr.To("fast")}}
	c := node("c", "a")
	c.Inputs = map[string]wfv1.Binding{"data-set": {FromInput: "dataset"}}
	d := node("d", "b", "c")
	d.Inputs = map[string]wfv1.Binding{"left": {FromNode: "b", Output: "sum"}, "right": {FromNode: "c", Output: "n"}}
	wf := workflow("diamond", a, b, c, d)
	wf.Spec.Inputs = map[string]string{"dataset": "s3://x"}
	wf.Annotations = map[string]string{"sim.federation.dev/outcome": "succeed", "other.io/x": "y"}
	h.create(wf)

	pa := h.env.WaitPod(t, h.ns, "diamond-a-1")
	if pa.Labels[LabelWorkflow] != "diamond" || pa.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("pod a labels %v restartPolicy %s", pa.Labels, pa.Spec.RestartPolicy)
	}
	if ref := metav1.GetControllerOf(pa); ref == nil || ref.Kind != "Workflow" || ref.Name != "diamond" {
		t.Errorf("pod a controller %+v", ref)
	}
	if pa.Annotations["sim.federation.dev/outcome"] != "succeed" || pa.Annotations["other.io/x"] != "" {
		t.Errorf("pod a annotations %v", pa.Annotations)
	}
	req := pa.Spec.Containers[0].Resources.Requests
	if req.Cpu().MilliValue() != 250 || req.Memory().Value() != 64<<20 || req.Name(ResourceGPU, resource.DecimalSI).Value() != 1 {
		t.Errorf("pod a requests %v", req)
	}
	if _, ok := h.pods()["diamond-b-1"]; ok {
		t.Fatal("b started before a finished")
	}
	h.succeed("diamond-a-1", `{"rows":"42","extra":7}`)
	pb := h.env.WaitPod(t, h.ns, "diamond-b-1")
	pc := h.env.WaitPod(t, h.ns, "diamond-c-1")
	if got := envOf(*pb); got["FED_INPUT_ROWS"] != "42" || got["FED_INPUT_MODE"] != "fast" {
		t.Errorf("pod b env %v", got)
	}
	if got := envOf(*pc); got["FED_INPUT_DATA_SET"] != "s3://x" {
		t.Errorf("pod c env %v", got)
	}
	h.succeed("diamond-b-1", `{"sum":"84"}`)
	h.settle()
	if _, ok := h.pods()["diamond-d-1"]; ok {
		t.Fatal("d started before c finished")
	}
	h.succeed("diamond-c-1", `{"n":"3"}`)
	pd := h.env.WaitPod(t, h.ns, "diamond-d-1")
	if got := envOf(*pd); got["FED_INPUT_LEFT"] != "84" || got["FED_INPUT_RIGHT"] != "3" {
		t.Errorf("pod d env %v", got)
	}
	h.succeed("diamond-d-1", `{"result":"ok"}`)
	got := h.waitPhase("diamond", wfv1.WorkflowSucceeded)
	if got.Status.Outputs["d.result"] != "ok" || len(got.Status.Outputs) != 1 {
		t.Errorf("workflow outputs %v", got.Status.Outputs)
	}
	if n := got.Status.Nodes["a"]; n.Phase != wfv1.NodeSucceeded || n.Attempts != 1 || n.Outputs["extra"] != "7" || n.PodName != "diamond-a-1" {
		t.Errorf("node a %+v", n)
	}
	if got.Status.StartedAt == nil || got.Status.FinishedAt == nil || len(got.Status.Conditions) != 1 {
		t.Errorf("status times/conditions %+v", got.Status)
	}

	// The write budget: pod creates plus at most 3 writes per task node.
	h.settle()
	total := h.writes.Writes()
	const nodes, podCreates = 4, 4
	perNode := float64(total-podCreates) / nodes
	t.Logf("diamond: %d writes for %d nodes: %d pod creates + %.2f writes per node", total, nodes, podCreates, perNode)
	if perNode > 3 {
		t.Errorf("%.2f writes per task node beyond its pod, want at most 3", perNode)
	}
	if got := promWrites(t) - promBefore; got != float64(total) {
		t.Errorf("clusteragent_api_writes_total grew by %v, the client counted %d", got, total)
	}
}

// promWrites sums clusteragent_api_writes_total as controller-runtime's
// registry (what /metrics serves) shows it.
func promWrites(t *testing.T) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() == "clusteragent_api_writes_total" {
			for _, m := range f.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// TestFailingNodeRetriesThenFails: a failed pod gets a new attempt until the
// retries run out; then the node and the workflow fail and the rest is
// skipped.
func TestFailingNodeRetriesThenFails(t *testing.T) {
	h := newHarness(t)
	a := node("a")
	a.Retries = 1
	h.create(workflow("retry", a, node("b", "a")))

	h.fail("retry-a-1")
	h.env.WaitPod(t, h.ns, "retry-a-2")
	if n := h.get("retry").Status.Nodes["a"]; n.Phase != wfv1.NodeRunning {
		// The status may trail the pod by a moment.
		kubetest.Eventually(t, 10*time.Second, "a running attempt 2", func() (bool, error) {
			n := h.get("retry").Status.Nodes["a"]
			return n.Phase == wfv1.NodeRunning && n.Attempts == 2, nil
		})
	}
	h.fail("retry-a-2")
	wf := h.waitPhase("retry", wfv1.WorkflowFailed)
	if n := wf.Status.Nodes["a"]; n.Phase != wfv1.NodeFailed || n.Attempts != 2 || !strings.Contains(n.Message, "exit code 3") {
		t.Errorf("node a %+v", n)
	}
	if n := wf.Status.Nodes["b"]; n.Phase != wfv1.NodeSkipped {
		t.Errorf("node b %+v", n)
	}
	if !strings.Contains(wf.Status.Message, "node a failed") {
		t.Errorf("message %q", wf.Status.Message)
	}
	if _, ok := h.pods()["retry-a-3"]; ok {
		t.Error("a third attempt was started")
	}
}

// TestTimeoutCountsAsFailedTry: a pod running past its node's timeout is
// deleted and the try counts as failed.
func TestTimeoutCountsAsFailedTry(t *testing.T) {
	h := newHarness(t)
	a := node("a")
	a.Timeout = &metav1.Duration{Duration: time.Second}
	h.create(workflow("slow", a))
	h.env.Kubelet(t, h.ns, "slow-a-1", corev1.PodRunning, 0, "")
	wf := h.waitPhase("slow", wfv1.WorkflowFailed)
	if n := wf.Status.Nodes["a"]; !strings.Contains(n.Message, "timed out") {
		t.Errorf("node a %+v", n)
	}
	kubetest.Eventually(t, 10*time.Second, "timed-out pod deleted", func() (bool, error) {
		_, ok := h.pods()["slow-a-1"]
		return !ok, nil
	})
}

// TestAbortDeletesPods: spec.abort deletes the running pods and the
// workflow ends Aborted.
func TestAbortDeletesPods(t *testing.T) {
	h := newHarness(t)
	h.create(workflow("cancel", node("a"), node("b"), node("c", "a", "b")))
	h.env.WaitPod(t, h.ns, "cancel-a-1")
	h.env.WaitPod(t, h.ns, "cancel-b-1")
	h.env.Kubelet(t, h.ns, "cancel-a-1", corev1.PodRunning, 0, "")
	h.waitPhase("cancel", wfv1.WorkflowRunning)

	wf := h.get("cancel")
	patch := client.MergeFrom(wf.DeepCopy())
	wf.Spec.Abort = true
	if err := h.env.Client.Patch(context.Background(), wf, patch); err != nil {
		t.Fatalf("abort: %v", err)
	}
	wf = h.waitPhase("cancel", wfv1.WorkflowAborted)
	want := map[string]wfv1.NodePhase{"a": wfv1.NodeAborted, "b": wfv1.NodeAborted, "c": wfv1.NodeSkipped}
	for id, n := range wf.Status.Nodes {
		if n.Phase != want[id] {
			t.Errorf("node %s %s, want %s", id, n.Phase, want[id])
		}
	}
	if pods := h.pods(); len(pods) != 0 {
		t.Errorf("pods left after abort: %d", len(pods))
	}
}

// TestResumeSkipsSucceededNodes: a node that succeeded in an earlier
// attempt is Succeeded at once, without a pod, and feeds its outputs on.
func TestResumeSkipsSucceededNodes(t *testing.T) {
	h := newHarness(t)
	b := node("b", "a")
	b.Inputs = map[string]wfv1.Binding{"x": {FromNode: "a", Output: "x"}}
	wf := workflow("resume", node("a"), b)
	wf.Spec.Attempt = 2
	wf.Spec.Resume = map[string]wfv1.NodeResume{"a": {Outputs: map[string]string{"x": "from-attempt-1"}, Attempts: 2}}
	h.create(wf)
	pb := h.env.WaitPod(t, h.ns, "resume-b-1")
	if got := envOf(*pb)["FED_INPUT_X"]; got != "from-attempt-1" {
		t.Errorf("FED_INPUT_X = %q", got)
	}
	if _, ok := h.pods()["resume-a-1"]; ok {
		t.Error("a pod was created for a resumed node")
	}
	h.succeed("resume-b-1", "")
	wf = h.waitPhase("resume", wfv1.WorkflowSucceeded)
	if n := wf.Status.Nodes["a"]; !n.Resumed || n.Attempts != 2 || n.Outputs["x"] != "from-attempt-1" || n.PodName != "" {
		t.Errorf("node a %+v", n)
	}
}

// TestIdleReconcileWritesNothing: once a workflow waits on its pods (or is
// finished), a reconcile writes nothing.
func TestIdleReconcileWritesNothing(t *testing.T) {
	h := newHarness(t)
	h.create(workflow("waiting", node("a"), node("b", "a")))
	h.env.Kubelet(t, h.ns, "waiting-a-1", corev1.PodRunning, 0, "")
	h.create(workflow("done", node("a")))
	h.succeed("done-a-1", "")
	h.waitPhase("done", wfv1.WorkflowSucceeded)
	h.create(workflow("failed", node("a")))
	h.fail("failed-a-1")
	h.waitPhase("failed", wfv1.WorkflowFailed)
	h.settle()

	for _, name := range []string{"waiting", "done", "failed"} {
		t.Run(name, func(t *testing.T) {
			before := h.writes.Writes()
			for range 3 {
				if _, err := h.rec.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: h.ns, Name: name}}); err != nil {
					t.Fatalf("reconcile: %v", err)
				}
			}
			if d := h.writes.Writes() - before; d != 0 {
				t.Errorf("%d writes by reconciles with nothing to do", d)
			}
		})
	}
}

// TestRestartResumesFromStatus: a new loop (a restarted agent) continues
// from the status the old one wrote, without running finished nodes again,
// even when their pods are gone.
func TestRestartResumesFromStatus(t *testing.T) {
	h := newHarness(t)
	h.create(workflow("restart", node("a"), node("b", "a")))
	h.succeed("restart-a-1", `{"k":"v"}`)
	h.env.WaitPod(t, h.ns, "restart-b-1")
	// Stop only once a's success is recorded: until then its pod is the
	// only record of it.
	kubetest.Eventually(t, 10*time.Second, "a recorded Succeeded", func() (bool, error) {
		return h.get("restart").Status.Nodes["b"].Phase == wfv1.NodeRunning, nil
	})
	h.stop()

	// The finished pod is garbage-collected while no loop runs.
	if err := h.env.Client.Delete(context.Background(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "restart-a-1"}}); err != nil {
		t.Fatalf("delete pod a: %v", err)
	}
	h.start()
	h.succeed("restart-b-1", "")
	wf := h.waitPhase("restart", wfv1.WorkflowSucceeded)
	if n := wf.Status.Nodes["a"]; n.Attempts != 1 || n.Outputs["k"] != "v" {
		t.Errorf("node a %+v", n)
	}
	if _, ok := h.pods()["restart-a-2"]; ok {
		t.Error("a ran again after the restart")
	}
}

// TestFinishedWorkflowCollectedAfterTTL: a finished workflow and its pods
// are deleted once ttlAfterFinished has passed.
func TestFinishedWorkflowCollectedAfterTTL(t *testing.T) {
	h := newHarness(t)
	wf := workflow("ttl", node("a"))
	// Long enough that a loaded machine still sees it Succeeded before it goes.
	wf.Spec.TTLAfterFinished = &metav1.Duration{Duration: 3 * time.Second}
	h.create(wf)
	h.succeed("ttl-a-1", "")
	h.waitPhase("ttl", wfv1.WorkflowSucceeded)
	kubetest.Eventually(t, 15*time.Second, "workflow and pods deleted", func() (bool, error) {
		err := h.env.Client.Get(context.Background(), types.NamespacedName{Namespace: h.ns, Name: "ttl"}, &wfv1.Workflow{})
		return apierrors.IsNotFound(err) && len(h.pods()) == 0, nil
	})
}
