//go:build e2e

package e2e

import (
	"fmt"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// TestLeaderKilledDuringBurst: kill -9 the Raft leader while submissions
// pour in through every replica. Every acknowledged submission is present
// and finishes, and scheduling resumes within 2 seconds of the kill
// (measured as the first placement a new leader commits).
func TestLeaderKilledDuringBurst(t *testing.T) {
	const n = 400
	start := time.Now()
	env := NewEnv(t, 3*time.Minute)
	w := chaosStart(env, chaosOptions{Clusters: []string{"a", "b", "c"}, TaskDuration: 200 * time.Millisecond,
		HeartbeatTimeout: 3 * time.Second, FailoverGrace: 5 * time.Second, SettleTime: time.Second})
	sub := &chaosSubmitter{w: w, nodes: 3}
	done := make(chan struct{})
	go func() { defer close(done); sub.submit("burst", n, 16, 5*time.Millisecond) }()
	env.Eventually(30*time.Second, "100 acknowledged submissions", func() (bool, error) {
		return len(sub.keys()) >= 100, nil
	})
	leader := w.cp.Leader()
	leader.Proc.Kill()
	killedAt := time.Now()
	<-done
	keys := sub.keys()
	execs := w.chaosFinished(keys, 2*time.Minute)

	// The first placement committed after the kill, by anyone's clock on
	// this machine: the new leader's scheduler at work.
	var resumed time.Duration = -1
	for _, ex := range execs {
		for _, h := range ex.History {
			if h.Phase == v1.PhaseAssigned && h.At.After(killedAt) {
				if d := h.At.Sub(killedAt); resumed < 0 || d < resumed {
					resumed = d
				}
			}
		}
	}
	copies, err := w.chaosCopies(nil)
	if err != nil {
		t.Fatal(err)
	}
	overlaps := chaosOverlaps(copies, time.Now())
	r := chaosTally(keys, execs, overlaps, start, fmt.Sprintf("killed_leader=%s", leader.ID),
		fmt.Sprintf("scheduling_resumed_after=%s", resumed.Round(time.Millisecond)),
		fmt.Sprintf("submit_retries=%d", sub.fails.Load()))
	w.report(r)
	for _, o := range overlaps {
		t.Errorf("ran twice at once: %s", o)
	}
	if len(keys) != n || r.Succeeded != n || r.Lost != 0 {
		t.Fatalf("want all %d acknowledged and Succeeded: %s", n, r.Line())
	}
	if resumed < 0 || resumed > 2*time.Second {
		t.Fatalf("scheduling resumed %s after the leader was killed, want within 2s", resumed)
	}
}
