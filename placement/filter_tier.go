package placement

// ReasonTierNotAccepted rejects clusters that do not take the tier.
const ReasonTierNotAccepted = "tier not accepted"

// tierFilter admits clusters that accept the execution's tier; a cluster
// listing no tiers accepts all.
type tierFilter struct{}

func (tierFilter) Name() string { return FilterTier }

func (tierFilter) Filter(c *cluster, q *query) string {
	if len(c.view.Tiers) == 0 {
		return ""
	}
	for _, t := range c.view.Tiers {
		if t == q.shape.tier {
			return ""
		}
	}
	return ReasonTierNotAccepted
}
