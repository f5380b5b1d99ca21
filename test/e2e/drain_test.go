//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// TestDrainUnderLoad is issue 5's rolling-upgrade promise: with 500
// executions running and arriving on 3 clusters, `fedctl cluster drain a
// --deadline 2.5s --wait` empties cluster a by its deadline: every execution
// ends Succeeded, nothing runs on a after the deadline, no execution runs
// twice at the same time, and the requeued ones resume from the nodes that
// already succeeded instead of starting over.
func TestDrainUnderLoad(t *testing.T) {
	const (
		upfront, arriving = 300, 200
		nodes             = 8
		deadlineIn        = 2500 * time.Millisecond
	)
	start := time.Now()
	env := NewEnv(t, 3*time.Minute)
	w := chaosStart(env, chaosOptions{Clusters: []string{"a", "b", "c"}, TaskDuration: 500 * time.Millisecond,
		HeartbeatTimeout: 2 * time.Second, FailoverGrace: 4 * time.Second, SettleTime: time.Second, RequeueRate: 100})
	sub := &chaosSubmitter{w: w, nodes: nodes}
	sub.submit("up", upfront, 16, 0)
	c := w.client(0)
	env.Eventually(30*time.Second, "cluster a to run 50 executions", func() (bool, error) {
		cl, err := c.GetCluster(env.Ctx, "a")
		return err == nil && cl.Running >= 50, err
	})

	arrived := make(chan struct{})
	go func() { defer close(arrived); sub.submit("arr", arriving, 4, 30*time.Millisecond) }()

	fedctl := filepath.Join(env.BinDir, "fedctl")
	ctx, cancel := context.WithTimeout(env.Ctx, time.Minute)
	defer cancel()
	drainStart := time.Now()
	out, err := exec.CommandContext(ctx, fedctl, "--server", w.cp.Servers[1].URL, "cluster", "drain", "a",
		"--deadline", deadlineIn.String(), "--wait", "--interval", "500ms").CombinedOutput()
	drainedAfter := time.Since(drainStart)
	t.Logf("fedctl cluster drain a --wait (%s):\n%s", drainedAfter.Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("fedctl drain --wait: %v", err)
	}
	if !strings.Contains(string(out), "cluster/a drained") || !strings.Contains(string(out), "execution(s) left") {
		t.Fatalf("drain --wait output lacks progress or the final line:\n%s", out)
	}
	cl, err := c.GetCluster(env.Ctx, "a")
	if err != nil || cl.State != v1.ClusterDrained || cl.DrainDeadline == nil {
		t.Fatalf("cluster a after drain --wait: %+v, %v", cl, err)
	}
	deadline := *cl.DrainDeadline
	<-arrived
	keys := sub.keys()
	execs := w.chaosFinished(keys, 2*time.Minute)

	copies, err := w.chaosCopies(nil)
	if err != nil {
		t.Fatal(err)
	}
	overlaps := chaosOverlaps(copies, time.Now())
	var onAAfter, requeued, resumedRuns, resumedNodes int
	for _, cp := range copies {
		if cp.Cluster == "a" && (cp.End.IsZero() || cp.End.After(deadline) || cp.Start.After(drainStart.Add(time.Second))) {
			onAAfter++
			t.Errorf("copy on drained cluster a outside the drain: %+v (deadline %s)", cp, deadline.Format("15:04:05.000"))
		}
		if cp.Attempt > 1 {
			resumedRuns++
			resumedNodes += cp.Resumed
		}
	}
	for _, ex := range execs {
		if ex.Attempt > 1 {
			requeued++
			for _, h := range ex.History {
				if h.Phase == v1.PhaseQueued && h.Attempt > 1 && h.Reason != v1.ReasonDrainDeadline {
					t.Errorf("%s requeued for %s, want %s", ex.Key(), h.Reason, v1.ReasonDrainDeadline)
				}
			}
		}
	}
	r := chaosTally(keys, execs, overlaps, start,
		fmt.Sprintf("drained_after=%s", drainedAfter.Round(100*time.Millisecond)),
		fmt.Sprintf("requeued=%d", requeued), fmt.Sprintf("resumed_nodes=%d", resumedNodes),
		fmt.Sprintf("on_drained_after_deadline=%d", onAAfter))
	w.report(r)
	for _, o := range overlaps {
		t.Errorf("ran twice at once: %s", o)
	}
	if r.Submitted != upfront+arriving || r.Succeeded != r.Submitted || r.Lost != 0 {
		t.Fatalf("want all %d Succeeded: %s", upfront+arriving, r.Line())
	}
	if requeued == 0 {
		t.Fatal("the drain requeued nothing: the deadline was too long to test anything")
	}
	if resumedNodes == 0 {
		t.Fatalf("%d requeued executions restarted, none resumed a succeeded node", resumedRuns)
	}
	if drainedAfter > deadlineIn+3*time.Second {
		t.Fatalf("drain took %s with a %s deadline", drainedAfter, deadlineIn)
	}

	// Uncordon returns the cluster to service.
	if _, err := c.Uncordon(env.Ctx, "a"); err != nil {
		t.Fatal(err)
	}
	env.WaitClustersReady(c, 0, "a")
}
