package propeller

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	wfv1 "github.com/federation-dev/federation/api/workflow/v1alpha1"
)

// Cache is the federation-wide task cache as the loop consults it before
// the first pod of a node marked cache. clusteragent.Cache implements it.
// Any error means "run the node": a workflow never blocks on the cache.
type Cache interface {
	Lookup(ctx context.Context, key, project string, claimant v1.CacheOwner) (v1.CacheLookupResponse, error)
	Put(ctx context.Context, key, project string, owner v1.CacheOwner, outputs map[string]string) error
	Release(ctx context.Context, key, project string, owner v1.CacheOwner) error
}

// DefaultCacheMaxWait bounds waiting for another run's claim when the
// reconciler names no CacheMaxWait.
const DefaultCacheMaxWait = 10 * time.Minute

// defaultCacheRetry is how soon a waiting node asks again when the control
// plane does not say.
const defaultCacheRetry = 2 * time.Second

// cacheWaitKey names a node waiting for another run's claim.
type cacheWaitKey struct {
	wf   types.NamespacedName
	node string
}

// cacheKeyOf is the node's cache key for these resolved inputs: the same
// function the simulation and the control plane use.
func cacheKeyOf(n *wfv1.TaskNode, inputs map[string]string) string {
	return v1.CacheKey(v1.TaskNode{
		ID: n.ID, Image: n.Image, Command: n.Command, Args: n.Args, Env: n.Env,
		Cache: &v1.CacheSpec{Version: n.Cache.Version},
	}, inputs)
}

func (s *step) cacheOwner(n *wfv1.TaskNode) v1.CacheOwner {
	e := s.wf.Spec.Execution
	return v1.CacheOwner{Execution: v1.ExecutionKey{Project: e.Project, Domain: e.Domain, Name: e.Name}, Attempt: int(s.wf.Spec.Attempt), Node: n.ID}
}

// cacheAllows looks a ready node's key up before its first pod. A hit
// ends the node Succeeded (cached) with the stored outputs; a wait leaves
// it Pending, with nothing written, and looks again later; a claim, a miss,
// an error or a wait past CacheMaxWait lets the pod start.
func (s *step) cacheAllows(ctx context.Context, n *wfv1.TaskNode, inputs map[string]string) bool {
	r := s.r
	if r.Cache == nil || n.Cache == nil {
		return true
	}
	if _, exists := s.pods[PodName(s.wf.Name, n.ID, 1)]; exists {
		return true // an earlier reconcile decided to run it
	}
	wk := cacheWaitKey{types.NamespacedName{Namespace: s.wf.Namespace, Name: s.wf.Name}, n.ID}
	resp, err := r.Cache.Lookup(ctx, cacheKeyOf(n, inputs), s.wf.Spec.Execution.Project, s.cacheOwner(n))
	if err != nil {
		r.log().Warn("task cache lookup failed; running the node", "workflow", wk.wf, "node", n.ID, "err", err)
		r.cacheWaitDone(wk)
		return true
	}
	switch resp.Result {
	case v1.CacheHit:
		r.cacheWaitDone(wk)
		ns := s.st.Nodes[n.ID]
		ns.Phase, ns.Outputs, ns.Cached, ns.Message, ns.FinishedAt = wfv1.NodeSucceeded, resp.Outputs, true, "outputs from the task cache", ptr.To(s.now)
		s.st.Nodes[n.ID] = ns
		return false
	case v1.CacheWait:
		maxWait := r.CacheMaxWait
		if maxWait <= 0 {
			maxWait = DefaultCacheMaxWait
		}
		if s.now.Sub(r.cacheWaitSince(wk, s.now.Time)) >= maxWait {
			r.cacheWaitDone(wk)
			return true
		}
		retry := resp.RetryAfter.Duration
		if retry <= 0 {
			retry = defaultCacheRetry
		}
		s.requeueAfter(retry)
		return false
	}
	r.cacheWaitDone(wk)
	return true
}

// cachePut stores the outputs of a cached node that just succeeded on its
// own pod. A failure is only logged: the next run of the key computes it.
func (s *step) cachePut(ctx context.Context, n *wfv1.TaskNode, outputs map[string]string) {
	if s.r.Cache == nil || n.Cache == nil {
		return
	}
	inputs, err := resolveInputs(s.wf, n, s.st.Nodes)
	if err != nil {
		return // it resolved when the node started; upstream status does not change
	}
	if err := s.r.Cache.Put(ctx, cacheKeyOf(n, inputs), s.wf.Spec.Execution.Project, s.cacheOwner(n), outputs); err != nil {
		s.r.log().Warn("task cache put failed", "workflow", s.wf.Name, "node", n.ID, "err", err)
	}
}

// cacheRelease gives up the claim of a cached node that failed for good,
// so that runs waiting for it elsewhere start at once.
func (s *step) cacheRelease(ctx context.Context, n *wfv1.TaskNode) {
	if s.r.Cache == nil || n.Cache == nil {
		return
	}
	inputs, err := resolveInputs(s.wf, n, s.st.Nodes)
	if err != nil {
		return
	}
	if err := s.r.Cache.Release(ctx, cacheKeyOf(n, inputs), s.wf.Spec.Execution.Project, s.cacheOwner(n)); err != nil {
		s.r.log().Warn("task cache release failed", "workflow", s.wf.Name, "node", n.ID, "err", err)
	}
}

// cacheWaitSince returns when the node started waiting, recording now if
// it was not waiting. It lives in memory: a restarted agent waits anew.
func (r *WorkflowReconciler) cacheWaitSince(k cacheWaitKey, now time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cacheWaits == nil {
		r.cacheWaits = map[cacheWaitKey]time.Time{}
	}
	if t, ok := r.cacheWaits[k]; ok {
		return t
	}
	r.cacheWaits[k] = now
	return now
}

func (r *WorkflowReconciler) cacheWaitDone(k cacheWaitKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.cacheWaits, k)
}
