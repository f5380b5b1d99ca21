package placement

import (
	"testing"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

func TestTakesWork(t *testing.T) {
	ready := ClusterView{Name: "a", State: v1.ClusterReady, Healthy: true, Settled: true, Weight: 1, Breaker: v1.BreakerClosed}
	for _, tc := range []struct {
		name   string
		change func(v *ClusterView)
		want   bool
	}{
		{"ready", func(*ClusterView) {}, true},
		{"half-open breaker admits a probe", func(v *ClusterView) { v.Breaker = v1.BreakerHalfOpen }, true},
		{"cordoned", func(v *ClusterView) { v.State = v1.ClusterCordoned }, false},
		{"draining", func(v *ClusterView) { v.State = v1.ClusterDraining }, false},
		{"lease missed", func(v *ClusterView) { v.Healthy = false }, false},
		{"settling", func(v *ClusterView) { v.Settled = false }, false},
		{"breaker open", func(v *ClusterView) { v.Breaker = v1.BreakerOpen }, false},
		{"weight 0", func(v *ClusterView) { v.Weight = 0 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := ready
			tc.change(&v)
			if got := v.TakesWork(); got != tc.want {
				t.Fatalf("TakesWork() = %v, want %v", got, tc.want)
			}
		})
	}
}
