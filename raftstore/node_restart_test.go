package raftstore

import (
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// smallSnapshots makes nodes snapshot and truncate their logs often, so a
// node that was down must catch up from a snapshot, not only from the log.
func smallSnapshots(c *Config) {
	c.SnapshotThreshold = 32
	c.TrailingLogs = 16
	c.SnapshotInterval = 50 * time.Millisecond
}

// TestRestartedFollowerCatchesUp: a node closed and restarted from its data
// dir gets the writes made while it was down.
func TestRestartedFollowerCatchesUp(t *testing.T) {
	c := newTestCluster(t, 3, smallSnapshots)
	ctx := testCtx(t, 60*time.Second)
	leader := c.leader()
	before := submitN(ctx, leader, "before", 50, 1)

	var down *Node
	for _, n := range c.nodes {
		if n != leader {
			down = n
			break
		}
	}
	if err := down.Close(); err != nil {
		t.Fatal(err)
	}
	// One at a time, so there are many log entries and the leader
	// compacts past what the closed node has.
	during := submitN(ctx, leader, "during", 200, 1)
	if len(during) != 200 {
		t.Fatalf("%d of 200 writes acknowledged with one node down", len(during))
	}
	if err := leader.Snapshot(); err != nil {
		t.Fatal(err)
	}

	restarted := openNode(t, c.cfgs[down.ID()])
	c.nodes[down.ID()] = restarted
	hasAll(t, restarted, append(before, during...), 20*time.Second)
	if restarted.IsLeader() {
		t.Fatal("restarted node leads")
	}
}

// TestRestartedNodeKeepsItsState: a single node restarted from its data dir
// (snapshot plus the log after it) has exactly the state it had, counters
// included, and goes on from there.
func TestRestartedNodeKeepsItsState(t *testing.T) {
	cfg := testConfig(t, "solo", t.TempDir(), "127.0.0.1:0")
	cfg.Bootstrap = true
	cfg.NoSync = false
	n := openNode(t, cfg)
	ctx := testCtx(t, 30*time.Second)
	waitFor(t, 5*time.Second, "leadership", n.IsLeader)
	submitN(ctx, n, "a", 100, 8)
	if err := n.Snapshot(); err != nil {
		t.Fatal(err)
	}
	submitN(ctx, n, "b", 50, 8)
	for _, c := range seq(readyCluster("c1"), cmds(assign("a-1", "c1", 1), report("a-1", "c1", 1, v1.PhaseRunning))) {
		if r, err := n.Apply(ctx, c); err != nil || r.Err != nil {
			t.Fatalf("%s: %v %v", c.Type, err, r.Err)
		}
	}
	if err := n.VerifyRead(ctx); err != nil {
		t.Fatal(err)
	}
	want := dumpState(n.State())
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	cfg.BindAddr = n.RaftAddr()
	n2 := openNode(t, cfg) // Bootstrap again is a no-op on existing state
	waitFor(t, 5*time.Second, "leadership after restart", n2.IsLeader)
	if err := n2.VerifyRead(ctx); err != nil {
		t.Fatal(err)
	}
	got := dumpState(n2.State())
	got.Applied = want.Applied
	if d := diffDumps(want, got); d != "" {
		t.Fatal(d)
	}
	r, err := n2.Apply(ctx, submit(spec("after")))
	if err != nil || r.Err != nil || r.Execution.Seq != want.Seq+1 {
		t.Fatalf("after restart: %+v %v", r, err)
	}
}
