package propeller

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	wfv1 "github.com/federation-dev/federation/api/workflow/v1alpha1"
)

// DefaultTTLAfterFinished is how long a finished workflow is kept when its
// spec names no TTL (the CRD also defaults it).
const DefaultTTLAfterFinished = 10 * time.Minute

// DefaultMaxConcurrentReconciles is how many workflows the loop reconciles
// at once when MaxConcurrentReconciles is zero.
const DefaultMaxConcurrentReconciles = 16

// staleRetry is how soon a reconcile that saw an older copy of the workflow
// than the one it last wrote looks again (the watch event usually comes
// first).
const staleRetry = 250 * time.Millisecond

// WorkflowReconciler is the propeller loop: it drives Workflows to
// completion. Create it with its exported fields set and register it with
// SetupWithManager.
type WorkflowReconciler struct {
	// Client reads from the manager's cache and writes to the API server.
	// Wrap it in a CountingClient to count writes.
	Client client.Client
	// APIReader reads from the API server directly. It confirms that a pod
	// missing from the cache is really gone rather than not yet seen.
	APIReader client.Reader
	// Scheme knows Workflow, for owner references.
	Scheme *runtime.Scheme
	// Log receives the loop's messages; nil discards them.
	Log *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnChange, if set, is called after the loop wrote a workflow's status
	// or deleted a workflow. It must not block.
	OnChange func(types.NamespacedName)
	// MaxConcurrentReconciles bounds parallel reconciles (of different
	// workflows); zero means DefaultMaxConcurrentReconciles.
	MaxConcurrentReconciles int
	// Cache, if set, is consulted before the first pod of a node marked
	// cache (cache.go); CacheMaxWait bounds waiting for another run of the
	// same key (zero: DefaultCacheMaxWait).
	Cache        Cache
	CacheMaxWait time.Duration

	mu sync.Mutex
	// cacheWaits holds when each node waiting for another run's claim
	// started waiting.
	cacheWaits map[cacheWaitKey]time.Time
	// seen holds, per workflow, what this loop last did to it that its
	// cache may not show yet: a reconcile that sees an older copy waits for
	// the newer one rather than acting twice (and paying for a conflict).
	seen map[types.NamespacedName]lastWrite
}

type lastWrite struct {
	resourceVersion uint64
	deletedUID      types.UID
}

// SetupWithManager registers the loop: it watches Workflows and the pods
// they own.
func (r *WorkflowReconciler) SetupWithManager(mgr ctrl.Manager) error {
	n := r.MaxConcurrentReconciles
	if n <= 0 {
		n = DefaultMaxConcurrentReconciles
	}
	if err := IndexPodsByWorkflow(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&wfv1.Workflow{}).
		Owns(&corev1.Pod{}, builder.WithPredicates(podEventMatters)).
		Named("workflow").
		// Tests and embedders may run several managers in one process.
		WithOptions(controller.Options{MaxConcurrentReconciles: n, SkipNameValidation: ptr.To(true)}).
		Complete(r)
}

func (r *WorkflowReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *WorkflowReconciler) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Reconcile moves one workflow one step forward.
func (r *WorkflowReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var wf wfv1.Workflow
	if err := r.Client.Get(ctx, req.NamespacedName, &wf); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("get workflow %s: %w", req.NamespacedName, err)
	}
	if !wf.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	if r.stale(&wf) {
		return ctrl.Result{RequeueAfter: staleRetry}, nil
	}
	now := r.now()
	if wf.Status.Phase.Terminal() {
		return r.collect(ctx, &wf, now)
	}

	pods, err := r.listPods(ctx, &wf)
	if err != nil {
		return ctrl.Result{}, err
	}
	s := &step{r: r, wf: &wf, st: wf.Status.DeepCopy(), pods: pods, now: metav1.NewTime(now.Truncate(time.Second))}
	if err := s.run(ctx); err != nil {
		// Pods created so far are found again by name on the next try;
		// the status is written only for a step that completed.
		return ctrl.Result{}, err
	}
	if !equality.Semantic.DeepEqual(&wf.Status, s.st) {
		s.st.ObservedGeneration = wf.Generation
		wf.Status = *s.st
		if err := r.Client.Status().Update(ctx, &wf); err != nil {
			if apierrors.IsConflict(err) {
				// Someone (abort, a newer copy of ourselves) moved first.
				return ctrl.Result{RequeueAfter: staleRetry}, nil
			}
			if apierrors.IsNotFound(err) {
				// Deleted mid-reconcile (the agent dropped a stale copy):
				// nothing left to drive; its pods go with it.
				return ctrl.Result{}, nil
			}
			return ctrl.Result{}, fmt.Errorf("update status of workflow %s: %w", req.NamespacedName, err)
		}
		r.remember(req.NamespacedName, lastWrite{resourceVersion: parseRV(wf.ResourceVersion)})
		r.log().Debug("workflow status written", "workflow", req.NamespacedName, "phase", wf.Status.Phase)
		r.changed(req.NamespacedName)
	}
	if wf.Status.Phase.Terminal() {
		return ctrl.Result{RequeueAfter: ttl(&wf)}, nil
	}
	return s.result, nil
}

// listPods returns the workflow's pods from the cache, by name.
func (r *WorkflowReconciler) listPods(ctx context.Context, wf *wfv1.Workflow) (map[string]*corev1.Pod, error) {
	var list corev1.PodList
	if err := r.Client.List(ctx, &list, client.InNamespace(wf.Namespace), client.MatchingFields{IndexPodWorkflow: wf.Name}); err != nil {
		return nil, fmt.Errorf("list pods of workflow %s/%s: %w", wf.Namespace, wf.Name, err)
	}
	pods := make(map[string]*corev1.Pod, len(list.Items))
	for i := range list.Items {
		p := &list.Items[i]
		if metav1.IsControlledBy(p, wf) {
			pods[p.Name] = p
		}
	}
	return pods, nil
}

// collect deletes a finished workflow and its pods once its TTL ran out.
// The pods are deleted explicitly: member clusters in tests have no garbage
// collector to follow owner references.
func (r *WorkflowReconciler) collect(ctx context.Context, wf *wfv1.Workflow, now time.Time) (ctrl.Result, error) {
	finished := wf.CreationTimestamp.Time
	if wf.Status.FinishedAt != nil {
		finished = wf.Status.FinishedAt.Time
	}
	if left := finished.Add(ttl(wf)).Sub(now); left > 0 {
		return ctrl.Result{RequeueAfter: left}, nil
	}
	key := client.ObjectKeyFromObject(wf)
	pods, err := r.listPods(ctx, wf)
	if err != nil {
		return ctrl.Result{}, err
	}
	if len(pods) > 0 {
		if err := r.Client.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(wf.Namespace), client.MatchingLabels{LabelWorkflow: wf.Name}, FromWatchCache); err != nil && !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("delete pods of finished workflow %s: %w", key, err)
		}
	}
	err = r.Client.Delete(ctx, wf, client.Preconditions{UID: &wf.UID}, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return ctrl.Result{}, fmt.Errorf("delete finished workflow %s: %w", key, err)
	}
	r.remember(key, lastWrite{deletedUID: wf.UID})
	r.log().Info("finished workflow collected", "workflow", key, "phase", wf.Status.Phase)
	r.changed(key)
	return ctrl.Result{}, nil
}

func ttl(wf *wfv1.Workflow) time.Duration {
	if d := wf.Spec.TTLAfterFinished; d != nil && d.Duration >= 0 {
		return d.Duration
	}
	return DefaultTTLAfterFinished
}

func (r *WorkflowReconciler) changed(key types.NamespacedName) {
	if r.OnChange != nil {
		r.OnChange(key)
	}
}

// stale reports whether wf is older than what this loop last wrote (or is a
// copy of a workflow it already deleted).
func (r *WorkflowReconciler) stale(wf *wfv1.Workflow) bool {
	key := client.ObjectKeyFromObject(wf)
	r.mu.Lock()
	defer r.mu.Unlock()
	w, ok := r.seen[key]
	if !ok {
		return false
	}
	if w.deletedUID != "" {
		if w.deletedUID == wf.UID {
			return true
		}
		delete(r.seen, key)
		return false
	}
	if rv := parseRV(wf.ResourceVersion); rv == 0 || rv >= w.resourceVersion {
		delete(r.seen, key)
		return false
	}
	return true
}

func (r *WorkflowReconciler) remember(key types.NamespacedName, w lastWrite) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[types.NamespacedName]lastWrite{}
	}
	r.seen[key] = w
}

func (r *WorkflowReconciler) forget(key types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.seen, key)
	for k := range r.cacheWaits {
		if k.wf == key {
			delete(r.cacheWaits, k)
		}
	}
}

// parseRV reads a resource version as etcd's revision. Resource versions are
// opaque by contract; one that does not parse (0) disables the stale check,
// which only saves writes and never decides an outcome.
func parseRV(s string) uint64 {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0
	}
	return v
}

// step is one reconcile of a live workflow: it mutates st and makes the pod
// writes that the transition needs.
type step struct {
	r      *WorkflowReconciler
	wf     *wfv1.Workflow
	st     *wfv1.WorkflowStatus
	pods   map[string]*corev1.Pod
	now    metav1.Time
	result ctrl.Result
}

func (s *step) run(ctx context.Context) error {
	st := s.st
	if st.Phase == "" || st.Phase == wfv1.WorkflowPending {
		st.Phase = wfv1.WorkflowRunning
		st.StartedAt = ptr.To(s.now)
	}
	if st.Nodes == nil {
		st.Nodes = make(map[string]wfv1.NodeStatus, len(s.wf.Spec.Nodes))
	}
	for _, n := range s.wf.Spec.Nodes {
		ns, ok := st.Nodes[n.ID]
		if ok && ns.Phase != wfv1.NodePending {
			continue
		}
		if res, resumed := s.wf.Spec.Resume[n.ID]; resumed {
			st.Nodes[n.ID] = wfv1.NodeStatus{Phase: wfv1.NodeSucceeded, Attempts: res.Attempts, Outputs: res.Outputs, Cached: res.Cached, Resumed: true, FinishedAt: ptr.To(s.now)}
		} else if !ok {
			st.Nodes[n.ID] = wfv1.NodeStatus{Phase: wfv1.NodePending}
		}
	}

	if s.wf.Spec.Abort {
		return s.abort(ctx)
	}
	if err := validateDAG(s.wf); err != nil {
		// A Workflow written by hand can hold what the federation's
		// validation would have refused; it could never finish.
		for _, n := range s.wf.Spec.Nodes {
			if ns := st.Nodes[n.ID]; ns.Phase == wfv1.NodePending {
				ns.Phase, ns.Message = wfv1.NodeSkipped, "skipped: invalid workflow"
				st.Nodes[n.ID] = ns
			}
		}
		s.finish(wfv1.WorkflowFailed, err.Error())
		return nil
	}

	// Running nodes first, so that nodes they unblock start in this same
	// reconcile and share its one status write.
	for i := range s.wf.Spec.Nodes {
		n := &s.wf.Spec.Nodes[i]
		if st.Nodes[n.ID].Phase == wfv1.NodeRunning {
			if err := s.observe(ctx, n); err != nil {
				return err
			}
		}
	}
	for _, n := range s.wf.Spec.Nodes {
		if ns := st.Nodes[n.ID]; ns.Phase == wfv1.NodeFailed {
			return s.fail(ctx, fmt.Sprintf("node %s failed: %s", n.ID, ns.Message))
		}
	}
	for i := range s.wf.Spec.Nodes {
		n := &s.wf.Spec.Nodes[i]
		if st.Nodes[n.ID].Phase == wfv1.NodePending && ready(n, st.Nodes) {
			if err := s.start(ctx, n, 1); err != nil {
				return err
			}
		}
	}
	// A node can fail on start (bad binding, pod refused as invalid).
	done := true
	for _, n := range s.wf.Spec.Nodes {
		switch ns := st.Nodes[n.ID]; ns.Phase {
		case wfv1.NodeFailed:
			return s.fail(ctx, fmt.Sprintf("node %s failed: %s", n.ID, ns.Message))
		case wfv1.NodeSucceeded:
		default:
			done = false
		}
	}
	if done {
		s.finish(wfv1.WorkflowSucceeded, "")
		st.Outputs = leafOutputs(s.wf, st.Nodes)
	}
	return nil
}

// observe advances a running node from what its pod shows.
func (s *step) observe(ctx context.Context, n *wfv1.TaskNode) error {
	ns := s.st.Nodes[n.ID]
	pod, err := s.pod(ctx, ns.PodName)
	if err != nil {
		return err
	}
	if pod == nil {
		return s.failTry(ctx, n, fmt.Sprintf("pod %s disappeared before it finished", ns.PodName))
	}
	switch pod.Status.Phase {
	case corev1.PodSucceeded:
		out, err := podOutputs(pod)
		if err != nil {
			return s.failTry(ctx, n, fmt.Sprintf("pod %s: %v", pod.Name, err))
		}
		ns.Phase, ns.Outputs, ns.Message, ns.FinishedAt = wfv1.NodeSucceeded, out, "", ptr.To(s.now)
		s.st.Nodes[n.ID] = ns
		s.cachePut(ctx, n, out)
		return nil
	case corev1.PodFailed:
		return s.failTry(ctx, n, podFailure(pod))
	}
	if n.Timeout == nil || ns.StartedAt == nil {
		return nil
	}
	deadline := ns.StartedAt.Add(n.Timeout.Duration)
	if left := deadline.Sub(s.now.Time); left > 0 {
		s.requeueAfter(left + time.Second) // status times have second precision
		return nil
	}
	if err := s.deletePod(ctx, pod); err != nil {
		return err
	}
	return s.failTry(ctx, n, fmt.Sprintf("pod %s timed out after %s", pod.Name, n.Timeout.Duration))
}

// failTry records a failed attempt: the node runs again while it has
// retries left, and fails otherwise.
func (s *step) failTry(ctx context.Context, n *wfv1.TaskNode, msg string) error {
	ns := s.st.Nodes[n.ID]
	if ns.Attempts <= n.Retries {
		ns.Message = fmt.Sprintf("attempt %d: %s", ns.Attempts, msg)
		s.st.Nodes[n.ID] = ns
		return s.start(ctx, n, ns.Attempts+1)
	}
	ns.Phase, ns.Message, ns.FinishedAt = wfv1.NodeFailed, msg, ptr.To(s.now)
	s.st.Nodes[n.ID] = ns
	s.cacheRelease(ctx, n)
	return nil
}

// start creates the pod of a node's attempt and marks the node Running.
func (s *step) start(ctx context.Context, n *wfv1.TaskNode, attempt int32) error {
	ns := s.st.Nodes[n.ID]
	inputs, err := resolveInputs(s.wf, n, s.st.Nodes)
	if err != nil {
		// Running again would resolve the same way.
		ns.Phase, ns.Message, ns.FinishedAt = wfv1.NodeFailed, err.Error(), ptr.To(s.now)
		s.st.Nodes[n.ID] = ns
		return nil
	}
	if attempt == 1 && !s.cacheAllows(ctx, n, inputs) {
		return nil // a cache hit, or waiting for another run of the same key
	}
	pod, err := buildPod(s.wf, n, attempt, inputs, s.r.Scheme)
	if err != nil {
		return err
	}
	if _, exists := s.pods[pod.Name]; !exists {
		err := s.r.Client.Create(ctx, pod)
		switch {
		case err == nil, apierrors.IsAlreadyExists(err):
			// AlreadyExists: an earlier reconcile created it and did not
			// get to record it.
		case apierrors.IsInvalid(err):
			ns.Phase, ns.Attempts, ns.Message, ns.FinishedAt = wfv1.NodeFailed, attempt, fmt.Sprintf("pod %s refused: %v", pod.Name, err), ptr.To(s.now)
			s.st.Nodes[n.ID] = ns
			return nil
		default:
			return fmt.Errorf("create pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
	}
	ns.Phase, ns.Attempts, ns.PodName, ns.StartedAt, ns.FinishedAt, ns.Outputs = wfv1.NodeRunning, attempt, pod.Name, ptr.To(s.now), nil, nil
	s.st.Nodes[n.ID] = ns
	if n.Timeout != nil {
		s.requeueAfter(n.Timeout.Duration + time.Second)
	}
	return nil
}

// fail ends the workflow Failed: nodes still running are stopped (Aborted),
// nodes not started are Skipped.
func (s *step) fail(ctx context.Context, msg string) error {
	for _, n := range s.wf.Spec.Nodes {
		ns := s.st.Nodes[n.ID]
		switch ns.Phase {
		case wfv1.NodeRunning:
			if err := s.stopPod(ctx, ns.PodName); err != nil {
				return err
			}
			ns.Phase, ns.Message, ns.FinishedAt = wfv1.NodeAborted, "stopped: the workflow failed", ptr.To(s.now)
		case wfv1.NodePending:
			ns.Phase, ns.Message = wfv1.NodeSkipped, "skipped: the workflow failed"
		default:
			continue
		}
		s.st.Nodes[n.ID] = ns
	}
	s.finish(wfv1.WorkflowFailed, msg)
	return nil
}

// abort deletes the pods of running nodes and moves the workflow to
// Aborting; once every such pod is gone or terminating (its deletion seen
// on the API server, not just asked for), to Aborted. Running nodes end
// Aborted, nodes not started Skipped.
func (s *step) abort(ctx context.Context) error {
	if s.st.Phase != wfv1.WorkflowAborting {
		live := false
		for _, n := range s.wf.Spec.Nodes {
			if ns := s.st.Nodes[n.ID]; ns.Phase == wfv1.NodeRunning {
				if err := s.stopPod(ctx, ns.PodName); err != nil {
					return err
				}
				live = true
			}
		}
		if live {
			s.st.Phase, s.st.Message = wfv1.WorkflowAborting, "aborting: deleting task pods"
			s.requeueAfter(time.Second)
			return nil
		}
	} else {
		for _, n := range s.wf.Spec.Nodes {
			ns := s.st.Nodes[n.ID]
			if ns.Phase != wfv1.NodeRunning {
				continue
			}
			// The cache may not show the delete yet: ask the API server.
			delete(s.pods, ns.PodName)
			pod, err := s.pod(ctx, ns.PodName)
			if err != nil {
				return err
			}
			if pod != nil && pod.DeletionTimestamp.IsZero() {
				// A delete that was lost, or a cache still behind: ask again.
				if err := s.deletePod(ctx, pod); err != nil {
					return err
				}
				s.requeueAfter(time.Second)
				return nil
			}
		}
	}
	for _, n := range s.wf.Spec.Nodes {
		ns := s.st.Nodes[n.ID]
		switch ns.Phase {
		case wfv1.NodeRunning:
			ns.Phase, ns.Message, ns.FinishedAt = wfv1.NodeAborted, "aborted", ptr.To(s.now)
		case wfv1.NodePending:
			ns.Phase, ns.Message = wfv1.NodeSkipped, "skipped: the workflow was aborted"
		default:
			continue
		}
		s.st.Nodes[n.ID] = ns
	}
	s.finish(wfv1.WorkflowAborted, "aborted")
	return nil
}

// finish moves the workflow to a terminal phase.
func (s *step) finish(phase wfv1.WorkflowPhase, msg string) {
	s.st.Phase, s.st.Message, s.st.FinishedAt = phase, msg, ptr.To(s.now)
	meta.SetStatusCondition(&s.st.Conditions, metav1.Condition{
		Type:               wfv1.ConditionFinished,
		Status:             metav1.ConditionTrue,
		Reason:             string(phase),
		Message:            msg,
		ObservedGeneration: s.wf.Generation,
		LastTransitionTime: s.now,
	})
	s.result = ctrl.Result{}
}

// pod returns a pod of the workflow by name, or nil when it is gone. A pod
// missing from the cache is looked up on the API server: it may have been
// created a moment ago.
func (s *step) pod(ctx context.Context, name string) (*corev1.Pod, error) {
	if p, ok := s.pods[name]; ok {
		return p, nil
	}
	if name == "" {
		return nil, nil
	}
	var p corev1.Pod
	err := s.r.APIReader.Get(ctx, types.NamespacedName{Namespace: s.wf.Namespace, Name: name}, &p)
	switch {
	case err == nil:
		if !metav1.IsControlledBy(&p, s.wf) {
			return nil, nil
		}
		s.pods[name] = &p
		return &p, nil
	case apierrors.IsNotFound(err):
		return nil, nil
	default:
		return nil, fmt.Errorf("get pod %s/%s: %w", s.wf.Namespace, name, err)
	}
}

// stopPod deletes a pod by name unless it is already gone or going.
func (s *step) stopPod(ctx context.Context, name string) error {
	pod, err := s.pod(ctx, name)
	if err != nil || pod == nil || !pod.DeletionTimestamp.IsZero() {
		return err
	}
	return s.deletePod(ctx, pod)
}

func (s *step) deletePod(ctx context.Context, pod *corev1.Pod) error {
	err := s.r.Client.Delete(ctx, pod, client.Preconditions{UID: &pod.UID})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

func (s *step) requeueAfter(d time.Duration) {
	if s.result.RequeueAfter == 0 || d < s.result.RequeueAfter {
		s.result.RequeueAfter = d
	}
}
