//go:build e2e

package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// TestAgentKilledFailsOver: kill -9 an agent mid-run. Its executions are
// requeued once its lease (1s) and the failover grace (2s) passed, not
// before, and finish elsewhere; nothing runs twice at once. Restarted, the
// agent's cluster settles and gets work again.
func TestAgentKilledFailsOver(t *testing.T) {
	const (
		n        = 150
		lease    = time.Second
		grace    = 2 * time.Second
		hbEvery  = 300 * time.Millisecond
		nodesPer = 6
	)
	start := time.Now()
	env := NewEnv(t, 3*time.Minute)
	w := chaosStart(env, chaosOptions{Clusters: []string{"a", "b", "c"}, TaskDuration: 500 * time.Millisecond,
		HeartbeatTimeout: lease, FailoverGrace: grace, SettleTime: time.Second})
	c := w.client(0)
	sub := &chaosSubmitter{w: w, nodes: nodesPer}
	sub.submit("k", n, 16, 0)
	env.Eventually(30*time.Second, "cluster a to run 30 executions", func() (bool, error) {
		cl, err := c.GetCluster(env.Ctx, "a")
		return err == nil && cl.Running >= 30, err
	})
	victim := w.agents["a"][0]
	victim.Kill()
	killedAt := time.Now()

	keys := sub.keys()
	execs := w.chaosFinished(keys, 2*time.Minute)

	var requeueAfter, replacedAfter []time.Duration
	for _, ex := range execs {
		if ex.Attempt == 1 {
			continue
		}
		for i, h := range ex.History {
			if h.Phase != v1.PhaseQueued || h.Attempt < 2 {
				continue
			}
			if h.Reason != v1.ReasonClusterLost {
				t.Errorf("%s requeued for %s, want %s", ex.Key(), h.Reason, v1.ReasonClusterLost)
			}
			requeueAfter = append(requeueAfter, h.At.Sub(killedAt))
			for _, next := range ex.History[i+1:] {
				if next.Phase == v1.PhaseAssigned {
					replacedAfter = append(replacedAfter, next.At.Sub(killedAt))
					if next.Cluster == "a" {
						t.Errorf("%s placed again on the dead cluster a", ex.Key())
					}
					break
				}
			}
		}
	}
	copies, err := w.chaosCopies(map[string]time.Time{victim.Name: killedAt})
	if err != nil {
		t.Fatal(err)
	}
	overlaps := chaosOverlaps(copies, time.Now())
	slices.Sort(requeueAfter)
	slices.Sort(replacedAfter)
	if len(requeueAfter) == 0 || len(replacedAfter) == 0 {
		t.Fatalf("nothing was requeued from the killed cluster (%d requeued, %d re-placed)", len(requeueAfter), len(replacedAfter))
	}
	first, last := requeueAfter[0], requeueAfter[len(requeueAfter)-1]
	placedLast := replacedAfter[len(replacedAfter)-1]
	r := chaosTally(keys, execs, overlaps, start,
		fmt.Sprintf("failed_over=%d", len(requeueAfter)),
		fmt.Sprintf("failover_first_requeue=%s", first.Round(10*time.Millisecond)),
		fmt.Sprintf("failover_last_requeue=%s", last.Round(10*time.Millisecond)),
		fmt.Sprintf("failover_last_replaced=%s", placedLast.Round(10*time.Millisecond)))
	w.report(r)
	for _, o := range overlaps {
		t.Errorf("ran twice at once: %s", o)
	}
	if r.Succeeded != n || r.Lost != 0 {
		t.Fatalf("want all %d Succeeded: %s", n, r.Line())
	}
	// Not before lease + grace from the last heartbeat (at most one
	// heartbeat interval before the kill), and soon after.
	if first < lease+grace-hbEvery {
		t.Fatalf("first requeue %s after the kill: before lease %s + grace %s", first, lease, grace)
	}
	if placedLast > lease+grace+5*time.Second {
		t.Fatalf("last re-placement %s after the kill", placedLast)
	}

	// Restarted, the agent comes back: healthy after settling, and placed
	// on again.
	w.startAgent("a", w.cp.Servers[0].URL)
	env.WaitClustersReady(c, 0, "a")
	sub2 := &chaosSubmitter{w: w, nodes: 2}
	sub2.submit("back", 60, 8, 0)
	again := w.chaosFinished(sub2.keys(), time.Minute)
	onA := 0
	for _, ex := range again {
		if ex.Phase != v1.PhaseSucceeded {
			t.Errorf("%s ended %s after the restart", ex.Key(), ex.Phase)
		}
		if ex.Cluster == "a" {
			onA++
		}
	}
	if onA == 0 {
		t.Fatal("the restarted cluster a got no work")
	}
}

// TestAgentCutOffStopsItself: an agent cut off from the control plane (a
// proxy between them drops everything) stops its workflows on its own
// once its lease grace (lease + failover grace/2, learned at connect)
// passed, before the control plane requeues them; healed, it reports
// nothing stale as a success, and nothing ran twice at once.
func TestAgentCutOffStopsItself(t *testing.T) {
	const n = 120
	start := time.Now()
	env := NewEnv(t, 3*time.Minute)
	w := chaosStart(env, chaosOptions{Clusters: []string{"a", "b", "c"}, TaskDuration: 500 * time.Millisecond,
		HeartbeatTimeout: time.Second, FailoverGrace: 3 * time.Second, SettleTime: time.Second, ViaProxy: true})
	c := w.client(0)
	sub := &chaosSubmitter{w: w, nodes: 8}
	sub.submit("cut", n, 16, 0)
	env.Eventually(30*time.Second, "cluster b to run 20 executions", func() (bool, error) {
		cl, err := c.GetCluster(env.Ctx, "b")
		return err == nil && cl.Running >= 20, err
	})
	w.proxies["b"].Cut()
	cutAt := time.Now()
	env.Eventually(30*time.Second, "cluster b's executions requeued", func() (bool, error) {
		cl, err := c.GetCluster(env.Ctx, "b")
		return err == nil && cl.Running == 0, err
	})
	w.proxies["b"].Heal()
	keys := sub.keys()
	execs := w.chaosFinished(keys, 2*time.Minute)
	env.WaitClustersReady(c, 0, "b")

	copies, err := w.chaosCopies(nil)
	if err != nil {
		t.Fatal(err)
	}
	overlaps := chaosOverlaps(copies, time.Now())
	selfAborted := 0
	for _, cp := range copies {
		if cp.Cluster == "b" && cp.How == "Aborted" && cp.End.After(cutAt) {
			selfAborted++
		}
	}
	requeued := 0
	for _, ex := range execs {
		if ex.Attempt > 1 {
			requeued++
		}
		// A stale success would show as a terminal entry of an attempt
		// the execution had already left.
		for _, h := range ex.History {
			if h.Phase.Terminal() && h.Attempt != ex.Attempt {
				t.Errorf("%s: stale attempt %d accepted as %s", ex.Key(), h.Attempt, h.Phase)
			}
		}
	}
	r := chaosTally(keys, execs, overlaps, start, fmt.Sprintf("requeued=%d", requeued), fmt.Sprintf("self_aborted=%d", selfAborted))
	w.report(r)
	for _, o := range overlaps {
		t.Errorf("ran twice at once: %s", o)
	}
	if r.Succeeded != n || r.Lost != 0 {
		t.Fatalf("want all %d Succeeded: %s", n, r.Line())
	}
	if requeued == 0 || selfAborted == 0 {
		t.Fatalf("requeued %d, self-aborted %d: the cut tested nothing", requeued, selfAborted)
	}
}
