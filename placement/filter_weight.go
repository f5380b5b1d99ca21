package placement

// ReasonZeroWeight rejects clusters whose weight gives them no share.
const ReasonZeroWeight = "weight 0: takes no new executions"

// weightFilter rejects clusters of weight 0 (or less). A weight-0 cluster
// would have an infinite weighted load; treating it as a last resort would
// make "weight 0" an unreliable way to move traffic off a cluster, so it
// takes nothing.
type weightFilter struct{}

func (weightFilter) Name() string { return FilterWeight }

func (weightFilter) Filter(c *cluster, _ *query) string {
	if c.view.Weight <= 0 {
		return ReasonZeroWeight
	}
	return ""
}
