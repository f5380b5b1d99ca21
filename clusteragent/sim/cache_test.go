package sim

import (
	"context"
	"errors"
	"maps"
	"sync"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// memCache is an in-memory task cache with the control plane's claim
// semantics, for unit tests of the backend's side.
type memCache struct {
	mu       sync.Mutex
	entries  map[string]map[string]string
	claims   map[string]v1.CacheOwner
	lookups  int
	released int
	// waits makes the first lookups of any key answer wait.
	waits int
	err   error
}

func newMemCache() *memCache {
	return &memCache{entries: map[string]map[string]string{}, claims: map[string]v1.CacheOwner{}}
}

func (c *memCache) Lookup(_ context.Context, key, project string, claimant v1.CacheOwner) (v1.CacheLookupResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lookups++
	if c.err != nil {
		return v1.CacheLookupResponse{}, c.err
	}
	if c.waits > 0 {
		c.waits--
		return v1.CacheLookupResponse{Result: v1.CacheWait, RetryAfter: v1.Duration{Duration: 10 * time.Millisecond}}, nil
	}
	id := project + "/" + key
	if out, ok := c.entries[id]; ok {
		return v1.CacheLookupResponse{Result: v1.CacheHit, Outputs: maps.Clone(out)}, nil
	}
	if o, ok := c.claims[id]; ok && o != claimant {
		return v1.CacheLookupResponse{Result: v1.CacheWait, Owner: &o, RetryAfter: v1.Duration{Duration: 10 * time.Millisecond}}, nil
	}
	c.claims[id] = claimant
	return v1.CacheLookupResponse{Result: v1.CacheClaimed, Owner: &claimant}, nil
}

func (c *memCache) Put(_ context.Context, key, project string, _ v1.CacheOwner, outputs map[string]string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	id := project + "/" + key
	if _, ok := c.entries[id]; !ok {
		c.entries[id] = maps.Clone(outputs)
	}
	delete(c.claims, id)
	return nil
}

func (c *memCache) Release(_ context.Context, key, project string, owner v1.CacheOwner) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := project + "/" + key
	if c.claims[id] == owner {
		delete(c.claims, id)
		c.released++
	}
	return nil
}

func (c *memCache) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// runSim runs a simulation with a real clock and short tasks until the test ends.
func runSim(t *testing.T, opts Options) *Backend {
	t.Helper()
	if opts.Capacity.Pods == 0 {
		opts.Capacity = v1.Amounts{MilliCPU: 8000, MemoryBytes: 8 << 30, Pods: 20}
	}
	if opts.TaskDuration == 0 {
		opts.TaskDuration = 20 * time.Millisecond
	}
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sim backend run: %v", err)
		}
	})
	return b
}

// finish starts a and waits until it ends; it returns its final phase and
// node phases.
func finish(t *testing.T, b *Backend, a v1.Assignment) (v1.ExecutionPhase, map[string]v1.NodeStatus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Start(ctx, a); err != nil {
		t.Fatal(err)
	}
	for {
		if w := get(t, b, a.Name, a.Attempt); w.Phase.Terminal() {
			return w.Phase, w.Nodes
		}
		select {
		case <-b.Changes():
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			t.Fatalf("workflow %s did not finish in time", a.Name)
		}
	}
}

// cachedChain is a→b, both cached; a reads the workflow input "date", b
// reads a's output.
func cachedChain(name, date, version string) v1.Assignment {
	a := task("a")
	a.Cache = &v1.CacheSpec{Version: version}
	a.Inputs = map[string]v1.Binding{"date": {FromInput: "date"}}
	b := task("b", "a")
	b.Cache = &v1.CacheSpec{Version: version}
	b.Inputs = map[string]v1.Binding{"data": {FromNode: "a", Output: OutputPath}}
	asg := assignment(name, 1, a, b)
	asg.Inputs = map[string]string{"date": date}
	return asg
}

func TestCachedNodesRunOnceForTheSameInputs(t *testing.T) {
	c := newMemCache()
	b := runSim(t, Options{Cache: c})
	phase, first := finish(t, b, cachedChain("first", "2026-11-24", "v1"))
	if phase != v1.PhaseSucceeded {
		t.Fatalf("first run: %s", phase)
	}
	waitFor(t, "both outputs put", func() bool { return c.size() == 2 })
	if runs, hits := b.NodeRuns(); runs != 2 || hits != 0 {
		t.Fatalf("first run: %d runs, %d hits; want 2, 0", runs, hits)
	}

	tests := []struct {
		name           string
		asg            v1.Assignment
		runs, hits     int
		sameAsFirstRun bool
	}{
		{"same inputs and version: every node from the cache", cachedChain("again", "2026-11-24", "v1"), 0, 2, true},
		{"another input: every node runs", cachedChain("other-date", "2026-11-25", "v1"), 2, 0, false},
		{"another cache version: every node runs", cachedChain("v2", "2026-11-24", "v2"), 2, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runs0, hits0 := b.NodeRuns()
			phase, nodes := finish(t, b, tc.asg)
			if phase != v1.PhaseSucceeded {
				t.Fatalf("phase %s", phase)
			}
			runs, hits := b.NodeRuns()
			if runs-runs0 != tc.runs || hits-hits0 != tc.hits {
				t.Fatalf("%d runs, %d hits; want %d, %d", runs-runs0, hits-hits0, tc.runs, tc.hits)
			}
			for id, n := range nodes {
				if n.Cached != tc.sameAsFirstRun {
					t.Errorf("node %s cached=%v", id, n.Cached)
				}
				if tc.sameAsFirstRun && !maps.Equal(n.Outputs, first[id].Outputs) {
					t.Errorf("node %s outputs %v, want the first run's %v", id, n.Outputs, first[id].Outputs)
				}
			}
		})
	}
}

func TestCacheTroubleRunsTheNode(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*memCache)
		opts  Options
	}{
		{"lookup fails", func(c *memCache) { c.err = errors.New("control plane away") }, Options{}},
		{"claim held past the wait limit", func(c *memCache) { c.waits = 1 << 30 }, Options{CacheMaxWait: 50 * time.Millisecond}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newMemCache()
			tc.setup(c)
			tc.opts.Cache = c
			b := runSim(t, tc.opts)
			if phase, _ := finish(t, b, cachedChain("x", "d", "v1")); phase != v1.PhaseSucceeded {
				t.Fatalf("phase %s", phase)
			}
			if runs, _ := b.NodeRuns(); runs != 2 {
				t.Fatalf("%d runs, want 2", runs)
			}
		})
	}
}

func TestCacheWaitsForTheClaimThenHits(t *testing.T) {
	c := newMemCache()
	c.waits = 3
	b := runSim(t, Options{Cache: c})
	first := cachedChain("first", "d", "v1")
	// Store a's outputs as a run elsewhere would, while this one waits.
	other := runSim(t, Options{Cache: newMemCache()})
	_, nodes := finish(t, other, first)
	key := v1.CacheKey(first.Workflow.Nodes[0], map[string]string{"date": "d"})
	if err := c.Put(context.Background(), key, "p", v1.CacheOwner{}, nodes["a"].Outputs); err != nil {
		t.Fatal(err)
	}
	if phase, _ := finish(t, b, cachedChain("second", "d", "v1")); phase != v1.PhaseSucceeded {
		t.Fatalf("phase %s", phase)
	}
	// a came from the cache after waiting; b ran (nothing stored for it).
	if runs, hits := b.NodeRuns(); runs != 1 || hits != 1 {
		t.Fatalf("%d runs, %d hits; want 1, 1", runs, hits)
	}
}

func TestFailedCachedNodeReleasesItsClaim(t *testing.T) {
	c := newMemCache()
	b := runSim(t, Options{Cache: c, FailRate: 1})
	if phase, _ := finish(t, b, cachedChain("x", "d", "v1")); phase != v1.PhaseFailed {
		t.Fatalf("phase %s", phase)
	}
	waitFor(t, "the claim released", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.released == 1 && len(c.claims) == 0
	})
	if c.size() != 0 {
		t.Fatal("a failed node's outputs were put")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
