package placement

import (
	"testing"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// TestShapesGroupExactlyTheEquivalentExecutions: executions that must see
// clusters alike share a shape, and no label content merges two that
// must not.
func TestShapesGroupExactlyTheEquivalentExecutions(t *testing.T) {
	in := func(vals ...string) *v1.LabelSelector {
		return &v1.LabelSelector{MatchExpressions: []v1.LabelSelectorRequirement{
			{Key: "gpu", Operator: v1.OpExists},
			{Key: "region", Operator: v1.OpIn, Values: vals},
		}}
	}
	restricted := ready("r", 1, 1)
	restricted.AllowedProjects = []string{"a", "b"}
	for _, tc := range []struct {
		name string
		a, b Pending
		same bool
	}{
		{name: "identical", a: Pending{}, b: Pending{}, same: true},
		{name: "empty tier is standard", a: Pending{Tier: ""}, b: Pending{Tier: v1.TierStandard}, same: true},
		{name: "tiers differ", a: Pending{Tier: v1.TierCritical}, b: Pending{Tier: v1.TierStandard}},
		{name: "values reordered", a: Pending{Selector: in("eu", "us")}, b: Pending{Selector: in("us", "eu")}, same: true},
		{
			name: "expressions reordered",
			a:    Pending{Selector: in("eu")},
			b: Pending{Selector: &v1.LabelSelector{MatchExpressions: []v1.LabelSelectorRequirement{
				{Key: "region", Operator: v1.OpIn, Values: []string{"eu"}},
				{Key: "gpu", Operator: v1.OpExists},
			}}},
			same: true,
		},
		{name: "values differ", a: Pending{Selector: in("eu")}, b: Pending{Selector: in("us")}},
		{
			name: "label content cannot forge a boundary",
			a:    Pending{Selector: &v1.LabelSelector{MatchLabels: map[string]string{"a": "b\x01c=d"}}},
			b:    Pending{Selector: &v1.LabelSelector{MatchLabels: map[string]string{"a": "b", "c": "d"}}},
		},
		{name: "preferred differ", a: Pending{PreferredLabels: map[string]string{"x": "1"}}, b: Pending{PreferredLabels: map[string]string{"x": "2"}}},
		{name: "projects of one tenant class", a: Pending{Key: v1.ExecutionKey{Project: "a"}}, b: Pending{Key: v1.ExecutionKey{Project: "b"}}, same: true},
		{name: "projects of different tenant classes", a: Pending{Key: v1.ExecutionKey{Project: "a"}}, b: Pending{Key: v1.ExecutionKey{Project: "c"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRound(&Snapshot{Clusters: []ClusterView{ready("open", 1, 1), restricted}}, &Options{})
			var ea, eb entry
			r.intake(&ea, &tc.a, 0)
			r.intake(&eb, &tc.b, 1)
			if got := ea.group == eb.group; got != tc.same {
				t.Fatalf("same shape = %v, want %v", got, tc.same)
			}
		})
	}
}
