package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	wfv1 "github.com/federation-dev/federation/api/workflow/v1alpha1"
	"github.com/federation-dev/federation/clusteragent"
	"github.com/federation-dev/federation/clusteragent/propeller"
)

// DefaultNamespace holds the Workflows when Options names none.
const DefaultNamespace = "federation-workflows"

// ErrAlreadyRunning is returned by a second call of Run.
var ErrAlreadyRunning = errors.New("kube backend already running")

// Options configure a Backend.
type Options struct {
	// Namespace holds the Workflows and their pods; empty means
	// DefaultNamespace.
	Namespace string
	// InstallCRD installs (or updates) the Workflow CRD and creates the
	// namespace and its default ServiceAccount at New, for clusters where
	// no manifest did (and test clusters without a controller manager).
	InstallCRD bool
	// MetricsAddr is where the manager serves /metrics (with
	// clusteragent_api_writes_total); "0" disables it, empty means ":8080".
	MetricsAddr string
	// MaxConcurrentReconciles bounds parallel reconciles; zero means
	// propeller.DefaultMaxConcurrentReconciles.
	MaxConcurrentReconciles int
	// Cache, if set, is the federation-wide task cache the propeller
	// consults before running a node marked cache; CacheMaxWait bounds
	// waiting for another run of the same key.
	Cache        propeller.Cache
	CacheMaxWait time.Duration
	// Logger receives the backend's and controller-runtime's messages; nil
	// means slog.Default().
	Logger *slog.Logger
}

// Backend runs workflows on a Kubernetes member cluster. It implements
// clusteragent.Backend.
type Backend struct {
	opts    Options
	mgr     ctrl.Manager
	client  *propeller.CountingClient
	cache   client.Reader
	changes chan struct{}
	log     *slog.Logger

	deleted recentDeletes

	mu      sync.Mutex
	running bool
}

var _ clusteragent.Backend = (*Backend)(nil)

// New builds the backend: the manager, its cache and the propeller loop.
// Nothing runs until Run.
func New(cfg *rest.Config, o Options) (*Backend, error) {
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.MetricsAddr == "" {
		o.MetricsAddr = ":8080"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	cfg = clientConfig(cfg)
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("kube backend scheme: %w", err)
	}
	if err := wfv1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("kube backend scheme: %w", err)
	}
	if o.InstallCRD {
		if err := install(cfg, scheme, o.Namespace); err != nil {
			return nil, err
		}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Logger:                 logr.FromSlogHandler(o.Logger.Handler()),
		Metrics:                metricsserver.Options{BindAddress: o.MetricsAddr},
		HealthProbeBindAddress: "0",
		Cache: cache.Options{
			// Workflows live in one namespace; pods and nodes are watched
			// cluster-wide because capacity counts every pod on a node.
			ByObject: map[client.Object]cache.ByObject{
				&wfv1.Workflow{}: {Namespaces: map[string]cache.Config{o.Namespace: {}}},
			},
			DefaultTransform: cache.TransformStripManagedFields(),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("kube backend manager: %w", err)
	}
	b := &Backend{
		opts:    o,
		mgr:     mgr,
		client:  propeller.NewCountingClient(mgr.GetClient()),
		cache:   mgr.GetCache(),
		changes: make(chan struct{}, 1),
		log:     o.Logger,
	}
	rec := &propeller.WorkflowReconciler{
		Client:                  b.client,
		APIReader:               mgr.GetAPIReader(),
		Scheme:                  scheme,
		Log:                     o.Logger.With("component", "propeller"),
		OnChange:                func(types.NamespacedName) { b.tick() },
		MaxConcurrentReconciles: o.MaxConcurrentReconciles,
		Cache:                   o.Cache,
		CacheMaxWait:            o.CacheMaxWait,
	}
	if err := rec.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("kube backend: set up propeller: %w", err)
	}
	return b, nil
}

// Run starts the manager (cache, propeller loop, metrics) and blocks until
// ctx ends.
func (b *Backend) Run(ctx context.Context) error {
	b.mu.Lock()
	if b.running {
		b.mu.Unlock()
		return ErrAlreadyRunning
	}
	b.running = true
	b.mu.Unlock()
	b.log.Info("kube backend starting", "namespace", b.opts.Namespace)
	if err := b.mgr.Start(ctx); err != nil {
		return fmt.Errorf("kube backend: %w", err)
	}
	return nil
}

// Writes returns how many writes the backend (and its loop) sent to the API
// server.
func (b *Backend) Writes() int64 { return b.client.Writes() }

// Changes ticks, coalesced, after the loop wrote a workflow's status or
// collected a workflow.
func (b *Backend) Changes() <-chan struct{} { return b.changes }

func (b *Backend) tick() {
	select {
	case b.changes <- struct{}{}:
	default:
	}
}

func (b *Backend) key(key v1.ExecutionKey, attempt int) types.NamespacedName {
	return types.NamespacedName{Namespace: b.opts.Namespace, Name: WorkflowName(key, attempt)}
}

// Start creates the Workflow of an assignment. A Workflow that already
// exists for its key and attempt (a retried Start) is left as it is.
func (b *Backend) Start(ctx context.Context, a v1.Assignment) error {
	wf, err := workflowFor(a, b.opts.Namespace)
	if err != nil {
		return fmt.Errorf("start %s attempt %d: %w", a.Key(), a.Attempt, err)
	}
	b.deleted.forget(client.ObjectKeyFromObject(wf))
	if err := b.client.Create(ctx, wf); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("start %s attempt %d: create workflow %s: %w", a.Key(), a.Attempt, wf.Name, err)
	}
	return nil
}

// Abort sets spec.abort on the workflow; the loop deletes its pods and moves
// it to Aborted. Aborting an unknown or finished workflow does nothing.
func (b *Backend) Abort(ctx context.Context, key v1.ExecutionKey, attempt int) error {
	nn := b.key(key, attempt)
	var wf wfv1.Workflow
	err := b.cache.Get(ctx, nn, &wf)
	switch {
	case err == nil && (wf.Spec.Abort || wf.Status.Phase.Terminal()):
		return nil
	case err != nil && !apierrors.IsNotFound(err):
		return fmt.Errorf("abort %s attempt %d: get workflow: %w", key, attempt, err)
	}
	// Not in the cache may mean created a moment ago: patch blindly.
	obj := &wfv1.Workflow{}
	obj.Namespace, obj.Name = nn.Namespace, nn.Name
	patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"abort":true}}`))
	if err := b.client.Patch(ctx, obj, patch); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("abort %s attempt %d: patch workflow %s: %w", key, attempt, nn.Name, err)
	}
	return nil
}

// Delete deletes the workflow and its pods (explicitly: a member cluster
// without a garbage collector would keep them). Idempotent; deleting again
// what this backend deleted a moment ago writes nothing, even while its
// cache still shows it (the session deletes a finished workflow both after
// its final report and when the assignment list drops it, often before the
// first delete's watch events have arrived).
func (b *Backend) Delete(ctx context.Context, key v1.ExecutionKey, attempt int) error {
	nn := b.key(key, attempt)
	if b.deleted.has(nn, time.Now()) {
		// Start forgets a name it creates again, so this is the copy
		// deleted a moment ago: the workflow and every pod the watch cache
		// held are gone or going.
		return nil
	}
	var pods corev1.PodList
	if err := b.cache.List(ctx, &pods, client.InNamespace(nn.Namespace), client.MatchingFields{propeller.IndexPodWorkflow: nn.Name}); err != nil {
		return fmt.Errorf("delete %s attempt %d: list pods: %w", key, attempt, err)
	}
	if len(pods.Items) > 0 {
		if err := b.client.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(nn.Namespace), client.MatchingLabels{propeller.LabelWorkflow: nn.Name}, propeller.FromWatchCache); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete %s attempt %d: delete pods: %w", key, attempt, err)
		}
	}
	obj := &wfv1.Workflow{}
	obj.Namespace, obj.Name = nn.Namespace, nn.Name
	if err := b.client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete %s attempt %d: delete workflow %s: %w", key, attempt, nn.Name, err)
	}
	b.deleted.add(nn, time.Now())
	return nil
}

// List returns every Workflow of the namespace, from the cache.
func (b *Backend) List(ctx context.Context) ([]clusteragent.WorkflowState, error) {
	var list wfv1.WorkflowList
	// The session lists every few hundred milliseconds; stateOf only reads
	// (and copies what it keeps), so the cache's objects need no deep copy.
	if err := b.cache.List(ctx, &list, client.InNamespace(b.opts.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list workflows: %w", err)
	}
	out := make([]clusteragent.WorkflowState, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, stateOf(&list.Items[i]))
	}
	return out, nil
}
