package placement

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// ready returns a healthy, ready cluster with room for n executions of
// need unit.
func ready(name string, weight int, n int64) ClusterView {
	amt := v1.Amounts{MilliCPU: 1000 * n, MemoryBytes: 1 << 30 * n, GPU: 0, Pods: 10 * n}
	return ClusterView{
		Name: name, Weight: weight, State: v1.ClusterReady, Healthy: true, Settled: true,
		Breaker: v1.BreakerClosed, Allocatable: amt, Free: amt, HasCapacity: true,
	}
}

// unit is the need of one test execution.
var unit = v1.Amounts{MilliCPU: 1000, MemoryBytes: 1 << 30, Pods: 1}

func pending(project string, i int, tier v1.Tier) Pending {
	return Pending{
		Key:  v1.ExecutionKey{Project: project, Domain: "d", Name: "e" + strconv.Itoa(i)},
		Tier: tier, Seq: uint64(i), Need: unit,
	}
}

// queueOf returns n pending executions of one project and tier.
func queueOf(project string, n int, tier v1.Tier) []Pending {
	q := make([]Pending, n)
	for i := range q {
		q[i] = pending(project, i, tier)
	}
	return q
}

// placedOn counts placements per cluster.
func placedOn(ds []Decision) map[string]int {
	m := map[string]int{}
	for _, d := range ds {
		if d.Cluster != "" {
			m[d.Cluster]++
		}
	}
	return m
}

// refCluster is the reference checker's replay of one cluster.
type refCluster struct {
	v      *ClusterView
	rem    v1.Amounts
	load   int
	placed int
}

// refFeasible re-implements every filter from the rules, independently of
// the engine's filter types.
func refFeasible(c *refCluster, p *Pending, o *Options) bool {
	v := c.v
	tier := p.Tier
	if tier == "" {
		tier = v1.TierStandard
	}
	need := p.Need.Max(v1.Amounts{})
	if v.State != v1.ClusterReady || !v.Healthy || !v.Settled || v.Breaker == v1.BreakerOpen {
		return false
	}
	if v.Breaker == v1.BreakerHalfOpen && c.placed > 0 {
		return false
	}
	if v.Weight <= 0 {
		return false
	}
	spec := v1.ClusterSpec{Tiers: v.Tiers, AllowedProjects: v.AllowedProjects}
	if !spec.AcceptsTier(tier) || !spec.AllowsProject(p.Key.Project) || !p.Selector.Matches(v.Labels) {
		return false
	}
	if !v.HasCapacity || !need.Fits(c.rem) {
		return false
	}
	if tier == v1.TierBestEffort {
		left, a, h := c.rem.Sub(need), v.Allocatable, o.BestEffortHeadroom
		for _, d := range [][2]int64{{left.MilliCPU, a.MilliCPU}, {left.MemoryBytes, a.MemoryBytes}, {left.GPU, a.GPU}, {left.Pods, a.Pods}} {
			if h > 0 && float64(d[0]) < h*float64(d[1]) {
				return false
			}
		}
	}
	return true
}

// refRank is the reference ranking: (class, total), lower wins.
func refRank(c *refCluster, p *Pending, o *Options) (class int, tot float64) {
	v := c.v
	if p.Tier == v1.TierBestEffort && o.SpotLabel != "" && !newSpotMatcher(o.SpotLabel).matches(v.Labels) {
		class = 1
	}
	lab := 0.0
	if len(p.PreferredLabels) > 0 {
		m := 0
		for k, want := range p.PreferredLabels {
			if got, ok := v.Labels[k]; ok && got == want {
				m++
			}
		}
		lab = float64(m) / float64(len(p.PreferredLabels))
	}
	head := 0.0
	if v.HasCapacity {
		head = 1.0
		has := false
		a := v.Allocatable
		for _, d := range [][2]int64{{c.rem.MilliCPU, a.MilliCPU}, {c.rem.MemoryBytes, a.MemoryBytes}, {c.rem.GPU, a.GPU}, {c.rem.Pods, a.Pods}} {
			if d[1] > 0 {
				has = true
				head = math.Min(head, float64(d[0])/float64(d[1]))
			}
		}
		if !has {
			head = 0
		}
		head = math.Max(head, 0)
	}
	return class, (float64(c.load) + 1 - 0.5*lab - 0.25*head) / float64(v.Weight)
}

// checkDecisions replays ds against s and the rules, independently of the
// engine: every queue entry decided once, tiers in order, each project's
// executions of a tier in Seq order, every placement passes every filter
// and is the best-ranked feasible cluster at that moment, every pending
// execution is justified (round limit, quota, or no feasible cluster), and
// quotas and MaxDecisions hold. Queue keys must be unique.
func checkDecisions(s *Snapshot, queue []Pending, o Options, ds []Decision) error {
	if len(ds) != len(queue) {
		return fmt.Errorf("%d decisions for %d pending", len(ds), len(queue))
	}
	byKey := map[v1.ExecutionKey]*Pending{}
	for i := range queue {
		if _, dup := byKey[queue[i].Key]; dup {
			return fmt.Errorf("test bug: duplicate key %s", queue[i].Key)
		}
		byKey[queue[i].Key] = &queue[i]
	}
	clusters := map[string]*refCluster{}
	var names []string
	for i := range s.Clusters {
		v := &s.Clusters[i]
		clusters[v.Name] = &refCluster{v: v, rem: v.Free.Sub(v.Reserved), load: v.Load}
		names = append(names, v.Name)
	}
	live := map[string]int{}
	for p, n := range s.ProjectRunning {
		live[p] = n
	}
	seen := map[v1.ExecutionKey]bool{}
	lastRank := -1
	type tp struct {
		tier    int
		project string
	}
	lastSeq := map[tp]uint64{}
	placed := 0
	for i, d := range ds {
		p, ok := byKey[d.Key]
		if !ok || seen[d.Key] {
			return fmt.Errorf("decision %d: key %s unknown or decided twice", i, d.Key)
		}
		seen[d.Key] = true
		if d.Attempt != p.Attempt {
			return fmt.Errorf("decision %d: attempt %d, want %d", i, d.Attempt, p.Attempt)
		}
		tier := p.Tier
		if tier == "" {
			tier = v1.TierStandard
		}
		rank := tier.Rank()
		if rank < lastRank {
			return fmt.Errorf("decision %d (%s, tier %s) after a lower tier", i, d.Key, tier)
		}
		lastRank = rank
		k := tp{rank, p.Key.Project}
		if s, ok := lastSeq[k]; ok && p.Seq < s {
			return fmt.Errorf("decision %d (%s): seq %d after seq %d of the same project and tier", i, d.Key, p.Seq, s)
		}
		lastSeq[k] = p.Seq
		if len(d.Reasons) == 0 {
			return fmt.Errorf("decision %d (%s): no reasons", i, d.Key)
		}
		q := o.quota(p.Key.Project)
		limited := o.MaxDecisions > 0 && placed >= o.MaxDecisions
		overQuota := q > 0 && live[p.Key.Project] >= q
		var best *refCluster
		bestClass, bestTot := 0, 0.0
		for _, n := range names {
			c := clusters[n]
			if !refFeasible(c, p, &o) {
				continue
			}
			cl, tot := refRank(c, p, &o)
			if best == nil || cl < bestClass || cl == bestClass && (tot < bestTot || tot == bestTot && c.v.Name < best.v.Name) {
				best, bestClass, bestTot = c, cl, tot
			}
		}
		if d.Cluster == "" {
			if !limited && !overQuota && best != nil {
				return fmt.Errorf("decision %d (%s): pending (%v) though %s fits", i, d.Key, d.Reasons, best.v.Name)
			}
			continue
		}
		if limited {
			return fmt.Errorf("decision %d (%s): placed beyond MaxDecisions %d", i, d.Key, o.MaxDecisions)
		}
		if overQuota {
			return fmt.Errorf("decision %d (%s): placed beyond quota %d", i, d.Key, q)
		}
		c, ok := clusters[d.Cluster]
		if !ok {
			return fmt.Errorf("decision %d (%s): unknown cluster %q", i, d.Key, d.Cluster)
		}
		if !refFeasible(c, p, &o) {
			return fmt.Errorf("decision %d (%s): cluster %s violates a filter", i, d.Key, d.Cluster)
		}
		cl, tot := refRank(c, p, &o)
		if cl != bestClass || tot > bestTot+1e-9 {
			return fmt.Errorf("decision %d (%s): chose %s (class %d, total %g) over %s (class %d, total %g)", i, d.Key, d.Cluster, cl, tot, best.v.Name, bestClass, bestTot)
		}
		c.rem = c.rem.Sub(p.Need.Max(v1.Amounts{}))
		c.load++
		c.placed++
		live[p.Key.Project]++
		placed++
	}
	return nil
}

// randomSnapshot builds n clusters with random labels, weights, tiers,
// states and capacities from rng.
func randomSnapshot(rng *rand.Rand, n int) *Snapshot {
	s := &Snapshot{ProjectUsage: map[string]v1.Amounts{}, ProjectRunning: map[string]int{}}
	for i := range n {
		c := ready(fmt.Sprintf("c%03d", i), 1+rng.IntN(5), int64(5+rng.IntN(50)))
		c.Labels = map[string]string{"region": []string{"eu", "us", "ap"}[rng.IntN(3)]}
		if rng.IntN(3) == 0 {
			c.Labels["capacity"] = "spot"
		}
		if rng.IntN(4) == 0 {
			c.Labels["gpu"] = "a100"
			c.Allocatable.GPU, c.Free.GPU = 8, 8
		}
		switch rng.IntN(12) {
		case 0:
			c.State = v1.ClusterCordoned
		case 1:
			c.Healthy = false
		case 2:
			c.Breaker = v1.BreakerHalfOpen
		case 3:
			c.Breaker = v1.BreakerOpen
		case 4:
			c.Tiers = []v1.Tier{v1.TierCritical, v1.TierStandard}
		case 5:
			c.AllowedProjects = []string{"p0"}
		case 6:
			c.Weight = 0
		}
		c.Load = rng.IntN(10)
		c.Free.MilliCPU -= int64(rng.IntN(3000))
		c.Reserved = v1.Amounts{MilliCPU: int64(rng.IntN(2000))}
		s.Clusters = append(s.Clusters, c)
	}
	return s
}

var selectors = []*v1.LabelSelector{
	nil,
	{MatchLabels: map[string]string{"region": "eu"}},
	{MatchExpressions: []v1.LabelSelectorRequirement{{Key: "region", Operator: v1.OpIn, Values: []string{"us", "ap"}}}},
	{MatchExpressions: []v1.LabelSelectorRequirement{{Key: "gpu", Operator: v1.OpExists}}},
}

// randomQueue builds n pending executions over projects p0..p(np-1).
func randomQueue(rng *rand.Rand, n, np int) []Pending {
	q := make([]Pending, n)
	for i := range q {
		p := pending("p"+strconv.Itoa(rng.IntN(np)), i, v1.Tiers[rng.IntN(3)])
		p.Seq = uint64(rng.IntN(n))
		p.Attempt = rng.IntN(3)
		p.Selector = selectors[rng.IntN(len(selectors))]
		if rng.IntN(3) == 0 {
			p.PreferredLabels = map[string]string{"region": "us"}
		}
		p.Need = v1.Amounts{MilliCPU: int64(250 * (1 + rng.IntN(8))), MemoryBytes: int64(rng.IntN(4)) << 30, Pods: 1 + int64(rng.IntN(3))}
		if p.Selector == selectors[3] {
			p.Need.GPU = 1 + int64(rng.IntN(2))
		}
		q[i] = p
	}
	return q
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
