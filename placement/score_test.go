package placement

import (
	"testing"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

func oneCluster(v ClusterView) *cluster {
	return newClusters(&Snapshot{Clusters: []ClusterView{v}}, spotMatcher{})[0]
}

func TestWeightScore(t *testing.T) {
	for _, tc := range []struct {
		name         string
		load, weight int
		placed       int
		want         float64
	}{
		{name: "empty weight 1", load: 0, weight: 1, want: 1},
		{name: "empty weight 4", load: 0, weight: 4, want: 0.25},
		{name: "load 3 weight 2", load: 3, weight: 2, want: 2},
		{name: "round placements count", load: 1, weight: 2, placed: 2, want: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := ready("c", tc.weight, 10)
			v.Load = tc.load
			c := oneCluster(v)
			for range tc.placed {
				c.place(v1.Amounts{})
			}
			if got := (weightScore{}).score(c); got != tc.want {
				t.Errorf("score = %g, want %g", got, tc.want)
			}
		})
	}
}

func TestHeadroomScore(t *testing.T) {
	for _, tc := range []struct {
		name string
		view func(*ClusterView)
		want float64
	}{
		{name: "all free", want: 1},
		{name: "smallest fraction wins", view: func(v *ClusterView) { v.Free.MilliCPU = 2000; v.Free.Pods = 10 }, want: 0.25},
		{name: "reserved counts", view: func(v *ClusterView) { v.Reserved.MemoryBytes = 3 << 30 }, want: 0.25},
		{name: "resources without allocatable ignored", view: func(v *ClusterView) { v.Allocatable.GPU = 0; v.Free.GPU = 0 }, want: 1},
		{name: "over-committed clamps to 0", view: func(v *ClusterView) { v.Free.MilliCPU = -5 }, want: 0},
		{name: "no capacity", view: func(v *ClusterView) { v.HasCapacity = false }, want: 0},
		{name: "no allocatable at all", view: func(v *ClusterView) { v.Allocatable = v1.Amounts{} }, want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := ready("c", 1, 4)
			if tc.view != nil {
				tc.view(&v)
			}
			c := oneCluster(v)
			if got := (headroomScore{}).Score(c, &shape{}); got != tc.want {
				t.Errorf("Score = %g, want %g", got, tc.want)
			}
		})
	}
	t.Run("falls as the round places", func(t *testing.T) {
		c := oneCluster(ready("c", 1, 4))
		c.place(unit)
		if got := (headroomScore{}).Score(c, &shape{}); got != 0.75 {
			t.Errorf("after one of four: %g, want 0.75", got)
		}
	})
}

func TestLabelsScore(t *testing.T) {
	labels := map[string]string{"region": "eu", "zone": "a"}
	for _, tc := range []struct {
		name      string
		preferred map[string]string
		want      float64
	}{
		{name: "none preferred", want: 0},
		{name: "all match", preferred: map[string]string{"region": "eu", "zone": "a"}, want: 1},
		{name: "half match", preferred: map[string]string{"region": "eu", "zone": "b"}, want: 0.5},
		{name: "key missing", preferred: map[string]string{"tier": "gold"}, want: 0},
		{name: "value differs", preferred: map[string]string{"region": "us"}, want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := ready("c", 1, 4)
			v.Labels = labels
			if got := (labelsScore{}).Score(oneCluster(v), &shape{preferred: tc.preferred}); got != tc.want {
				t.Errorf("Score = %g, want %g", got, tc.want)
			}
		})
	}
}

// TestSecondaryBonusesStayBelowOneExecution protects the weight-balance
// guarantee: secondary scores must never outweigh one execution of load.
func TestSecondaryBonusesStayBelowOneExecution(t *testing.T) {
	sum := 0.0
	for _, s := range newScorerSet().all() {
		sum += s.Bonus()
	}
	if sum >= 1 {
		t.Fatalf("secondary bonuses sum to %g, must be < 1", sum)
	}
}

func TestTotalCombinesScores(t *testing.T) {
	for _, tc := range []struct {
		name      string
		load      int
		weight    int
		freeFrac  int64 // free quarters of allocatable
		preferred map[string]string
		want      float64
	}{
		{name: "plain", load: 3, weight: 2, freeFrac: 0, want: 2},
		{name: "full headroom", load: 3, weight: 1, freeFrac: 4, want: 4 - 0.25},
		{name: "labels and headroom", load: 3, weight: 1, freeFrac: 4, preferred: map[string]string{"region": "eu"}, want: 4 - 0.25 - 0.5},
		{name: "weight divides bonus too", load: 1, weight: 2, freeFrac: 2, want: (2 - 0.125) / 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := ready("c", tc.weight, 4)
			v.Labels = map[string]string{"region": "eu"}
			v.Load = tc.load
			v.Free = v1.Amounts{MilliCPU: tc.freeFrac * 1000, MemoryBytes: tc.freeFrac << 30, Pods: tc.freeFrac * 10}
			r := newRound(&Snapshot{Clusters: []ClusterView{v}}, &Options{})
			g := r.newGroup(shape{tier: v1.TierStandard, preferred: tc.preferred}, unit)
			if got := g.key(r, r.clusters[0]); got != tc.want {
				t.Errorf("Total = %g, want %g", got, tc.want)
			}
		})
	}
}
