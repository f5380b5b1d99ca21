package placement

import v1 "github.com/federation-dev/federation/api/federation/v1alpha1"

// Reasons of the health and probe filters.
const (
	ReasonNotHealthy  = "agent lease missed"
	ReasonNotSettled  = "settling after recovery"
	ReasonBreakerOpen = "circuit breaker open"
	ReasonProbeUsed   = "circuit breaker half-open: probe already placed this round"
)

// healthFilter admits clusters whose agent is healthy, has been so for the
// settle time, and whose breaker is not open.
type healthFilter struct{}

func (healthFilter) Name() string { return FilterHealth }

func (healthFilter) Filter(c *cluster, _ *query) string {
	switch {
	case !c.view.Healthy:
		return ReasonNotHealthy
	case !c.view.Settled:
		return ReasonNotSettled
	case c.view.Breaker == v1.BreakerOpen:
		return ReasonBreakerOpen
	}
	return ""
}

// probeFilter lets a half-open breaker take one placement per round: the
// probe whose outcome closes or reopens it.
type probeFilter struct{}

func (probeFilter) Name() string { return FilterProbe }

func (probeFilter) Filter(c *cluster, _ *query) string {
	if c.halfOpen() && c.placed > 0 {
		return ReasonProbeUsed
	}
	return ""
}
