// Package kubetest starts a real kube-apiserver (with etcd) for tests, through
// controller-runtime's envtest, with the Workflow CRD installed, and plays the
// kubelet that such a control plane lacks by writing pod status itself.
//
// The binaries come from KUBEBUILDER_ASSETS or, by default, from
// <repo>/bin/testbin (built by test/testbin/build.sh). When they are missing
// the tests that need them skip, so `go test ./...` passes on a fresh clone.
package kubetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	wfv1 "github.com/federation-dev/federation/api/workflow/v1alpha1"
)

// Env is a running API server and a client for it.
type Env struct {
	// Config reaches the API server as an administrator.
	Config *rest.Config
	// Client writes straight to the API server (no cache).
	Client client.Client
	// Scheme knows the built-in kinds and Workflow.
	Scheme *runtime.Scheme
}

var (
	mu      sync.Mutex
	started *envtest.Environment
	shared  *Env
	failed  error
	nsSeq   int
)

// Assets returns the folder holding etcd and kube-apiserver, and whether
// both are there.
func Assets() (string, bool) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		root, err := repoRoot()
		if err != nil {
			return "", false
		}
		dir = filepath.Join(root, "bin", "testbin")
	}
	for _, b := range []string{"etcd", "kube-apiserver"} {
		if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.Mode()&0o111 == 0 {
			return dir, false
		}
	}
	return dir, true
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// NewScheme returns a scheme with the built-in kinds and Workflow.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := wfv1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// CRD decodes the embedded Workflow CRD.
func CRD() (*apiextensionsv1.CustomResourceDefinition, error) {
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(wfv1.CRDYAML, &crd); err != nil {
		return nil, fmt.Errorf("decode workflow CRD: %w", err)
	}
	return &crd, nil
}

// Shared returns the test binary's API server, starting it on first use.
// It skips the test when the binaries are missing. Call Stop from TestMain.
func Shared(t testing.TB) *Env {
	t.Helper()
	dir, ok := Assets()
	if !ok {
		t.Skipf("kube-apiserver and etcd not found in %s: run test/testbin/build.sh (make testbin) to test against a real API server", dir)
	}
	mu.Lock()
	defer mu.Unlock()
	if shared == nil && failed == nil {
		shared, failed = start(dir)
	}
	if failed != nil {
		t.Fatalf("start kube-apiserver: %v", failed)
	}
	return shared
}

func start(dir string) (*Env, error) {
	crd, err := CRD()
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory:    dir,
		CRDInstallOptions:        envtest.CRDInstallOptions{CRDs: []*apiextensionsv1.CustomResourceDefinition{crd}},
		ControlPlaneStartTimeout: 60 * time.Second,
		ControlPlaneStopTimeout:  20 * time.Second,
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("envtest: %w", err)
	}
	started = env
	scheme := NewScheme()
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return &Env{Config: cfg, Client: c, Scheme: scheme}, nil
}

// Stop stops the shared API server, if one was started.
func Stop() {
	mu.Lock()
	defer mu.Unlock()
	if started != nil {
		_ = started.Stop()
		started, shared = nil, nil
	}
}

// Namespace creates a namespace of its own for one test. It is deleted at
// cleanup (without a namespace controller it stays Terminating, which is
// harmless: the API server goes away with the test binary).
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	mu.Lock()
	nsSeq++
	name := "t" + strconv.Itoa(nsSeq) + "-" + strconv.FormatInt(time.Now().UnixNano()%1e6, 10)
	mu.Unlock()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Client.Create(ctx, ns); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Client.Delete(ctx, ns)
	})
	return name
}

// Eventually polls cond every 50ms until it holds or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, lastErr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitPod waits until the pod exists and returns it.
func (e *Env) WaitPod(t testing.TB, ns, name string) *corev1.Pod {
	t.Helper()
	var pod corev1.Pod
	Eventually(t, 20*time.Second, "pod "+name, func() (bool, error) {
		err := e.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &pod)
		return err == nil, err
	})
	return &pod
}

// Kubelet sets a pod's status as a kubelet would: phase Running, or
// Succeeded / Failed with the task container terminated with exitCode and
// the termination message msg.
func (e *Env) Kubelet(t testing.TB, ns, name string, phase corev1.PodPhase, exitCode int32, msg string) {
	t.Helper()
	pod := e.WaitPod(t, ns, name)
	now := metav1.Now()
	pod.Status.Phase = phase
	var statuses []corev1.ContainerStatus
	for _, c := range pod.Spec.Containers {
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: "sim://" + c.Image, ContainerID: "sim://" + pod.Name}
		switch phase {
		case corev1.PodRunning:
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: now}
			cs.Ready, cs.Started = true, new(true)
		case corev1.PodSucceeded, corev1.PodFailed:
			reason := "Completed"
			if phase == corev1.PodFailed {
				reason = "Error"
			}
			cs.State.Terminated = &corev1.ContainerStateTerminated{ExitCode: exitCode, Reason: reason, Message: msg, StartedAt: now, FinishedAt: now, ContainerID: cs.ContainerID}
			cs.Started = new(false)
		}
		statuses = append(statuses, cs)
	}
	pod.Status.ContainerStatuses = statuses
	if pod.Status.StartTime == nil {
		pod.Status.StartTime = &now
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Client.Status().Update(ctx, pod); err != nil {
		t.Fatalf("kubelet: set pod %s %s: %v", name, phase, err)
	}
}
