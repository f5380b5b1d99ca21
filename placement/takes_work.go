package placement

// clusterFilters are the filters whose verdict depends on the cluster
// alone, not on the execution: a cluster one of them rejects takes nothing.
var clusterFilters = []filter{stateFilter{}, healthFilter{}, weightFilter{}}

// TakesWork reports whether the cluster could take some execution at all:
// it passes every filter that does not depend on the execution. The
// scheduler uses it to skip a round that could place nothing, without
// walking the queue.
func (v *ClusterView) TakesWork() bool {
	return first(clusterFilters, &cluster{view: v}, nil).ok()
}
