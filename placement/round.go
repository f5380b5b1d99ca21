package placement

import (
	"encoding/binary"
	"sort"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// round is the state of one Decide or Explain call: the clusters as this
// round has changed them, the shape caches and the projects' usage.
type round struct {
	snap     *Snapshot
	opts     *Options
	clusters []*cluster
	filters  filterChain
	scorers  scorerSet
	spot     spotMatcher
	// total is the federation's allocatable, the denominator of DRF.
	total v1.Amounts
	// restricted are the clusters with AllowedProjects; tenantClasses
	// caches, per project, which of them admit it. Projects admitted by
	// the same ones see clusters alike and share shapes.
	restricted    []*cluster
	tenantClasses map[string]string
	groups        map[string]*group
	projects      map[string]*project
	selectorKeys  map[*v1.LabelSelector]string
	placed        int
	// skipped, key and prefKeys are scratch space reused per entry.
	skipped  []heapEntry
	key      []byte
	prefKeys []string
}

func newRound(s *Snapshot, o *Options) *round {
	r := &round{
		snap:          s,
		opts:          o,
		filters:       newFilterChain(o),
		scorers:       newScorerSet(),
		spot:          newSpotMatcher(o.SpotLabel),
		groups:        map[string]*group{},
		projects:      map[string]*project{},
		tenantClasses: map[string]string{},
		selectorKeys:  map[*v1.LabelSelector]string{},
	}
	r.clusters = newClusters(s, r.spot)
	for _, c := range r.clusters {
		if c.view.HasCapacity {
			r.total = r.total.Add(c.view.Allocatable)
		}
		if len(c.view.AllowedProjects) > 0 {
			r.restricted = append(r.restricted, c)
		}
	}
	return r
}

// entry is a pending execution with what the round derived from it.
type entry struct {
	p       *Pending
	pos     int
	tier    v1.Tier
	need    v1.Amounts
	project *project
	group   *group
}

// before orders a project's entries: by Seq, then key and attempt, then
// queue position, so any input order gives the same sequence.
func (a *entry) before(b *entry) bool {
	if a.p.Seq != b.p.Seq {
		return a.p.Seq < b.p.Seq
	}
	ka, kb := a.p.Key, b.p.Key
	if ka.Project != kb.Project {
		return ka.Project < kb.Project
	}
	if ka.Domain != kb.Domain {
		return ka.Domain < kb.Domain
	}
	if ka.Name != kb.Name {
		return ka.Name < kb.Name
	}
	if a.p.Attempt != b.p.Attempt {
		return a.p.Attempt < b.p.Attempt
	}
	return a.pos < b.pos
}

// intake derives the entry for p and files it under its shape's group.
func (r *round) intake(e *entry, p *Pending, pos int) {
	*e = entry{p: p, pos: pos, tier: p.Tier, need: nonNegative(p.Need)}
	if e.tier == "" {
		e.tier = v1.TierStandard
	}
	e.project = r.project(p.Key.Project)
	k := r.shapeKey(e.tier, r.tenantClass(p.Key.Project), p.Selector, p.PreferredLabels)
	g, ok := r.groups[string(k)] // no allocation for the lookup
	if !ok {
		g = r.newGroup(shape{tier: e.tier, project: p.Key.Project, selector: p.Selector, preferred: p.PreferredLabels}, e.need)
		r.groups[string(k)] = g
	}
	g.minNeed = minAmounts(g.minNeed, e.need)
	e.group = g
}

// tenantClass renders which restricted clusters admit project p.
func (r *round) tenantClass(p string) string {
	if len(r.restricted) == 0 {
		return ""
	}
	if k, ok := r.tenantClasses[p]; ok {
		return k
	}
	b := make([]byte, 0, 4*len(r.restricted))
	for _, c := range r.restricted {
		if allowsProject(c.view.AllowedProjects, p) {
			b = binary.AppendUvarint(b, uint64(c.idx))
		}
	}
	k := string(b)
	r.tenantClasses[p] = k
	return k
}

// shapeKey renders what makes executions see clusters alike. Projects
// enter only through their tenant class; the group's shape keeps the
// first project seen, for which the tenant filter answers as for all
// projects of the class. Every field is length-prefixed, so no label
// content can make two different shapes collide. The key is built in a
// reused buffer so the common case allocates nothing.
func (r *round) shapeKey(tier v1.Tier, tenant string, sel *v1.LabelSelector, pref map[string]string) []byte {
	b := appendField(r.key[:0], string(tier))
	b = appendField(b, tenant)
	b = appendField(b, r.selectorKey(sel))
	keys := r.prefKeys[:0]
	for k := range pref {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b = appendField(appendField(b, k), pref[k])
	}
	r.key, r.prefKeys = b, keys[:0]
	return b
}

// selectorKey renders a selector canonically (sorted), cached by pointer
// since callers often share one selector among many executions.
func (r *round) selectorKey(sel *v1.LabelSelector) string {
	if sel == nil {
		return ""
	}
	if k, ok := r.selectorKeys[sel]; ok {
		return k
	}
	b := []byte{'s'}
	b = binary.AppendUvarint(b, uint64(len(sel.MatchLabels)))
	for _, k := range v1.SortedKeys(sel.MatchLabels) {
		b = appendField(appendField(b, k), sel.MatchLabels[k])
	}
	exprs := make([]string, len(sel.MatchExpressions))
	for i, x := range sel.MatchExpressions {
		vals := append([]string(nil), x.Values...)
		sort.Strings(vals)
		e := appendField(appendField(nil, x.Key), string(x.Operator))
		for _, v := range vals {
			e = appendField(e, v)
		}
		exprs[i] = string(e)
	}
	sort.Strings(exprs)
	for _, x := range exprs {
		b = appendField(b, x)
	}
	k := string(b)
	r.selectorKeys[sel] = k
	return k
}

// appendField appends s with its length in front.
func appendField(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func nonNegative(a v1.Amounts) v1.Amounts {
	return a.Max(v1.Amounts{})
}

func minAmounts(a, b v1.Amounts) v1.Amounts {
	return v1.Amounts{
		MilliCPU:    min(a.MilliCPU, b.MilliCPU),
		MemoryBytes: min(a.MemoryBytes, b.MemoryBytes),
		GPU:         min(a.GPU, b.GPU),
		Pods:        min(a.Pods, b.Pods),
	}
}
