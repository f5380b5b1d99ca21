package placement

import (
	"testing"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// filterCase is one row of a filter table: a cluster view, what this round
// placed on it, the execution's shape and need, and the expected reason.
type filterCase struct {
	name   string
	view   func(*ClusterView)
	placed int
	shape  shape
	need   v1.Amounts
	want   string
}

func runFilterTable(t *testing.T, f filter, wantName string, cases []filterCase) {
	t.Helper()
	if f.Name() != wantName {
		t.Fatalf("Name() = %q, want %q", f.Name(), wantName)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := ready("c", 1, 4)
			if tc.view != nil {
				tc.view(&v)
			}
			cs := newClusters(&Snapshot{Clusters: []ClusterView{v}}, spotMatcher{})
			c := cs[0]
			for range tc.placed {
				c.place(v1.Amounts{})
			}
			sh := tc.shape
			if sh.tier == "" {
				sh.tier = v1.TierStandard
			}
			if got := f.Filter(c, &query{shape: &sh, need: tc.need}); got != tc.want {
				t.Errorf("Filter = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestStateFilter(t *testing.T) {
	state := func(s v1.ClusterState) func(*ClusterView) { return func(v *ClusterView) { v.State = s } }
	runFilterTable(t, stateFilter{}, FilterState, []filterCase{
		{name: "ready", view: state(v1.ClusterReady), want: ""},
		{name: "registered", view: state(v1.ClusterRegistered), want: ReasonRegistered},
		{name: "unhealthy", view: state(v1.ClusterUnhealthy), want: ReasonUnhealthy},
		{name: "cordoned", view: state(v1.ClusterCordoned), want: ReasonCordoned},
		{name: "draining", view: state(v1.ClusterDraining), want: ReasonDraining},
		{name: "drained", view: state(v1.ClusterDrained), want: ReasonDrained},
		{name: "removed", view: state(v1.ClusterRemoved), want: ReasonRemoved},
		{name: "empty", view: state(""), want: ReasonUnknownState},
	})
}

func TestHealthFilter(t *testing.T) {
	runFilterTable(t, healthFilter{}, FilterHealth, []filterCase{
		{name: "healthy settled closed", want: ""},
		{name: "breaker empty counts as closed", view: func(v *ClusterView) { v.Breaker = "" }, want: ""},
		{name: "half-open passes health", view: func(v *ClusterView) { v.Breaker = v1.BreakerHalfOpen }, want: ""},
		{name: "not healthy", view: func(v *ClusterView) { v.Healthy = false }, want: ReasonNotHealthy},
		{name: "not healthy wins over not settled", view: func(v *ClusterView) { v.Healthy, v.Settled = false, false }, want: ReasonNotHealthy},
		{name: "not settled", view: func(v *ClusterView) { v.Settled = false }, want: ReasonNotSettled},
		{name: "breaker open", view: func(v *ClusterView) { v.Breaker = v1.BreakerOpen }, want: ReasonBreakerOpen},
	})
}

func TestProbeFilter(t *testing.T) {
	halfOpen := func(v *ClusterView) { v.Breaker = v1.BreakerHalfOpen }
	runFilterTable(t, probeFilter{}, FilterProbe, []filterCase{
		{name: "half-open first placement is the probe", view: halfOpen, want: ""},
		{name: "half-open second placement refused", view: halfOpen, placed: 1, want: ReasonProbeUsed},
		{name: "closed takes many", placed: 5, want: ""},
	})
}

func TestWeightFilter(t *testing.T) {
	weight := func(w int) func(*ClusterView) { return func(v *ClusterView) { v.Weight = w } }
	runFilterTable(t, weightFilter{}, FilterWeight, []filterCase{
		{name: "weight 1", view: weight(1), want: ""},
		{name: "weight 100", view: weight(100), want: ""},
		{name: "weight 0", view: weight(0), want: ReasonZeroWeight},
		{name: "negative weight", view: weight(-1), want: ReasonZeroWeight},
	})
}

func TestTierFilter(t *testing.T) {
	tiers := func(ts ...v1.Tier) func(*ClusterView) { return func(v *ClusterView) { v.Tiers = ts } }
	runFilterTable(t, tierFilter{}, FilterTier, []filterCase{
		{name: "empty accepts all", shape: shape{tier: v1.TierBestEffort}, want: ""},
		{name: "listed", view: tiers(v1.TierCritical, v1.TierStandard), shape: shape{tier: v1.TierStandard}, want: ""},
		{name: "not listed", view: tiers(v1.TierCritical, v1.TierStandard), shape: shape{tier: v1.TierBestEffort}, want: ReasonTierNotAccepted},
		{name: "critical only", view: tiers(v1.TierCritical), shape: shape{tier: v1.TierStandard}, want: ReasonTierNotAccepted},
	})
}

func TestTenantFilter(t *testing.T) {
	allowed := func(ps ...string) func(*ClusterView) { return func(v *ClusterView) { v.AllowedProjects = ps } }
	runFilterTable(t, tenantFilter{}, FilterTenant, []filterCase{
		{name: "empty allows all", shape: shape{project: "a"}, want: ""},
		{name: "listed", view: allowed("b", "a"), shape: shape{project: "a"}, want: ""},
		{name: "wildcard", view: allowed("*"), shape: shape{project: "a"}, want: ""},
		{name: "not listed", view: allowed("b"), shape: shape{project: "a"}, want: ReasonProjectNotAllowed},
	})
}

func TestSelectorFilter(t *testing.T) {
	labels := func(v *ClusterView) { v.Labels = map[string]string{"region": "eu", "gpu": "a100"} }
	sel := func(s v1.LabelSelector) shape { return shape{selector: &s} }
	req := func(k string, op v1.SelectorOperator, vals ...string) v1.LabelSelector {
		return v1.LabelSelector{MatchExpressions: []v1.LabelSelectorRequirement{{Key: k, Operator: op, Values: vals}}}
	}
	runFilterTable(t, selectorFilter{}, FilterSelector, []filterCase{
		{name: "nil selector", view: labels, want: ""},
		{name: "matchLabels hit", view: labels, shape: sel(v1.LabelSelector{MatchLabels: map[string]string{"region": "eu"}}), want: ""},
		{name: "matchLabels miss", view: labels, shape: sel(v1.LabelSelector{MatchLabels: map[string]string{"region": "us"}}), want: ReasonSelectorMismatch},
		{name: "In hit", view: labels, shape: sel(req("region", v1.OpIn, "us", "eu")), want: ""},
		{name: "In miss", view: labels, shape: sel(req("region", v1.OpIn, "us")), want: ReasonSelectorMismatch},
		{name: "NotIn hit", view: labels, shape: sel(req("region", v1.OpNotIn, "us")), want: ""},
		{name: "NotIn miss", view: labels, shape: sel(req("region", v1.OpNotIn, "eu")), want: ReasonSelectorMismatch},
		{name: "Exists", view: labels, shape: sel(req("gpu", v1.OpExists)), want: ""},
		{name: "Exists miss", shape: sel(req("gpu", v1.OpExists)), want: ReasonSelectorMismatch},
		{name: "DoesNotExist", shape: sel(req("gpu", v1.OpDoesNotExist)), want: ""},
		{name: "DoesNotExist miss", view: labels, shape: sel(req("gpu", v1.OpDoesNotExist)), want: ReasonSelectorMismatch},
	})
}

func TestCapacityFilter(t *testing.T) {
	// ready("c", 1, 4): 4000m cpu, 4Gi, 0 gpu, 40 pods.
	be := shape{tier: v1.TierBestEffort}
	f := capacityFilter{bestEffortHeadroom: 0.25}
	runFilterTable(t, f, FilterCapacity, []filterCase{
		{name: "fits", need: unit, want: ""},
		{name: "fits exactly", need: v1.Amounts{MilliCPU: 4000, MemoryBytes: 4 << 30, Pods: 40}, want: ""},
		{name: "no capacity reported", view: func(v *ClusterView) { v.HasCapacity = false }, need: v1.Amounts{}, want: ReasonNoCapacity},
		{name: "cpu", need: v1.Amounts{MilliCPU: 4001}, want: ReasonInsufficientCPU},
		{name: "memory", need: v1.Amounts{MemoryBytes: 5 << 30}, want: ReasonInsufficientMemory},
		{name: "gpu", need: v1.Amounts{GPU: 1}, want: ReasonInsufficientGPU},
		{name: "pods", need: v1.Amounts{Pods: 41}, want: ReasonInsufficientPods},
		{name: "cpu reported before memory", need: v1.Amounts{MilliCPU: 5000, MemoryBytes: 5 << 30}, want: ReasonInsufficientCPU},
		{name: "reserved counts", view: func(v *ClusterView) { v.Reserved = v1.Amounts{MilliCPU: 3500} }, need: unit, want: ReasonInsufficientCPU},
		{name: "negative free fits nothing", view: func(v *ClusterView) { v.Free.Pods = -1 }, need: v1.Amounts{}, want: ReasonInsufficientPods},
		{name: "best-effort keeps headroom", shape: be, need: v1.Amounts{MilliCPU: 3000}, want: ""},
		{name: "best-effort would eat headroom", shape: be, need: v1.Amounts{MilliCPU: 3001}, want: ReasonBestEffortHeadroom},
		{name: "standard ignores headroom", need: v1.Amounts{MilliCPU: 4000}, want: ""},
	})
}

func TestFilterChainReportsFirstRejection(t *testing.T) {
	v := ready("c", 0, 1)
	v.State = v1.ClusterCordoned
	v.Healthy = false
	cs := newClusters(&Snapshot{Clusters: []ClusterView{v}}, spotMatcher{})
	fc := newFilterChain(&Options{})
	got := fc.check(cs[0], &query{shape: &shape{tier: v1.TierStandard}, need: unit})
	if got != (verdict{FilterState, ReasonCordoned}) {
		t.Fatalf("check = %+v, want state/cordoned", got)
	}
}
