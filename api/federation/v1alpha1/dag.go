package v1alpha1

// Validation runs on every submission, and nearly every workflow has a
// handful of nodes: the helpers here scan slices and use fixed buffers
// while a workflow is small, and only switch to maps and heap slices for
// large ones, so validating a typical spec allocates nothing for its DAG.

// smallDAG is the node count (and dependency count) up to which a linear
// scan beats hashing and the DAG checks fit buffers on the stack.
const smallDAG = 16

// nodeIndex finds a node's position by id.
type nodeIndex struct {
	nodes []TaskNode
	m     map[string]int // nil while len(nodes) <= smallDAG
}

func newNodeIndex(nodes []TaskNode) nodeIndex {
	x := nodeIndex{nodes: nodes}
	if len(nodes) > smallDAG {
		x.m = make(map[string]int, len(nodes))
	}
	return x
}

// add indexes node i, unless its id is taken by an earlier node: then it
// reports a duplicate and leaves the index as it was.
func (x *nodeIndex) add(i int) (dup bool) {
	id := x.nodes[i].ID
	if x.m == nil {
		_, dup = x.scan(id, i)
		return dup
	}
	if _, dup = x.m[id]; !dup {
		x.m[id] = i
	}
	return dup
}

// lookup returns the position of the node with the given id among the
// nodes added so far (all of them, once validation has added them).
func (x *nodeIndex) lookup(id string) (int, bool) {
	if x.m == nil {
		return x.scan(id, len(x.nodes))
	}
	i, ok := x.m[id]
	return i, ok
}

func (x *nodeIndex) scan(id string, end int) (int, bool) {
	for i := range x.nodes[:end] {
		if x.nodes[i].ID == id {
			return i, true
		}
	}
	return 0, false
}

// dagWalk is a depth-first walk over a workflow's dependencies that finds
// a cycle or, failing that, orders the nodes so each comes after all of
// its dependencies. All dependencies must name nodes of the workflow.
//
// Its slices have one slot per node and are filled by position rather
// than appended to, so a walk over buffers on the caller's stack keeps
// them there.
type dagWalk struct {
	nodes []TaskNode
	index *nodeIndex
	color []uint8
	stack []int // stack[:depth] are the grey nodes, outermost first
	depth int
	post  []int // post[:done] turned black in that order
	done  int
}

const (
	white uint8 = iota
	grey
	black
)

// newDAGWalk prepares a walk; scratch, if it has room for three slots per
// node, spares the walk its allocations.
func newDAGWalk(nodes []TaskNode, index *nodeIndex, colors []uint8, scratch []int) dagWalk {
	n := len(nodes)
	if len(colors) < n || len(scratch) < 2*n {
		colors, scratch = make([]uint8, n), make([]int, 2*n)
	}
	colors = colors[:n]
	clear(colors)
	return dagWalk{nodes: nodes, index: index, color: colors, stack: scratch[:n], post: scratch[n : 2*n]}
}

// findCycle returns the ids along a dependency cycle, first id repeated
// last, or nil. When it returns nil, order returns a topological order.
func (d *dagWalk) findCycle() []string {
	for i := range d.nodes {
		if d.color[i] == white {
			if c := d.visit(i); c != nil {
				return c
			}
		}
	}
	return nil
}

// order returns the nodes' positions, each after its dependencies', once
// findCycle has found no cycle.
func (d *dagWalk) order() []int { return d.post[:d.done] }

func (d *dagWalk) visit(i int) []string {
	d.color[i] = grey
	d.stack[d.depth] = i
	d.depth++
	for _, dep := range d.nodes[i].DependsOn {
		j, _ := d.index.lookup(dep)
		switch d.color[j] {
		case grey:
			for k, on := range d.stack[:d.depth] {
				if on == j {
					cycle := make([]string, 0, d.depth-k+1)
					for _, c := range d.stack[k:d.depth] {
						cycle = append(cycle, d.nodes[c].ID)
					}
					return append(cycle, dep)
				}
			}
		case white:
			if c := d.visit(j); c != nil {
				return c
			}
		}
	}
	d.depth--
	d.color[i] = black
	d.post[d.done] = i
	d.done++
	return nil
}

// ancestorSets holds, for each node, the set of nodes upstream of it as a
// bitset over node positions: Ancestors without a map per node.
type ancestorSets struct {
	words int
	bits  []uint64
}

// newAncestorSets computes the sets from a topological order, such as
// dagWalk.order; scratch, if large enough, spares it an allocation.
func newAncestorSets(nodes []TaskNode, index *nodeIndex, order []int, scratch []uint64) ancestorSets {
	a := ancestorSets{words: (len(nodes) + 63) / 64}
	if n := len(nodes) * a.words; n <= len(scratch) {
		a.bits = scratch[:n]
		clear(a.bits)
	} else {
		a.bits = make([]uint64, n)
	}
	for _, i := range order {
		row := a.row(i)
		for _, dep := range nodes[i].DependsOn {
			j, _ := index.lookup(dep)
			row[j/64] |= 1 << (j % 64)
			for k, w := range a.row(j) {
				row[k] |= w
			}
		}
	}
	return a
}

func (a *ancestorSets) row(i int) []uint64 { return a.bits[i*a.words : (i+1)*a.words] }

// has reports whether node j is upstream of node i.
func (a *ancestorSets) has(i, j int) bool { return a.row(i)[j/64]&(1<<(j%64)) != 0 }
