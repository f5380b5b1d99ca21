package placement

import v1 "github.com/federation-dev/federation/api/federation/v1alpha1"

// Filter names, as reported in ClusterVerdict.Filter.
const (
	FilterState    = "state"
	FilterHealth   = "health"
	FilterWeight   = "weight"
	FilterTier     = "tier"
	FilterTenant   = "tenant"
	FilterSelector = "selector"
	FilterProbe    = "probe"
	FilterCapacity = "capacity"
)

// A filter rejects clusters an execution must not be placed on.
type filter interface {
	// Name identifies the filter in verdicts.
	Name() string
	// Filter returns "" if c may take q, or the reason it may not.
	Filter(c *cluster, q *query) string
}

// shape is what executions share when they see the same clusters alike.
type shape struct {
	tier      v1.Tier
	project   string
	selector  *v1.LabelSelector
	preferred map[string]string
}

// query is one execution asking one cluster.
type query struct {
	shape *shape
	need  v1.Amounts
}

// verdict is a filter's rejection; the zero verdict means feasible.
type verdict struct {
	filter, reason string
}

func (v verdict) ok() bool { return v.filter == "" }

// filterChain holds the filters in the order their verdicts are reported.
// Static filters depend only on the cluster and the shape, so a shape
// checks them once per round; dynamic ones depend on what this round has
// placed and on the need.
type filterChain struct {
	static, dynamic []filter
}

func newFilterChain(o *Options) filterChain {
	return filterChain{
		static: []filter{
			stateFilter{},
			healthFilter{},
			weightFilter{},
			tierFilter{},
			tenantFilter{},
			selectorFilter{},
		},
		dynamic: []filter{
			probeFilter{},
			capacityFilter{bestEffortHeadroom: o.BestEffortHeadroom},
		},
	}
}

func first(fs []filter, c *cluster, q *query) verdict {
	for _, f := range fs {
		if r := f.Filter(c, q); r != "" {
			return verdict{filter: f.Name(), reason: r}
		}
	}
	return verdict{}
}

// checkStatic returns the first static rejection of c for q.
func (fc filterChain) checkStatic(c *cluster, q *query) verdict { return first(fc.static, c, q) }

// checkDynamic returns the first dynamic rejection of c for q.
func (fc filterChain) checkDynamic(c *cluster, q *query) verdict { return first(fc.dynamic, c, q) }

// check returns the first rejection of c for q by any filter.
func (fc filterChain) check(c *cluster, q *query) verdict {
	if v := fc.checkStatic(c, q); !v.ok() {
		return v
	}
	return fc.checkDynamic(c, q)
}
