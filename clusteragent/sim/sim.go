package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/clusteragent"
)

// DefaultTaskDuration is how long a node runs when Options leave it zero.
const DefaultTaskDuration = 2 * time.Second

// fakeClockPoll is how often Run steps a simulation whose clock was injected:
// it cannot sleep until a time of a clock it does not drive.
const fakeClockPoll = 10 * time.Millisecond

// Options configure a simulated cluster.
type Options struct {
	// Capacity is the cluster's allocatable resources. It must hold at
	// least one pod.
	Capacity v1.Amounts
	// TaskDuration is how long every node runs; zero means
	// DefaultTaskDuration.
	TaskDuration time.Duration
	// FailRate is the probability, 0 to 1, that one run of a node fails.
	FailRate float64
	// Seed seeds the failure draws, so that a run can be replayed.
	Seed int64
	// Clock replaces time.Now, for tests that drive Step themselves.
	Clock func() time.Time
	// Logger receives workflow transitions; nil discards them.
	Logger *slog.Logger
	// Cache, if set, is consulted before running a node marked cache
	// (cache.go); CacheMaxWait bounds waiting for another run's claim
	// (zero: clusteragent.DefaultCacheMaxWait). Lookups need Run.
	Cache        clusteragent.Cache
	CacheMaxWait time.Duration
}

// Backend is a simulated member cluster. It implements clusteragent.Backend.
type Backend struct {
	opts    Options
	clock   func() time.Time
	log     *slog.Logger
	changes chan struct{}
	wake    chan struct{}

	mu        sync.Mutex
	rng       *rand.Rand
	workflows map[wfID]*workflow
	live      []*workflow // not terminal, in start order: scheduling is FIFO with backfill
	used      v1.Amounts
	seq       uint64
	cache     simCache
	// runs counts node runs started, cacheHits nodes ended from the cache.
	runs, cacheHits int
}

var _ clusteragent.Backend = (*Backend)(nil)

// wfID identifies a workflow copy: an execution's key and attempt.
type wfID struct {
	key     v1.ExecutionKey
	attempt int
}

// New returns a simulated cluster. It runs nothing until Run (or, with an
// injected clock, Step) is called.
func New(opts Options) (*Backend, error) {
	if opts.Capacity.MilliCPU < 0 || opts.Capacity.MemoryBytes < 0 || opts.Capacity.GPU < 0 || opts.Capacity.Pods < 0 {
		return nil, fmt.Errorf("sim capacity %+v: must not be negative", opts.Capacity)
	}
	if opts.Capacity.Pods < 1 {
		return nil, errors.New("sim capacity has no pods: no task could ever run (set pods=N)")
	}
	if opts.TaskDuration < 0 {
		return nil, fmt.Errorf("sim task duration %s: must not be negative", opts.TaskDuration)
	}
	if opts.TaskDuration == 0 {
		opts.TaskDuration = DefaultTaskDuration
	}
	if opts.FailRate < 0 || opts.FailRate > 1 {
		return nil, fmt.Errorf("sim fail rate %v: want 0 to 1", opts.FailRate)
	}
	b := &Backend{
		opts:      opts,
		clock:     opts.Clock,
		log:       opts.Logger,
		changes:   make(chan struct{}, 1),
		wake:      make(chan struct{}, 1),
		rng:       rand.New(rand.NewPCG(uint64(opts.Seed), uint64(opts.Seed)^0x9e3779b97f4a7c15)),
		workflows: map[wfID]*workflow{},
	}
	if b.clock == nil {
		b.clock = time.Now
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	return b, nil
}

// Run advances the simulation until ctx ends: it steps whenever a workflow
// starts or aborts and whenever a running node is due to end.
func (b *Backend) Run(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	defer b.cache.wg.Wait()
	for {
		next := b.Step()
		b.dispatchCache(ctx)
		wait := time.Hour
		switch {
		case b.opts.Clock != nil:
			wait = fakeClockPoll
		case !next.IsZero():
			wait = max(next.Sub(b.clock()), 0)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-b.wake:
		case <-timer.C:
		}
	}
}

// Step ends the nodes whose time is up, starts the nodes that are ready and
// fit, and settles finished workflows, all at the clock's current time. It
// returns when the next running node ends (zero when none runs). Run calls
// it; tests with an injected clock call it directly.
func (b *Backend) Step() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock()
	changed := false
	for _, w := range b.live {
		if b.finishDue(w, now) {
			changed = true
		}
	}
	var next time.Time
	kept := b.live[:0]
	for _, w := range b.live {
		if b.schedule(w, now) {
			changed = true
		}
		if w.phase.Terminal() {
			b.log.Info("sim workflow finished", "execution", w.id.key.String(), "attempt", w.id.attempt, "phase", w.phase)
			continue
		}
		kept = append(kept, w)
		for _, n := range w.order {
			if n.status.Phase == v1.NodeRunning && (next.IsZero() || n.end.Before(next)) {
				next = n.end
			}
		}
	}
	clear(b.live[len(kept):])
	b.live = kept
	if changed {
		b.notify()
	}
	return next
}

// Start runs an assignment; a workflow that exists for its key and attempt
// is left as it is. Nodes named in a.Resume are Succeeded at once.
func (b *Backend) Start(_ context.Context, a v1.Assignment) error {
	id := wfID{a.Key(), a.Attempt}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.workflows[id]; ok {
		return nil
	}
	b.seq++
	w := newWorkflow(id, b.seq, a)
	b.workflows[id] = w
	if !w.phase.Terminal() {
		b.live = append(b.live, w)
	}
	b.log.Info("sim workflow started", "execution", id.key.String(), "attempt", id.attempt, "nodes", len(w.order), "resumed", len(a.Resume))
	b.notify()
	b.kick()
	return nil
}

// Abort stops a workflow's running nodes, skips its pending ones and moves
// it to Aborted. Aborting an unknown or finished workflow does nothing.
func (b *Backend) Abort(_ context.Context, key v1.ExecutionKey, attempt int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	w, ok := b.workflows[wfID{key, attempt}]
	if !ok || w.phase.Terminal() {
		return nil
	}
	for _, n := range w.order {
		switch n.status.Phase {
		case v1.NodeRunning:
			b.release(n)
			end := b.clock()
			n.status.Phase, n.status.Message, n.status.FinishedAt = v1.NodeAborted, "aborted", &end
		case v1.NodePending:
			n.status.Phase, n.status.Message = v1.NodeSkipped, "workflow aborted"
		}
	}
	w.phase, w.message = v1.PhaseAborted, "aborted"
	b.cacheForget(w)
	b.dropLive(w)
	b.log.Info("sim workflow aborted", "execution", key.String(), "attempt", attempt)
	b.notify()
	b.kick()
	return nil
}

// Delete forgets a workflow, freeing what its running nodes held.
func (b *Backend) Delete(_ context.Context, key v1.ExecutionKey, attempt int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	id := wfID{key, attempt}
	w, ok := b.workflows[id]
	if !ok {
		return nil
	}
	for _, n := range w.order {
		if n.status.Phase == v1.NodeRunning {
			b.release(n)
		}
	}
	delete(b.workflows, id)
	b.cacheForget(w)
	b.dropLive(w)
	b.notify()
	b.kick()
	return nil
}

// List returns every workflow, ordered by key and attempt.
func (b *Backend) List(_ context.Context) ([]clusteragent.WorkflowState, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]clusteragent.WorkflowState, 0, len(b.workflows))
	for _, w := range b.workflows {
		out = append(out, w.state())
	}
	slices.SortFunc(out, func(x, y clusteragent.WorkflowState) int {
		if c := strings.Compare(x.Key.String(), y.Key.String()); c != 0 {
			return c
		}
		return x.Attempt - y.Attempt
	})
	return out, nil
}

// Capacity returns the configured capacity and what running nodes leave
// free of it.
func (b *Backend) Capacity(_ context.Context) (v1.Capacity, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return v1.Capacity{
		Allocatable:      b.opts.Capacity,
		Free:             b.opts.Capacity.Sub(b.used),
		RunningWorkflows: len(b.live),
	}, nil
}

// Changes ticks (coalesced) whenever a workflow's state changes.
func (b *Backend) Changes() <-chan struct{} { return b.changes }

func (b *Backend) notify() {
	select {
	case b.changes <- struct{}{}:
	default:
	}
}

// kick makes Run step now instead of at the next node's end.
func (b *Backend) kick() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

func (b *Backend) release(n *node) {
	b.used = b.used.Sub(n.req)
}

func (b *Backend) dropLive(w *workflow) {
	if i := slices.Index(b.live, w); i >= 0 {
		b.live = slices.Delete(b.live, i, i+1)
	}
}
