package sim

import (
	"cmp"
	"context"
	"maps"
	"sync"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/clusteragent"
)

// The task cache in the simulation. A ready node marked cache does not
// start at once: its key is looked up first, off the simulation's lock, by
// a goroutine of Run. A hit ends the node Succeeded (cached) with the
// stored outputs and runs nothing; a claim, a wait that outlasted
// Options.CacheMaxWait or a failed lookup lets it run; its outputs are put
// when it succeeds, and its claim released when it fails for good.

// cacheStage is where a cached node is in its lookup.
type cacheStage int

const (
	cacheQueued   cacheStage = iota // waiting for Run to send the lookup
	cacheInFlight                   // the lookup is out
	cacheHit                        // outputs came back: end the node at the next step
	cacheRunning                    // run the node
)

// cacheRun is one cached node's dealings with the cache.
type cacheRun struct {
	key     string
	project string
	owner   v1.CacheOwner
	stage   cacheStage
	claimed bool
	outputs map[string]string
}

// cacheCall is a put or release for Run to send.
type cacheCall struct {
	run     *cacheRun
	outputs map[string]string // nil: release the claim
}

// simCache is the Backend's cache bookkeeping, guarded by Backend.mu.
type simCache struct {
	runs  map[*node]*cacheRun
	calls []cacheCall
	wg    sync.WaitGroup
}

// cacheGate decides whether a ready node may start now. It reports
// run=false while its lookup is pending, and ends a node whose lookup hit
// (changed=true). Callers hold b.mu.
func (b *Backend) cacheGate(w *workflow, n *node) (run, changed bool) {
	if b.opts.Cache == nil || n.spec.Cache == nil {
		return true, false
	}
	if b.cache.runs == nil {
		b.cache.runs = map[*node]*cacheRun{}
	}
	cr, ok := b.cache.runs[n]
	if !ok {
		cr = &cacheRun{
			key:     v1.CacheKey(n.spec, resolveInputs(w, n)),
			project: w.id.key.Project,
			owner:   v1.CacheOwner{Execution: w.id.key, Attempt: w.id.attempt, Node: n.spec.ID},
		}
		b.cache.runs[n] = cr
		b.kick()
		return false, false
	}
	switch cr.stage {
	case cacheHit:
		n.status.Phase, n.status.Message, n.status.Cached = v1.NodeSucceeded, "outputs from the task cache", true
		n.status.Outputs = cr.outputs
		b.cacheHits++
		delete(b.cache.runs, n)
		b.kick() // the workflow may be done: settle it at the next step
		return false, true
	case cacheRunning:
		return true, false
	}
	return false, false
}

// cacheDone records how a cached node ended: a success puts its outputs,
// a final failure releases its claim. Callers hold b.mu.
func (b *Backend) cacheDone(n *node) {
	cr, ok := b.cache.runs[n]
	if !ok || cr.stage != cacheRunning {
		return
	}
	switch n.status.Phase {
	case v1.NodeSucceeded:
		b.cache.calls = append(b.cache.calls, cacheCall{run: cr, outputs: maps.Clone(n.status.Outputs)})
	case v1.NodeFailed, v1.NodeAborted:
		if cr.claimed {
			b.cache.calls = append(b.cache.calls, cacheCall{run: cr})
		}
	default:
		return // a retry runs again under the same claim
	}
	delete(b.cache.runs, n)
	b.kick()
}

// cacheForget drops a workflow's cache bookkeeping, releasing the claims of
// nodes that will not finish. Callers hold b.mu.
func (b *Backend) cacheForget(w *workflow) {
	for _, n := range w.order {
		if cr, ok := b.cache.runs[n]; ok {
			if cr.claimed {
				b.cache.calls = append(b.cache.calls, cacheCall{run: cr})
				b.kick()
			}
			delete(b.cache.runs, n)
		}
	}
}

// dispatchCache sends the pending lookups, puts and releases, each on a
// goroutine that Run owns (it waits for them before it returns).
func (b *Backend) dispatchCache(ctx context.Context) {
	if b.opts.Cache == nil {
		return
	}
	b.mu.Lock()
	var lookups []*cacheRun
	for _, cr := range b.cache.runs {
		if cr.stage == cacheQueued {
			cr.stage = cacheInFlight
			lookups = append(lookups, cr)
		}
	}
	calls := b.cache.calls
	b.cache.calls = nil
	b.mu.Unlock()
	c := b.opts.Cache
	maxWait := cmp.Or(b.opts.CacheMaxWait, clusteragent.DefaultCacheMaxWait)
	for _, cr := range lookups {
		b.cache.wg.Go(func() {
			resp, err := clusteragent.AwaitCache(ctx, c, cr.key, cr.project, cr.owner, maxWait)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				b.log.Warn("task cache lookup failed; running the node", "execution", cr.owner.Execution.String(), "node", cr.owner.Node, "err", err)
			}
			b.mu.Lock()
			switch {
			case err == nil && resp.Result == v1.CacheHit:
				cr.stage, cr.outputs = cacheHit, maps.Clone(resp.Outputs)
			default:
				cr.stage, cr.claimed = cacheRunning, err == nil && resp.Result == v1.CacheClaimed
			}
			b.mu.Unlock()
			b.kick()
		})
	}
	for _, call := range calls {
		b.cache.wg.Go(func() {
			cr := call.run
			var err error
			if call.outputs != nil {
				err = c.Put(ctx, cr.key, cr.project, cr.owner, call.outputs)
			} else {
				err = c.Release(ctx, cr.key, cr.project, cr.owner)
			}
			if err != nil && ctx.Err() == nil {
				b.log.Warn("task cache update failed", "execution", cr.owner.Execution.String(), "node", cr.owner.Node, "err", err)
			}
		})
	}
}

// resolveInputs gives a ready node's input bindings their values, for its
// cache key. unrunnable has checked that every binding resolves.
func resolveInputs(w *workflow, n *node) map[string]string {
	out := make(map[string]string, len(n.spec.Inputs))
	for name, bind := range n.spec.Inputs {
		switch {
		case bind.Value != nil:
			out[name] = *bind.Value
		case bind.FromInput != "":
			out[name] = w.inputs[bind.FromInput]
		case bind.FromNode != "":
			out[name] = w.nodes[bind.FromNode].status.Outputs[bind.Output]
		}
	}
	return out
}

// NodeRuns returns how many node runs (pods, on a real cluster) the
// simulation started, retries included; CacheHits how many nodes it ended
// from the task cache instead.
func (b *Backend) NodeRuns() (runs, cacheHits int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.runs, b.cacheHits
}
