package clusteragent

import (
	"log/slog"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// TestLeaseGraceDerived: with no lease grace configured the agent takes
// lease + failover grace/2 from the control plane's answer, so it stops a
// cut-off cluster's workflows after the lease ended and before the
// federation requeues them; a configured grace wins; without the failover
// grace nothing is derived.
func TestLeaseGraceDerived(t *testing.T) {
	cases := []struct {
		name       string
		configured time.Duration
		lease      time.Duration
		failover   time.Duration
		want       time.Duration
	}{
		{"derived", 0, 15 * time.Second, 60 * time.Second, 45 * time.Second},
		{"derived, small test values", 0, time.Second, 3 * time.Second, 2500 * time.Millisecond},
		{"configured wins", 20 * time.Second, 15 * time.Second, 60 * time.Second, 20 * time.Second},
		{"no failover grace said: none", 0, 15 * time.Second, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := &Agent{cfg: Config{LeaseGrace: tc.configured}, log: slog.New(slog.DiscardHandler)}
			a.learnLeaseGrace(v1.HeartbeatResponse{LeaseDuration: v1.Duration{Duration: tc.lease}, FailoverGrace: v1.Duration{Duration: tc.failover}})
			got := a.effectiveLeaseGrace()
			if got != tc.want {
				t.Fatalf("lease grace %s, want %s", got, tc.want)
			}
			if got > 0 && (got <= tc.lease || (tc.failover > 0 && got >= tc.lease+tc.failover)) && tc.configured == 0 {
				t.Fatalf("derived grace %s outside (lease %s, lease+failover %s)", got, tc.lease, tc.lease+tc.failover)
			}
		})
	}
}
