package placement

// ReasonSelectorMismatch rejects clusters whose labels miss the selector.
const ReasonSelectorMismatch = "labels do not match selector"

// selectorFilter admits clusters whose labels match the execution's
// cluster selector; no selector matches all.
type selectorFilter struct{}

func (selectorFilter) Name() string { return FilterSelector }

func (selectorFilter) Filter(c *cluster, q *query) string {
	if q.shape.selector.Matches(c.view.Labels) {
		return ""
	}
	return ReasonSelectorMismatch
}
