package placement

import v1 "github.com/federation-dev/federation/api/federation/v1alpha1"

// Reasons of the state filter, one per state that takes no new work.
const (
	ReasonRegistered   = "registered, not yet ready"
	ReasonUnhealthy    = "unhealthy"
	ReasonCordoned     = "cordoned"
	ReasonDraining     = "draining"
	ReasonDrained      = "drained"
	ReasonRemoved      = "removed"
	ReasonUnknownState = "unknown state"
)

// stateFilter admits only clusters in the Ready state.
type stateFilter struct{}

func (stateFilter) Name() string { return FilterState }

func (stateFilter) Filter(c *cluster, _ *query) string {
	switch c.view.State {
	case v1.ClusterReady:
		return ""
	case v1.ClusterRegistered:
		return ReasonRegistered
	case v1.ClusterUnhealthy:
		return ReasonUnhealthy
	case v1.ClusterCordoned:
		return ReasonCordoned
	case v1.ClusterDraining:
		return ReasonDraining
	case v1.ClusterDrained:
		return ReasonDrained
	case v1.ClusterRemoved:
		return ReasonRemoved
	}
	return ReasonUnknownState
}
