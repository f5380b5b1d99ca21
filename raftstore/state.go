package raftstore

import (
	"cmp"
	"context"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// State is the federation state held by the FSM. Commands change it only
// through the FSM; its read methods are safe for concurrent use and return
// copies that the caller owns.
type State struct {
	mu sync.RWMutex

	// execs maps key string to the current version of an execution. A
	// stored version is never mutated: a change stores a new one.
	execs map[string]*v1.Execution
	// seq is the last sequence number handed to a submission.
	seq uint64

	// Indexes over execs, all ordered by key string except the queue.
	all     *sortedSet[string]
	byPhase map[v1.ExecutionPhase]*sortedSet[string]
	// projects counts executions by project. A project's keys need no
	// index of their own: they are one range of all, since a key string
	// starts with "<project>/" (projectKeys).
	projects map[string]int
	// byCluster holds executions whose Cluster field names the cluster, in
	// any phase (the ones that ran there).
	byCluster map[string]*sortedSet[string]
	// live holds executions that occupy a cluster (Assigned, Running,
	// Aborting); it is what the cluster's agent must hold.
	live map[string]*sortedSet[string]
	// queue holds Queued executions by tier rank, then sequence.
	queue *sortedSet[queueItem]
	// assignedByTime holds Assigned executions by assignment time
	// (state_starts.go).
	assignedByTime *sortedSet[assignedItem]
	// inputs shares equal input maps among executions (state_inputs.go).
	inputs inputTable
	// agg holds the running sums placement reads (state_aggregates.go).
	agg aggregates

	// clusters maps name to the current version of a cluster; like
	// executions, stored versions are never mutated.
	clusters map[string]*v1.Cluster
	// revisions is each cluster's assignment revision; revCounter is the
	// global counter they are drawn from, so a revision never goes back,
	// not even across a remove and re-register.
	revisions  map[string]uint64
	revCounter uint64

	// members maps Raft server ID to HTTP address.
	members map[string]string
	// cache is the task cache (state_cache.go).
	cache cacheState
	// arch holds executions past retention (state_archive.go).
	arch archiveStore
	// applied is the last log index the state reflects.
	applied uint64

	// Set while applying a log entry, under mu.
	dirty  bool
	bumped map[string]struct{}

	// wmu guards the waiter channels. It nests inside mu, so a reader that
	// holds mu.RLock while registering cannot miss a wake-up.
	wmu            sync.Mutex
	clusterWaiters map[string]chan struct{}
	appliedWaiter  chan struct{}

	// starts is the feed of start events (state_starts.go); derived and
	// local, it survives restores.
	starts startFeed

	subMu   sync.Mutex
	subs    map[uint64]chan struct{}
	nextSub uint64
}

// queueItem orders the queue: tier rank first, then submission sequence.
type queueItem struct {
	rank int
	seq  uint64
	key  string
}

func compareQueueItems(a, b queueItem) int {
	if c := cmp.Compare(a.rank, b.rank); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

// NewState returns an empty state.
func NewState() *State {
	s := &State{
		clusterWaiters: map[string]chan struct{}{},
		subs:           map[uint64]chan struct{}{},
		bumped:         map[string]struct{}{},
	}
	s.reset()
	return s
}

// reset empties the replicated part of the state. Callers hold mu.
func (s *State) reset() {
	s.execs = map[string]*v1.Execution{}
	s.seq = 0
	s.all = newSortedSet(strings.Compare)
	s.byPhase = map[v1.ExecutionPhase]*sortedSet[string]{}
	s.projects = map[string]int{}
	s.byCluster = map[string]*sortedSet[string]{}
	s.live = map[string]*sortedSet[string]{}
	s.queue = newSortedSet(compareQueueItems)
	s.inputs = newInputTable()
	s.assignedByTime = newSortedSet(compareAssigned)
	s.agg = newAggregates()
	s.clusters = map[string]*v1.Cluster{}
	s.revisions = map[string]uint64{}
	s.revCounter = 0
	s.members = map[string]string{}
	s.cache = newCacheState()
	s.arch = newMemArchive()
	s.applied = 0
}

// Execution returns a copy of the execution with the given key, from the
// archive (state_archive.go) when it is no longer in the hot state.
func (s *State) Execution(key v1.ExecutionKey) (v1.Execution, bool) {
	s.mu.RLock()
	e, ok := s.execs[key.String()]
	if !ok {
		a, archived := s.archivedLocked(key.String())
		s.mu.RUnlock()
		if !archived {
			return v1.Execution{}, false
		}
		return *a, true // freshly decoded: the caller owns it
	}
	s.mu.RUnlock()
	return *cloneExecution(e), true
}

// ExecutionFilter selects executions; empty fields match everything.
type ExecutionFilter struct {
	Project string
	Domain  string
	Cluster string
	Phase   v1.ExecutionPhase
	Tier    v1.Tier
}

func (f *ExecutionFilter) matches(e *v1.Execution) bool {
	return (f.Project == "" || e.Project == f.Project) &&
		(f.Domain == "" || e.Domain == f.Domain) &&
		(f.Cluster == "" || e.Cluster == f.Cluster) &&
		(f.Phase == "" || e.Phase == f.Phase) &&
		(f.Tier == "" || e.Tier == f.Tier)
}

// ListExecutions returns up to limit executions that match f, ordered by key
// string, starting after the continue token `after` ("" = from the start).
// next is the token for the following page, "" when there is none. A limit
// of zero or less means no limit. It walks the smallest index that the
// filter allows (phase, cluster or project), so listing a small subset of a
// large state does not scan everything.
func (s *State) ListExecutions(f ExecutionFilter, limit int, after string) (items []v1.Execution, next string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	idx, ok := s.indexFor(f)
	if !ok {
		return nil, ""
	}
	idx.Ascend(after, after != "", func(k string) bool {
		e := s.execs[k]
		if !f.matches(e) {
			return true
		}
		if limit > 0 && len(items) == limit {
			// One more match exists: the page is not the last.
			next = items[len(items)-1].Key().String()
			return false
		}
		items = append(items, *cloneExecution(e))
		return true
	})
	return items, next
}

// Cluster returns a copy of the named cluster.
func (s *State) Cluster(name string) (v1.Cluster, bool) {
	s.mu.RLock()
	c, ok := s.clusters[name]
	s.mu.RUnlock()
	if !ok {
		return v1.Cluster{}, false
	}
	return *cloneCluster(c), true
}

// Clusters returns copies of every cluster, sorted by name.
func (s *State) Clusters() []v1.Cluster {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]v1.Cluster, 0, len(s.clusters))
	for _, c := range s.clusters {
		out = append(out, *cloneCluster(c))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Assignments returns what the named cluster should hold: its executions in
// Assigned, Running or Aborting, ordered by key, each with the nodes that
// already succeeded (to resume from), and the cluster's revision.
func (s *State) Assignments(cluster string) v1.AssignmentList {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.assignmentsLocked(cluster)
}

func (s *State) assignmentsLocked(cluster string) v1.AssignmentList {
	list := v1.AssignmentList{Items: []v1.Assignment{}, Revision: s.revisions[cluster]}
	s.live[cluster].Ascend("", false, func(k string) bool {
		e := s.execs[k]
		a := v1.Assignment{ExecutionSpec: cloneSpec(e.ExecutionSpec), Attempt: e.Attempt, Phase: e.Phase}
		for id, n := range e.Nodes {
			if n.Phase == v1.NodeSucceeded {
				if a.Resume == nil {
					a.Resume = map[string]v1.NodeStatus{}
				}
				n.Outputs = maps.Clone(n.Outputs)
				a.Resume[id] = n
			}
		}
		list.Items = append(list.Items, a)
		return true
	})
	return list
}

// WaitAssignments returns the cluster's assignments at once if its revision
// is past `after`; otherwise it waits until the cluster's set changes or ctx
// ends, and then returns the current list (with ctx's error in the latter
// case). The revision changes when an execution joins or leaves the set or
// is asked to abort, and when the cluster is registered or removed.
func (s *State) WaitAssignments(ctx context.Context, cluster string, after uint64) (v1.AssignmentList, error) {
	s.mu.RLock()
	if s.revisions[cluster] > after {
		defer s.mu.RUnlock()
		return s.assignmentsLocked(cluster), nil
	}
	s.wmu.Lock()
	ch, ok := s.clusterWaiters[cluster]
	if !ok {
		ch = make(chan struct{})
		s.clusterWaiters[cluster] = ch
	}
	s.wmu.Unlock()
	s.mu.RUnlock()

	var err error
	select {
	case <-ch:
	case <-ctx.Done():
		err = ctx.Err()
	}
	return s.Assignments(cluster), err
}

// Queued returns the queue: copies of the Queued executions, by tier rank
// and then by submission sequence.
func (s *State) Queued() []v1.Execution {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]v1.Execution, 0, s.queue.Len())
	s.queue.Ascend(queueItem{}, false, func(q queueItem) bool {
		out = append(out, *cloneExecution(s.execs[q.key]))
		return true
	})
	return out
}

// OnCluster returns copies of the executions that occupy the cluster
// (Assigned, Running, Aborting), ordered by key.
func (s *State) OnCluster(cluster string) []v1.Execution {
	s.mu.RLock()
	defer s.mu.RUnlock()
	set := s.live[cluster]
	out := make([]v1.Execution, 0, set.Len())
	set.Ascend("", false, func(k string) bool {
		out = append(out, *cloneExecution(s.execs[k]))
		return true
	})
	return out
}

// PhaseCounts returns how many executions are in each phase (every phase
// is present, zero included).
func (s *State) PhaseCounts() map[v1.ExecutionPhase]int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[v1.ExecutionPhase]int, len(v1.ExecutionPhases))
	for _, p := range v1.ExecutionPhases {
		out[p] = s.byPhase[p].Len()
	}
	return out
}

// Members returns a copy of the member metadata: Raft server ID to HTTP
// address.
func (s *State) Members() map[string]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return maps.Clone(s.members)
}

// AppliedIndex returns the last Raft log index the state reflects.
func (s *State) AppliedIndex() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.applied
}

// Changed subscribes to changes: the returned channel (buffered, one slot)
// gets a tick whenever an applied log entry changed anything, coalesced if
// the subscriber is behind; heartbeats tick it too, since capacity matters
// to the scheduler. Call the returned func to unsubscribe.
func (s *State) Changed() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	s.subMu.Lock()
	id := s.nextSub
	s.nextSub++
	s.subs[id] = ch
	s.subMu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			s.subMu.Lock()
			delete(s.subs, id)
			s.subMu.Unlock()
		})
	}
}

// waitApplied waits until the state reflects log index idx, ctx ends, or
// the timeout passes; it reports whether idx was reached.
func (s *State) waitApplied(ctx context.Context, idx uint64, timeout time.Duration) (bool, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.RLock()
		if s.applied >= idx {
			s.mu.RUnlock()
			return true, nil
		}
		s.wmu.Lock()
		if s.appliedWaiter == nil {
			s.appliedWaiter = make(chan struct{})
		}
		ch := s.appliedWaiter
		s.wmu.Unlock()
		s.mu.RUnlock()
		select {
		case <-ch:
		case <-timer.C:
			return false, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// observeIndex records that the log up to idx is reflected although no
// command was at idx (a configuration change or a barrier).
func (s *State) observeIndex(idx uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if idx > s.applied {
		s.applied = idx
		s.wakeLocked(false)
	}
}

// wakeLocked wakes the waiters after a change: applied-index waiters always,
// the assignment waiters of bumped clusters (all of them when everything
// changed, as on restore), and Changed subscribers if anything changed.
// Callers hold mu for writing.
func (s *State) wakeLocked(everything bool) {
	s.wmu.Lock()
	if s.appliedWaiter != nil {
		close(s.appliedWaiter)
		s.appliedWaiter = nil
	}
	for name, ch := range s.clusterWaiters {
		if _, ok := s.bumped[name]; ok || everything {
			close(ch)
			delete(s.clusterWaiters, name)
		}
	}
	s.wmu.Unlock()
	clear(s.bumped)
	if s.dirty || everything {
		s.dirty = false
		s.subMu.Lock()
		for _, ch := range s.subs {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
		s.subMu.Unlock()
	}
}
