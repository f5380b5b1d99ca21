package federation

import (
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/raftstore"
)

// healthServer is a service over a leading node with no loops running: the
// test calls the health monitor's check with the times it chooses.
func healthServer(t *testing.T, mutate func(*Config)) (*raftstore.Node, *healthMonitor) {
	t.Helper()
	node := soloLeader(t)
	cfg := testConfig()
	cfg.HeartbeatTimeout = 2 * time.Second
	cfg.FailoverGrace = 3 * time.Second
	cfg.SettleTime = 5 * time.Second
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg, node)
	if err != nil {
		t.Fatal(err)
	}
	return node, newHealthMonitor(srv)
}

func heartbeatAt(t *testing.T, node *raftstore.Node, name string, at time.Time) {
	t.Helper()
	applyOK(t, node, raftstore.Command{Type: raftstore.CmdHeartbeat, At: at, Name: name, Heartbeat: &v1.Heartbeat{AgentVersion: "test"}})
}

// TestHealthSettle: a missed lease makes a cluster unhealthy at once; a
// cluster that comes back is healthy again only after its lease stayed
// fresh for the settle time, and a flap in between starts that over. A new
// cluster needs no settling.
func TestHealthSettle(t *testing.T) {
	node, h := healthServer(t, nil)
	t0 := time.Now().UTC().Truncate(time.Second)
	applyOK(t, node, raftstore.Command{Type: raftstore.CmdRegisterCluster, Cluster: &v1.ClusterSpec{Name: "east", Weight: 1}})
	heartbeatAt(t, node, "east", t0)

	type step struct {
		heartbeat bool          // heartbeat at this offset first
		at        time.Duration // offset from t0
		healthy   bool
	}
	steps := []step{
		{at: 0, healthy: true}, // first heartbeat: healthy at once
		{at: 1 * time.Second, healthy: true},
		{at: 2500 * time.Millisecond, healthy: false}, // lease (2s) missed
		{heartbeat: true, at: 3 * time.Second, healthy: false},
		{heartbeat: true, at: 4 * time.Second, healthy: false}, // settling: 1s of 5s
		{at: 6500 * time.Millisecond, healthy: false},          // flapped: silent 2.5s
		{heartbeat: true, at: 7 * time.Second, healthy: false}, // fresh again: window starts over
		{heartbeat: true, at: 9 * time.Second, healthy: false},
		{heartbeat: true, at: 11 * time.Second, healthy: false}, // 4s of 5s
		{heartbeat: true, at: 12 * time.Second, healthy: true},  // 5s: settled
	}
	for i, s := range steps {
		at := t0.Add(s.at)
		if s.heartbeat {
			heartbeatAt(t, node, "east", at)
		}
		h.check(ctxT(t), at)
		c, _ := node.State().Cluster("east")
		if c.Healthy != s.healthy {
			t.Fatalf("step %d (t0+%s): healthy %v, want %v (state %s)", i, s.at, c.Healthy, s.healthy, c.State)
		}
		wantState := v1.ClusterReady
		if !s.healthy {
			wantState = v1.ClusterUnhealthy
		}
		if c.State != wantState {
			t.Fatalf("step %d (t0+%s): state %s, want %s", i, s.at, c.State, wantState)
		}
	}
}

// TestHealthDrainRequeuesAhead: a draining cluster's executions are
// requeued at the rate limit, starting early enough that none is left
// there at the deadline, and whatever is left at the deadline goes at once.
func TestHealthDrainRequeuesAhead(t *testing.T) {
	const n = 12
	cases := []struct {
		name     string
		before   time.Duration // check this long before the deadline
		requeued func(got int) bool
		want     string
	}{
		{"far from the deadline: nothing", 30 * time.Second, func(got int) bool { return got == 0 }, "0"},
		// 12 executions at 4/s need 3s (+2 ticks): at 2s before, requeue
		// starts, limited to the burst of 4.
		{"within the time the requeues take: rate-limited", 2 * time.Second, func(got int) bool { return got == 4 }, "4 (the burst)"},
		{"at the deadline: everything", 0, func(got int) bool { return got == n }, "all 12"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			node, h := healthServer(t, func(c *Config) { c.RequeueRate = 4 })
			now := time.Now().UTC()
			registerReady(t, node, "east")
			registerReady(t, node, "west")
			placeOn(t, node, "east", "d", n, now)
			deadline := now.Add(time.Minute)
			applyOK(t, node, raftstore.Command{Type: raftstore.CmdDrain, Name: "east", Deadline: deadline})
			// Keep both leases fresh at the check.
			at := deadline.Add(-tc.before)
			heartbeatAt(t, node, "east", at)
			heartbeatAt(t, node, "west", at)
			h.check(ctxT(t), at)
			got := n - len(node.State().OnCluster("east"))
			if !tc.requeued(got) {
				t.Fatalf("%d requeued, want %s", got, tc.want)
			}
			for _, ex := range node.State().Queued() {
				if ex.Attempt != 2 || ex.Reason != v1.ReasonDrainDeadline {
					t.Fatalf("requeued %s: attempt %d reason %s, want attempt 2 reason %s", ex.Key(), ex.Attempt, ex.Reason, v1.ReasonDrainDeadline)
				}
			}
			if c, _ := node.State().Cluster("east"); got == n && c.State != v1.ClusterDrained {
				t.Fatalf("cluster is %s with nothing on it, want Drained", c.State)
			}
		})
	}
}

// TestHealthFailover: a cluster silent past lease + failover grace has its
// executions requeued, unless most clusters went silent at once (then the
// control plane assumes it is the one cut off and freezes failover).
func TestHealthFailover(t *testing.T) {
	cases := []struct {
		name     string
		silent   []string // clusters that stop heartbeating
		requeued bool
	}{
		{"one of three lost", []string{"a"}, true},
		{"two of three silent: partition, frozen", []string{"a", "b"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			node, h := healthServer(t, nil)
			t0 := time.Now().UTC()
			for _, c := range []string{"a", "b", "c"} {
				registerReady(t, node, c)
				heartbeatAt(t, node, c, t0)
			}
			placeOn(t, node, "a", "f", 3, t0)
			at := t0.Add(6 * time.Second) // past 2s lease + 3s grace
			silent := map[string]bool{}
			for _, c := range tc.silent {
				silent[c] = true
			}
			for _, c := range []string{"a", "b", "c"} {
				if !silent[c] {
					heartbeatAt(t, node, c, at)
				}
			}
			h.check(ctxT(t), at)
			left := len(node.State().OnCluster("a"))
			if tc.requeued && left != 0 {
				t.Fatalf("%d executions still on the lost cluster", left)
			}
			if !tc.requeued && left != 3 {
				t.Fatalf("%d of 3 executions left the cluster during a frozen failover", left)
			}
			for _, ex := range node.State().Queued() {
				if ex.Reason != v1.ReasonClusterLost || ex.Attempt != 2 {
					t.Fatalf("requeued %s: reason %s attempt %d", ex.Key(), ex.Reason, ex.Attempt)
				}
			}
		})
	}
}

// TestInHandoff: an execution requeued by a drain waits the handoff before
// it is placed again; other requeues do not wait.
func TestInHandoff(t *testing.T) {
	at := time.Now().UTC()
	ex := func(reason string, ago time.Duration) *v1.Execution {
		return &v1.Execution{History: []v1.PhaseTransition{{Phase: v1.PhaseQueued, Reason: reason, At: at.Add(-ago)}}}
	}
	cases := []struct {
		name string
		ex   *v1.Execution
		want bool
	}{
		{"just requeued by a drain", ex(v1.ReasonDrainDeadline, 100*time.Millisecond), true},
		{"requeued by a drain long ago", ex(v1.ReasonDrainDeadline, 3*time.Second), false},
		{"requeued from a lost cluster", ex(v1.ReasonClusterLost, 0), false},
		{"fresh submission", ex(v1.ReasonSubmitted, 0), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := inHandoff(tc.ex, at, 2*time.Second); got != tc.want {
				t.Fatalf("inHandoff = %v, want %v", got, tc.want)
			}
		})
	}
}
