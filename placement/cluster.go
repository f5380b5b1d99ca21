package placement

import (
	"sort"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// cluster is a ClusterView plus what this round has done to it. Within a
// round remaining only shrinks and load only grows, which the caches in
// group.go rely on.
type cluster struct {
	view *ClusterView
	// idx is the position in name order: the deterministic tiebreak.
	idx  int32
	spot bool
	// remaining is Free - Reserved - needs placed this round.
	remaining v1.Amounts
	// load is Load + placements this round.
	load   int
	placed int
	// version changes on every placement so heaps can spot stale keys.
	version uint32
	// headroom is the current headroom score, kept up to date on placement.
	headroom float64
}

// newClusters copies the snapshot's clusters in name order.
func newClusters(s *Snapshot, spot spotMatcher) []*cluster {
	views := make([]*ClusterView, len(s.Clusters))
	for i := range s.Clusters {
		views[i] = &s.Clusters[i]
	}
	sort.SliceStable(views, func(i, j int) bool { return views[i].Name < views[j].Name })
	cs := make([]*cluster, len(views))
	backing := make([]cluster, len(views))
	for i, v := range views {
		c := &backing[i]
		*c = cluster{
			view:      v,
			idx:       int32(i),
			spot:      spot.matches(v.Labels),
			remaining: v.Free.Sub(v.Reserved),
			load:      v.Load,
		}
		c.headroom = headroomScore{}.score(c)
		cs[i] = c
	}
	return cs
}

// place books need on the cluster.
func (c *cluster) place(need v1.Amounts) {
	c.remaining = c.remaining.Sub(need)
	c.load++
	c.placed++
	c.version++
	c.headroom = headroomScore{}.score(c)
}

// halfOpen reports whether the breaker admits only a probe.
func (c *cluster) halfOpen() bool { return c.view.Breaker == v1.BreakerHalfOpen }
