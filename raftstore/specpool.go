package raftstore

import (
	"hash/maphash"
	"maps"
	"slices"
	"sync"
	"unique"
	"unsafe"
	"weak"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// The hot state holds every live execution, up to millions of them, and
// most of an execution's memory is its spec. Yet executions repeat: a
// platform runs one workflow (a launch plan) thousands of times with other
// inputs and names, so their DAGs, selectors, images and projects are the
// same. shareSpec makes a decoded spec point at one copy of each such part.
//
// The pool holds its copies weakly: a DAG or selector that no stored
// execution uses any more is collected like any garbage, so the pool needs
// no reference counts and tracks nothing when executions are archived.
// Nothing here is replicated state: sharing changes no value, only where
// it lives, so replicas may share differently and still agree. What the
// pool hands out is immutable, as every stored version is (see State).

// pool is process-wide, like the unique package it builds on: executions
// of one workflow share its DAG even across restores.
var pool = newSpecPool()

type specPool struct {
	seed maphash.Seed

	mu        sync.Mutex
	dags      map[uint64][]sharedDAG
	selectors map[uint64][]weak.Pointer[v1.LabelSelector]
	// byFirst names each shared DAG by the address of its first node, so
	// that dag knows one that is already the pool's copy (every workflow
	// resolved through dagsByJSON is) without hashing and comparing it.
	// An address alone could be a collected DAG's, reused: the weak
	// pointer must still lead to it. selectorAt does the same for
	// selectors (those resolved through selectorsByJSON).
	byFirst    map[uintptr]sharedDAG
	selectorAt map[uintptr]weak.Pointer[v1.LabelSelector]
	// added counts insertions since the last sweep of dead entries.
	added int
}

// sharedDAG is a weak reference to the node array of a shared DAG.
type sharedDAG struct {
	first weak.Pointer[v1.TaskNode]
	n     int
}

func newSpecPool() *specPool {
	return &specPool{
		seed:       maphash.MakeSeed(),
		dags:       map[uint64][]sharedDAG{},
		selectors:  map[uint64][]weak.Pointer[v1.LabelSelector]{},
		byFirst:    map[uintptr]sharedDAG{},
		selectorAt: map[uintptr]weak.Pointer[v1.LabelSelector]{},
	}
}

// shareSpec replaces the parts of s that other executions may hold too
// with the pool's copies, in place. s must be freshly decoded: its old
// parts may still be referenced by nothing else.
func shareSpec(s *v1.ExecutionSpec) { sharePool(s, false) }

// sharePool is shareSpec; with borrowed, s's parts are someone else's still
// (a leader's own proposal, local_entries.go), and the state gets the
// pool's copies or private ones, never the borrowed parts.
func sharePool(s *v1.ExecutionSpec, borrowed bool) {
	s.Project = intern(s.Project)
	s.Domain = intern(s.Domain)
	s.Tier = v1.Tier(intern(string(s.Tier)))
	if borrowed {
		// Inputs are the state's to share (state_inputs.go), which
		// copies them.
		s.PreferredLabels = maps.Clone(s.PreferredLabels)
	}
	s.Workflow.Nodes = pool.dag(s.Workflow.Nodes, borrowed)
	s.ClusterSelector = pool.selector(s.ClusterSelector, borrowed)
}

// ShareWorkflow returns the pool's copy of a DAG, adding nodes themselves
// when no live copy is equal. A front end that caches decoded workflows
// (the submit handler's) keeps the pool's copy: the leader's FSM then
// knows it by its address instead of hashing it on every submission.
// nodes must be freshly decoded, and neither they nor the result may be
// changed afterwards, by anyone.
func ShareWorkflow(nodes []v1.TaskNode) []v1.TaskNode { return pool.dag(nodes, false) }

// unsafeSlice rebuilds a shared node array from its first element.
func unsafeSlice(first *v1.TaskNode, n int) []v1.TaskNode { return unsafe.Slice(first, n) }

func intern(s string) string {
	if s == "" {
		return ""
	}
	return unique.Make(s).Value()
}

func internAll(ss []string) []string {
	for i, s := range ss {
		ss[i] = intern(s)
	}
	return ss
}

func internMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[intern(k)] = intern(v)
	}
	return out
}

// dag returns the pool's copy of nodes, adding nodes (a copy of them when
// they are borrowed) when no live copy is equal.
func (p *specPool) dag(nodes []v1.TaskNode, borrowed bool) []v1.TaskNode {
	if len(nodes) == 0 {
		return nodes
	}
	if shared, ok := p.shared(nodes); ok {
		return shared
	}
	h := p.hashDAG(nodes)
	p.mu.Lock()
	defer p.mu.Unlock()
	live := p.dags[h][:0:0]
	var found []v1.TaskNode
	for _, d := range p.dags[h] {
		first := d.first.Value()
		if first == nil {
			continue // collected: drop it
		}
		live = append(live, d)
		if shared := unsafeSlice(first, d.n); found == nil && dagEqual(shared, nodes) {
			found = shared
		}
	}
	if found == nil {
		if borrowed {
			nodes = cloneDAG(nodes)
		}
		found = internDAG(nodes)
		d := sharedDAG{first: weak.Make(&found[0]), n: len(found)}
		live = append(live, d)
		p.byFirst[firstAddr(found)] = d
		p.added++
	}
	p.dags[h] = live
	p.sweepLocked()
	return found
}

// shared returns the pool's copy of nodes when nodes is that copy, as the
// rest of dag would find it: the pool holds at most one live copy of a
// DAG, so a live shared DAG is the copy equal to itself.
func (p *specPool) shared(nodes []v1.TaskNode) ([]v1.TaskNode, bool) {
	first := unsafe.SliceData(nodes)
	p.mu.Lock()
	d, ok := p.byFirst[firstAddr(nodes)]
	p.mu.Unlock()
	if !ok || d.n != len(nodes) || d.first.Value() != first {
		return nil, false
	}
	return unsafeSlice(first, d.n), true
}

// firstAddr is the address of a DAG's first node, as a number: byFirst
// must not keep the DAG alive.
func firstAddr(nodes []v1.TaskNode) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(nodes))) }

func (p *specPool) selector(s *v1.LabelSelector, borrowed bool) *v1.LabelSelector {
	if s == nil {
		return nil
	}
	p.mu.Lock()
	w, ok := p.selectorAt[uintptr(unsafe.Pointer(s))]
	p.mu.Unlock()
	if ok && w.Value() == s {
		// The pool's copy already, as dag's shortcut reasons.
		return s
	}
	h := p.hashSelector(s)
	p.mu.Lock()
	defer p.mu.Unlock()
	live := p.selectors[h][:0:0]
	var found *v1.LabelSelector
	for _, w := range p.selectors[h] {
		v := w.Value()
		if v == nil {
			continue
		}
		live = append(live, w)
		if found == nil && selectorEqual(v, s) {
			found = v
		}
	}
	if found == nil {
		found = s
		if borrowed {
			found = cloneSelector(s)
		}
		found.MatchLabels = internMap(found.MatchLabels)
		for i := range found.MatchExpressions {
			r := &found.MatchExpressions[i]
			r.Key = intern(r.Key)
			r.Values = internAll(r.Values)
		}
		w := weak.Make(found)
		live = append(live, w)
		p.selectorAt[uintptr(unsafe.Pointer(found))] = w
		p.added++
	}
	p.selectors[h] = live
	p.sweepLocked()
	return found
}

// sweepLocked drops dead entries once as many were added as the pool
// holds, so the pool's own size stays within a small factor of what is
// alive at a cost amortised over the insertions.
func (p *specPool) sweepLocked() {
	if p.added < 1024 || p.added < len(p.dags)+len(p.selectors) {
		return
	}
	p.added = 0
	dropDead(p.dags, func(d sharedDAG) bool { return d.first.Value() == nil })
	dropDead(p.selectors, func(w weak.Pointer[v1.LabelSelector]) bool { return w.Value() == nil })
	maps.DeleteFunc(p.byFirst, func(_ uintptr, d sharedDAG) bool { return d.first.Value() == nil })
	maps.DeleteFunc(p.selectorAt, func(_ uintptr, w weak.Pointer[v1.LabelSelector]) bool { return w.Value() == nil })
}

// dropDead removes the dead entries of a weak hash table: those for which
// dead holds, and the buckets left empty.
func dropDead[V any](m map[uint64][]V, dead func(V) bool) {
	for h, vs := range m {
		if vs = slices.DeleteFunc(vs, dead); len(vs) == 0 {
			delete(m, h)
		} else {
			m[h] = vs
		}
	}
}

// internDAG interns the strings of a DAG about to be shared: its images,
// commands and ids repeat across DAGs too.
func internDAG(nodes []v1.TaskNode) []v1.TaskNode {
	for i := range nodes {
		n := &nodes[i]
		n.ID = intern(n.ID)
		n.DependsOn = internAll(n.DependsOn)
		n.Image = intern(n.Image)
		n.Command = internAll(n.Command)
		n.Args = internAll(n.Args)
		n.Env = internMap(n.Env)
		n.Resources = v1.Resources{CPU: intern(n.Resources.CPU), Memory: intern(n.Resources.Memory), GPU: intern(n.Resources.GPU)}
		n.Timeout = intern(n.Timeout)
		if n.Inputs != nil {
			in := make(map[string]v1.Binding, len(n.Inputs))
			for k, b := range n.Inputs {
				b.FromInput, b.FromNode, b.Output = intern(b.FromInput), intern(b.FromNode), intern(b.Output)
				in[intern(k)] = b
			}
			n.Inputs = in
		}
	}
	return nodes
}

// Hashes: fields are written with a terminator so that ("ab","c") and
// ("a","bc") differ; maps are hashed order-free by summing the hashes of
// their entries. Equal values hash equal; dagEqual settles collisions.

func (p *specPool) hashDAG(nodes []v1.TaskNode) uint64 {
	var h maphash.Hash
	h.SetSeed(p.seed)
	for i := range nodes {
		n := &nodes[i]
		str(&h, n.ID)
		strs(&h, n.DependsOn)
		str(&h, n.Image)
		strs(&h, n.Command)
		strs(&h, n.Args)
		maphash.WriteComparable(&h, p.hashStringMap(n.Env))
		str(&h, n.Resources.CPU)
		str(&h, n.Resources.Memory)
		str(&h, n.Resources.GPU)
		var in uint64
		for k, b := range n.Inputs {
			in += maphash.Comparable(p.seed, struct {
				k           string
				input, node string
				output      string
				set         bool
				value       string
			}{k, b.FromInput, b.FromNode, b.Output, b.Value != nil, deref(b.Value)})
		}
		maphash.WriteComparable(&h, in)
		maphash.WriteComparable(&h, n.Retries)
		str(&h, n.Timeout)
		if n.Cache != nil {
			str(&h, "cache:"+n.Cache.Version)
		}
		_ = h.WriteByte(0xff)
	}
	return h.Sum64()
}

func (p *specPool) hashSelector(s *v1.LabelSelector) uint64 {
	var h maphash.Hash
	h.SetSeed(p.seed)
	maphash.WriteComparable(&h, p.hashStringMap(s.MatchLabels))
	for _, r := range s.MatchExpressions {
		str(&h, r.Key)
		str(&h, string(r.Operator))
		strs(&h, r.Values)
	}
	return h.Sum64()
}

func (p *specPool) hashStringMap(m map[string]string) uint64 { return hashStringMap(p.seed, m) }

// hashStringMap hashes m order-free: the sum of its entries' hashes.
func hashStringMap(seed maphash.Seed, m map[string]string) uint64 {
	var sum uint64
	for k, v := range m {
		sum += maphash.Comparable(seed, [2]string{k, v})
	}
	return sum
}

func str(h *maphash.Hash, s string) {
	_, _ = h.WriteString(s)
	_ = h.WriteByte(0)
}

func strs(h *maphash.Hash, ss []string) {
	maphash.WriteComparable(h, len(ss))
	for _, s := range ss {
		str(h, s)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// dagEqual reports whether two DAGs encode alike. Empty and nil
// collections are equal: the canonical form omits both.
func dagEqual(a, b []v1.TaskNode) bool {
	return slices.EqualFunc(a, b, func(x, y v1.TaskNode) bool {
		return x.ID == y.ID && x.Image == y.Image && x.Retries == y.Retries && x.Timeout == y.Timeout &&
			x.Resources == y.Resources &&
			slices.Equal(x.DependsOn, y.DependsOn) && slices.Equal(x.Command, y.Command) && slices.Equal(x.Args, y.Args) &&
			maps.Equal(x.Env, y.Env) &&
			maps.EqualFunc(x.Inputs, y.Inputs, bindingEqual) &&
			cacheEqual(x.Cache, y.Cache)
	})
}

func bindingEqual(a, b v1.Binding) bool {
	return a.FromInput == b.FromInput && a.FromNode == b.FromNode && a.Output == b.Output &&
		(a.Value == nil) == (b.Value == nil) && deref(a.Value) == deref(b.Value)
}

func cacheEqual(a, b *v1.CacheSpec) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func selectorEqual(a, b *v1.LabelSelector) bool {
	return maps.Equal(a.MatchLabels, b.MatchLabels) &&
		slices.EqualFunc(a.MatchExpressions, b.MatchExpressions, func(x, y v1.LabelSelectorRequirement) bool {
			return x.Key == y.Key && x.Operator == y.Operator && slices.Equal(x.Values, y.Values)
		})
}
