package placement

// headroomScore prefers clusters with more room left: the smallest
// fraction of allocatable still free, over the resources the cluster has
// (cpu, memory, gpu, pods), clamped to [0,1]. It is measured before the
// execution is placed, so it is a property of the cluster alone and only
// falls as the round places work.
type headroomScore struct{}

func (headroomScore) Name() string { return ScoreHeadroom }

func (headroomScore) Bonus() float64 { return HeadroomBonus }

func (headroomScore) Score(c *cluster, _ *shape) float64 { return c.headroom }

// score computes the headroom of c from its remaining capacity; cluster
// caches it on every placement.
func (headroomScore) score(c *cluster) float64 {
	if !c.view.HasCapacity {
		return 0
	}
	a, r := c.view.Allocatable, c.remaining
	frac, has := 1.0, false
	for _, d := range [4][2]int64{{r.MilliCPU, a.MilliCPU}, {r.MemoryBytes, a.MemoryBytes}, {r.GPU, a.GPU}, {r.Pods, a.Pods}} {
		if d[1] <= 0 {
			continue
		}
		has = true
		frac = min(frac, float64(d[0])/float64(d[1]))
	}
	if !has {
		return 0
	}
	return max(frac, 0)
}
