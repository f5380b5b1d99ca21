package testbed

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// startTestCluster starts one cluster for t, stopped on cleanup.
func startTestCluster(t *testing.T, ctx context.Context, o ClusterOptions) *Cluster {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	if testing.Verbose() {
		o.Logs = t.Output()
	}
	c, err := Start(ctx, o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return c
}

func TestClusterRunsWorkflowPods(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	nodes := []NodeSpec{
		{Name: "big", CPU: "32", Memory: "128Gi", Pods: "110", GPU: "2"},
		{Name: "small", CPU: "2", Memory: "4Gi", Pods: "10", GPU: "0"},
	}
	c := startTestCluster(t, ctx, ClusterOptions{Name: "alpha", Nodes: nodes})

	t.Run("allocatable matches the NodeSpec", func(t *testing.T) {
		for _, spec := range nodes {
			node, err := c.Client.CoreV1().Nodes().Get(ctx, spec.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("get node %s: %v", spec.Name, err)
			}
			want := map[corev1.ResourceName]string{
				corev1.ResourceCPU: spec.CPU, corev1.ResourceMemory: spec.Memory,
				corev1.ResourcePods: spec.Pods, GPUResource: spec.GPU,
			}
			for name, w := range want {
				got := node.Status.Allocatable[name]
				if got.Cmp(resource.MustParse(w)) != 0 {
					t.Errorf("node %s allocatable %s = %s, want %s", spec.Name, name, got.String(), w)
				}
			}
			if !nodeReady(node) {
				t.Errorf("node %s not Ready", spec.Name)
			}
			for _, taint := range node.Spec.Taints {
				if taint.Key == corev1.TaintNodeNotReady {
					t.Errorf("node %s still has taint %s", spec.Name, taint.Key)
				}
			}
		}
	})

	const ns = "team-a"
	if err := c.EnsureNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name        string
		workflow    bool // owned by a Workflow
		annotations map[string]string
		wantPhase   corev1.PodPhase
		wantExit    int32
		wantMessage string
		minRun      time.Duration // at least this long from creation to the end
	}{
		{
			name:        "succeeds-with-outputs",
			workflow:    true,
			annotations: map[string]string{AnnotationOutputs: `{"model":"s3://b/m","loss":0.25}`},
			wantPhase:   corev1.PodSucceeded,
			wantMessage: `{"model":"s3://b/m","loss":0.25}`,
		},
		{
			name:        "fails",
			workflow:    true,
			annotations: map[string]string{AnnotationResult: "Failed", AnnotationOutputs: `{"error":"boom"}`},
			wantPhase:   corev1.PodFailed,
			wantExit:    1,
			wantMessage: `{"error":"boom"}`,
		},
		{
			name:        "succeeds-after-delay",
			workflow:    true,
			annotations: map[string]string{AnnotationDelay: "3s"},
			wantPhase:   corev1.PodSucceeded,
			minRun:      3 * time.Second,
		},
		{
			name:      "not-owned-stays-running",
			wantPhase: corev1.PodRunning,
		},
	}
	// The group returns only when its parallel pods are done, before Stop.
	t.Run("pods", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				pod := testPod(tt.name, ns, tt.workflow, tt.annotations)
				created := time.Now()
				if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
					t.Fatalf("create pod: %v", err)
				}
				got := waitPod(t, ctx, c, ns, tt.name, func(p *corev1.Pod) bool {
					return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed ||
						(tt.wantPhase == corev1.PodRunning && p.Status.Phase == corev1.PodRunning)
				})
				elapsed := time.Since(created)
				if got.Spec.NodeName == "" {
					t.Errorf("pod not scheduled")
				}
				if got.Status.Phase != tt.wantPhase {
					t.Fatalf("phase = %s, want %s", got.Status.Phase, tt.wantPhase)
				}
				if tt.wantPhase == corev1.PodRunning {
					// A pod no Workflow owns must not complete on its own.
					time.Sleep(2 * time.Second)
					p, err := c.Client.CoreV1().Pods(ns).Get(ctx, tt.name, metav1.GetOptions{})
					if err != nil {
						t.Fatal(err)
					}
					if p.Status.Phase != corev1.PodRunning {
						t.Errorf("phase after 2s = %s, want Running", p.Status.Phase)
					}
					return
				}
				if elapsed < tt.minRun {
					t.Errorf("pod ended after %s, want at least %s", elapsed, tt.minRun)
				}
				if len(got.Status.ContainerStatuses) != 1 {
					t.Fatalf("container statuses = %d, want 1", len(got.Status.ContainerStatuses))
				}
				state := got.Status.ContainerStatuses[0].State
				if state.Terminated == nil {
					t.Fatalf("container state %+v, want terminated", state)
				}
				if state.Running != nil {
					t.Errorf("container state still has running: %+v", state)
				}
				if state.Terminated.ExitCode != tt.wantExit {
					t.Errorf("exit code = %d, want %d", state.Terminated.ExitCode, tt.wantExit)
				}
				if state.Terminated.Message != tt.wantMessage {
					t.Errorf("termination message = %q, want %q", state.Terminated.Message, tt.wantMessage)
				}
			})
		}
	})

	t.Run("deleting a running pod removes it", func(t *testing.T) {
		const name = "to-delete"
		if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, testPod(name, ns, false, nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitPod(t, ctx, c, ns, name, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
		if err := c.Client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, err := c.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("pod still present 30s after delete (last err %v)", err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	t.Run("Stop leaves no processes and no files", func(t *testing.T) {
		pids := c.Pids()
		if len(pids) != 4 {
			t.Errorf("components = %d, want 4", len(pids))
		}
		if err := c.Stop(); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		for _, pid := range pids {
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("process %d still exists after Stop (kill 0: %v)", pid, err)
			}
		}
		if _, err := os.Stat(c.Dir); !os.IsNotExist(err) {
			t.Errorf("dir %s still exists after Stop (%v)", c.Dir, err)
		}
	})
}

// testPod is a one-container pod, owned by a (fake) Workflow if workflow.
func testPod(name, ns string, workflow bool, annotations map[string]string) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns, Annotations: annotations,
			Labels: map[string]string{LabelWorkflowName: "wf-" + name},
		},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "main", Image: "example.invalid/task:v1"}},
		},
	}
	if workflow {
		// No kube-controller-manager runs, so no garbage collector deletes
		// the pod for its owner not existing.
		pod.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: WorkflowAPIVersion, Kind: WorkflowKind,
			Name: "wf-" + name, UID: types.UID("00000000-0000-0000-0000-000000000001"),
		}}
	}
	return pod
}

// waitPod polls the pod until done(pod) or 60s pass.
func waitPod(t *testing.T, ctx context.Context, c *Cluster, ns, name string, done func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		p, err := c.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && done(p) {
			return p
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("pod %s/%s: condition not met in 60s (last err %v, status %+v)", ns, name, err, podStatus(p))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func podStatus(p *corev1.Pod) any {
	if p == nil {
		return nil
	}
	return p.Status
}
