package placement

import v1 "github.com/federation-dev/federation/api/federation/v1alpha1"

// Reasons of the capacity filter, the first resource short is reported.
const (
	ReasonNoCapacity         = "no capacity reported yet"
	ReasonInsufficientCPU    = "insufficient cpu"
	ReasonInsufficientMemory = "insufficient memory"
	ReasonInsufficientGPU    = "insufficient gpu"
	ReasonInsufficientPods   = "insufficient pods"
	ReasonBestEffortHeadroom = "best-effort would eat into headroom"
)

// capacityFilter admits clusters where the need fits what is left: Free
// net of Reserved and of this round's placements, in every resource.
// Best-effort must further leave bestEffortHeadroom of allocatable free in
// every resource, so it waits in bursts instead of forcing scale-up.
type capacityFilter struct {
	bestEffortHeadroom float64
}

func (capacityFilter) Name() string { return FilterCapacity }

func (f capacityFilter) Filter(c *cluster, q *query) string {
	if !c.view.HasCapacity {
		return ReasonNoCapacity
	}
	r, n := c.remaining, q.need
	switch {
	case n.MilliCPU > r.MilliCPU:
		return ReasonInsufficientCPU
	case n.MemoryBytes > r.MemoryBytes:
		return ReasonInsufficientMemory
	case n.GPU > r.GPU:
		return ReasonInsufficientGPU
	case n.Pods > r.Pods:
		return ReasonInsufficientPods
	}
	if q.shape.tier == v1.TierBestEffort && !keepsHeadroom(r.Sub(n), c.view.Allocatable, f.bestEffortHeadroom) {
		return ReasonBestEffortHeadroom
	}
	return ""
}

// keepsHeadroom reports whether left is at least frac of alloc in every
// resource.
func keepsHeadroom(left, alloc v1.Amounts, frac float64) bool {
	if frac <= 0 {
		return true
	}
	return float64(left.MilliCPU) >= frac*float64(alloc.MilliCPU) &&
		float64(left.MemoryBytes) >= frac*float64(alloc.MemoryBytes) &&
		float64(left.GPU) >= frac*float64(alloc.GPU) &&
		float64(left.Pods) >= frac*float64(alloc.Pods)
}
