package propeller

import (
	"context"
	"errors"
	"maps"
	"sync"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	wfv1 "github.com/federation-dev/federation/api/workflow/v1alpha1"
	"github.com/federation-dev/federation/clusteragent/propeller/kubetest"
)

// fakeCache is an in-memory task cache with the control plane's claim
// semantics, recording what the loop asked.
type fakeCache struct {
	mu       sync.Mutex
	entries  map[string]map[string]string
	claims   map[string]v1.CacheOwner
	lookups  int
	puts     []v1.CacheOwner
	released []v1.CacheOwner
	err      error
}

func newFakeCache() *fakeCache {
	return &fakeCache{entries: map[string]map[string]string{}, claims: map[string]v1.CacheOwner{}}
}

func (c *fakeCache) Lookup(_ context.Context, key, project string, claimant v1.CacheOwner) (v1.CacheLookupResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lookups++
	if c.err != nil {
		return v1.CacheLookupResponse{}, c.err
	}
	id := project + "/" + key
	if out, ok := c.entries[id]; ok {
		return v1.CacheLookupResponse{Result: v1.CacheHit, Outputs: maps.Clone(out)}, nil
	}
	if o, ok := c.claims[id]; ok && o != claimant {
		return v1.CacheLookupResponse{Result: v1.CacheWait, Owner: &o, RetryAfter: v1.Duration{Duration: 200 * time.Millisecond}}, nil
	}
	c.claims[id] = claimant
	return v1.CacheLookupResponse{Result: v1.CacheClaimed, Owner: &claimant}, nil
}

func (c *fakeCache) Put(_ context.Context, key, project string, owner v1.CacheOwner, outputs map[string]string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := project + "/" + key
	if _, ok := c.entries[id]; !ok {
		c.entries[id] = maps.Clone(outputs)
	}
	delete(c.claims, id)
	c.puts = append(c.puts, owner)
	return nil
}

func (c *fakeCache) Release(_ context.Context, key, project string, owner v1.CacheOwner) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if id := project + "/" + key; c.claims[id] == owner {
		delete(c.claims, id)
	}
	c.released = append(c.released, owner)
	return nil
}

func newCachedHarness(t *testing.T, c Cache) *harness {
	t.Helper()
	env := kubetest.Shared(t)
	h := &harness{t: t, env: env, ns: env.Namespace(t), cache: c}
	h.start()
	return h
}

// cachedChain is a (cached, reads the workflow input "date") → b (not
// cached, reads a's output "rows").
func cachedChain(name string) *wfv1.Workflow {
	a := node("a")
	a.Cache = &wfv1.CacheSpec{Version: "v3"}
	a.Inputs = map[string]wfv1.Binding{"date": {FromInput: "date"}}
	b := node("b", "a")
	b.Inputs = map[string]wfv1.Binding{"rows": {FromNode: "a", Output: "rows"}}
	wf := workflow(name, a, b)
	wf.Spec.Inputs = map[string]string{"date": "2026-11-24"}
	return wf
}

// keyOfA is node a's key as any agent computes it.
func keyOfA() string {
	return v1.CacheKey(v1.TaskNode{ID: "a", Image: "busybox", Cache: &v1.CacheSpec{Version: "v3"}}, map[string]string{"date": "2026-11-24"})
}

func TestCacheHitStartsNoPod(t *testing.T) {
	c := newFakeCache()
	c.entries["p/"+keyOfA()] = map[string]string{"rows": "42"}
	h := newCachedHarness(t, c)
	h.create(cachedChain("hit"))
	pb := h.env.WaitPod(t, h.ns, "hit-b-1")
	if got := envOf(*pb); got["FED_INPUT_ROWS"] != "42" {
		t.Errorf("pod b env %v, want the cached rows", got)
	}
	if _, ok := h.pods()["hit-a-1"]; ok {
		t.Fatal("a pod was created for a cache hit")
	}
	h.succeed("hit-b-1", `{}`)
	wf := h.waitPhase("hit", wfv1.WorkflowSucceeded)
	if a := wf.Status.Nodes["a"]; !a.Cached || a.Outputs["rows"] != "42" || a.PodName != "" {
		t.Fatalf("node a %+v, want cached with the stored outputs", a)
	}
}

func TestCacheClaimRunsThePodAndPutsItsOutputs(t *testing.T) {
	c := newFakeCache()
	h := newCachedHarness(t, c)
	h.create(cachedChain("claim"))
	h.succeed(h.env.WaitPod(t, h.ns, "claim-a-1").Name, `{"rows":"7"}`)
	h.succeed(h.env.WaitPod(t, h.ns, "claim-b-1").Name, `{}`)
	h.waitPhase("claim", wfv1.WorkflowSucceeded)
	c.mu.Lock()
	defer c.mu.Unlock()
	if got := c.entries["p/"+keyOfA()]; got["rows"] != "7" {
		t.Fatalf("stored %v, want a's outputs", got)
	}
	if len(c.puts) == 0 || c.puts[0].Node != "a" || c.puts[0].Execution.Name != "claim" || c.puts[0].Attempt != 1 {
		t.Fatalf("puts %+v", c.puts)
	}
}

// TestCacheWaitWritesNothing: while another run holds the key the node
// stays Pending with no pod and no writes; once that run put its outputs,
// the node ends from the cache.
func TestCacheWaitWritesNothing(t *testing.T) {
	c := newFakeCache()
	c.claims["p/"+keyOfA()] = v1.CacheOwner{Execution: v1.ExecutionKey{Project: "p", Domain: "d", Name: "elsewhere"}, Attempt: 1, Node: "a", Cluster: "west"}
	h := newCachedHarness(t, c)
	h.create(cachedChain("wait"))
	h.settle()
	before := h.writes.Writes()
	time.Sleep(time.Second) // several lookups, each told to wait
	if got := h.writes.Writes(); got != before {
		t.Fatalf("%d writes while waiting, want none", got-before)
	}
	if len(h.pods()) != 0 {
		t.Fatal("a pod started while another run holds the key")
	}
	if err := c.Put(context.Background(), keyOfA(), "p", v1.CacheOwner{}, map[string]string{"rows": "9"}); err != nil {
		t.Fatal(err)
	}
	h.succeed(h.env.WaitPod(t, h.ns, "wait-b-1").Name, `{}`)
	if a := h.waitPhase("wait", wfv1.WorkflowSucceeded).Status.Nodes["a"]; !a.Cached || a.Outputs["rows"] != "9" {
		t.Fatalf("node a %+v", a)
	}
}

func TestCacheTroubleRunsThePod(t *testing.T) {
	c := newFakeCache()
	c.err = errors.New("control plane away")
	h := newCachedHarness(t, c)
	h.create(cachedChain("away"))
	h.fail(h.env.WaitPod(t, h.ns, "away-a-1").Name)
	h.waitPhase("away", wfv1.WorkflowFailed)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.released) != 1 || c.released[0].Node != "a" {
		t.Fatalf("released %+v, want a's claim released after its final failure", c.released)
	}
}
