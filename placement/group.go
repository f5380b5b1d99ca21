package placement

import (
	"slices"
	"sync"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// group is the per-round cache of one shape: its static verdicts and
// static bonus per cluster, its feasible clusters in heaps keyed by Total,
// and the needs that have been found to fit nowhere.
type group struct {
	shape shape
	// static is each cluster's static verdict, by cluster index.
	static []verdict
	// staticBonus is each cluster's static secondary bonus, by index.
	staticBonus []float64
	// dyn is each cluster's latest dynamic rejection, by index: recorded
	// when the heap search rejects it, read when nothing fits.
	dyn []verdict
	// classes are heaps in order of preference: best-effort with a spot
	// label tries spot clusters first, every other shape has one class.
	classes []clusterHeap
	// minNeed is the element-wise smallest need of the shape's executions
	// this round: a cluster that cannot take it leaves the heaps.
	minNeed v1.Amounts
	// noFit remembers reasons for needs that fit nowhere; capacity only
	// shrinks within a round, so they never fit again.
	noFit map[v1.Amounts][]string
	// exhausted caches the reasons once every heap is empty.
	exhausted []string
	// bufs holds the arrays above, to be reused once the round is over.
	bufs *groupBufs
}

// groupBufs are a group's per-cluster arrays. Decide hands them back when
// it returns, and the next round reuses them: over 1,000 clusters a group
// takes about 100 KB, and the scheduler runs rounds back to back, each
// with a few groups, so that was a large share of the leader's garbage.
// Nothing a Decision holds points into them.
type groupBufs struct {
	static, dyn []verdict
	bonus       []float64
	classes     [2]clusterHeap
}

var groupPool = sync.Pool{New: func() any { return new(groupBufs) }}

// sized returns buf with length n, zeroed, reusing its array if it can.
func sized[T any](buf []T, n int) []T {
	buf = slices.Grow(buf[:0], n)[:n]
	clear(buf)
	return buf
}

// release hands the group's arrays back to the pool. The verdicts are
// cleared so the pool holds no strings of this round.
func (g *group) release() {
	b := g.bufs
	if b == nil {
		return
	}
	g.bufs = nil
	clear(g.static)
	clear(g.dyn)
	b.static, b.dyn, b.bonus = g.static[:0], g.dyn[:0], g.staticBonus[:0]
	for i := range g.classes {
		b.classes[i] = g.classes[i][:0]
	}
	g.static, g.dyn, g.staticBonus, g.classes = nil, nil, nil, nil
	groupPool.Put(b)
}

func (r *round) newGroup(sh shape, need v1.Amounts) *group {
	n := len(r.clusters)
	b := groupPool.Get().(*groupBufs)
	g := &group{
		shape:       sh,
		static:      sized(b.static, n),
		staticBonus: sized(b.bonus, n),
		dyn:         sized(b.dyn, n),
		minNeed:     need,
		bufs:        b,
	}
	spotFirst := sh.tier == v1.TierBestEffort && r.spot.enabled()
	g.classes = b.classes[:1]
	if spotFirst {
		g.classes = b.classes[:2]
	}
	q := &query{shape: &g.shape}
	for _, c := range r.clusters {
		v := r.filters.checkStatic(c, q)
		g.static[c.idx] = v
		if !v.ok() {
			continue
		}
		g.staticBonus[c.idx] = bonusOf(r.scorers.static, c, &g.shape)
		class := 0
		if spotFirst && !c.spot {
			class = 1
		}
		g.classes[class] = append(g.classes[class], heapEntry{key: g.key(r, c), idx: c.idx, ver: c.version})
	}
	for i := range g.classes {
		g.classes[i].init()
	}
	return g
}

// key is c's current Total for the shape.
func (g *group) key(r *round, c *cluster) float64 {
	return total(c, g.staticBonus[c.idx]+bonusOf(r.scorers.dynamic, c, &g.shape))
}

// pick returns the feasible cluster with the lowest Total for need, in the
// first class that has one, or nil.
func (g *group) pick(r *round, need v1.Amounts) *cluster {
	q := query{shape: &g.shape, need: need}
	for i := range g.classes {
		h := &g.classes[i]
		skipped := r.skipped[:0]
		var best *cluster
		for len(*h) > 0 {
			top := &(*h)[0]
			c := r.clusters[top.idx]
			if top.ver != c.version {
				// Keys only grow within a round: refresh and sink.
				top.key, top.ver = g.key(r, c), c.version
				h.fixTop()
				continue
			}
			if v := r.filters.checkDynamic(c, &q); !v.ok() {
				e := *top
				h.pop()
				g.dyn[c.idx] = v
				if mv := r.filters.checkDynamic(c, &query{shape: &g.shape, need: g.minNeed}); !mv.ok() {
					// Fits none of the shape's needs for the rest of
					// the round: drop it.
					g.dyn[c.idx] = mv
					continue
				}
				skipped = append(skipped, e)
				continue
			}
			best = c
			break
		}
		for _, e := range skipped {
			h.push(e)
		}
		r.skipped = skipped[:0]
		if best != nil {
			return best
		}
	}
	return nil
}

// reasons summarises why need fits no cluster, from the verdicts recorded
// when the clusters were rejected. The caller has just had pick return nil
// for need.
func (g *group) reasons(r *round, need v1.Amounts) []string {
	if g.exhausted != nil {
		return g.exhausted
	}
	if rs, ok := g.noFit[need]; ok {
		return rs
	}
	vs := make([]verdict, len(r.clusters))
	for _, c := range r.clusters {
		v := g.static[c.idx]
		if v.ok() {
			v = g.dyn[c.idx]
		}
		if v.ok() {
			// Defensive: every feasible cluster was rejected by pick.
			v = r.filters.checkDynamic(c, &query{shape: &g.shape, need: need})
		}
		vs[c.idx] = v
	}
	rs := summarize(vs)
	empty := true
	for _, h := range g.classes {
		empty = empty && len(h) == 0
	}
	if empty {
		g.exhausted = rs
		return rs
	}
	if g.noFit == nil {
		g.noFit = make(map[v1.Amounts][]string)
	}
	g.noFit[need] = rs
	return rs
}

// knownNoFit returns remembered reasons if need is known to fit nowhere.
func (g *group) knownNoFit(need v1.Amounts) ([]string, bool) {
	if g.exhausted != nil {
		return g.exhausted, true
	}
	rs, ok := g.noFit[need]
	return rs, ok
}

// cloneReasons gives each Decision its own slice of a shared summary.
func cloneReasons(rs []string) []string { return slices.Clone(rs) }
