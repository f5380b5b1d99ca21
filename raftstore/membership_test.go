package raftstore

import (
	"errors"
	"testing"
	"time"
)

// TestRejoinWithFreshDirCatchesUp: a member that lost its disk comes back
// with a fresh data dir at a new address and catches up, whether it was
// removed first or is replaced in place (same ID, other address).
func TestRejoinWithFreshDirCatchesUp(t *testing.T) {
	for _, tc := range []struct {
		name        string
		removeFirst bool
	}{
		{"removed then joined", true},
		{"replaced in place", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCluster(t, 3, smallSnapshots)
			ctx := testCtx(t, 60*time.Second)
			leader := c.leader()
			before := submitN(ctx, leader, "before", 50, 4)

			var gone *Node
			for _, n := range c.nodes {
				if n != leader {
					gone = n
				}
			}
			id := gone.ID()
			if tc.removeFirst {
				if err := leader.Remove(id); err != nil {
					t.Fatal(err)
				}
				if got := len(leader.Status().Members); got != 2 {
					t.Fatalf("%d members after remove", got)
				}
			}
			if err := gone.Raft().Shutdown().Error(); err != nil {
				t.Fatal(err)
			}
			if err := gone.Close(); err != nil {
				t.Fatal(err)
			}
			during := submitN(ctx, leader, "during", 100, 1)

			cfg := testConfig(t, id, t.TempDir(), "127.0.0.1:0")
			smallSnapshots(&cfg)
			fresh := openNode(t, cfg)
			if fresh.RaftAddr() == gone.RaftAddr() {
				t.Fatal("want a new address")
			}
			c.nodes[id] = fresh
			// With one of three voters gone, a loaded machine can make the
			// leader miss its lease and step down: join through whoever leads.
			waitFor(t, 20*time.Second, "the join to be accepted", func() bool {
				leader = c.leader()
				err := leader.Join(id, fresh.RaftAddr())
				if err != nil && !errors.Is(err, ErrNotLeader) {
					t.Fatal(err)
				}
				return err == nil
			})
			hasAll(t, fresh, append(before, during...), 20*time.Second)

			st := leader.Status()
			if len(st.Members) != 3 {
				t.Fatalf("members %+v", st.Members)
			}
			for _, m := range st.Members {
				if m.ID == id && m.Address != fresh.RaftAddr() {
					t.Fatalf("member %s at %s, want %s", id, m.Address, fresh.RaftAddr())
				}
			}
			// The cluster still commits with the rejoined node.
			if got := submitN(ctx, leader, "after", 10, 2); len(got) != 10 {
				t.Fatalf("%d of 10 after rejoin", len(got))
			}
		})
	}
}

func TestJoinIsIdempotent(t *testing.T) {
	c := newTestCluster(t, 2, nil)
	leader := c.leader()
	for id, n := range c.nodes {
		if err := leader.Join(id, n.RaftAddr()); err != nil {
			t.Fatalf("join %s again: %v", id, err)
		}
	}
	if got := len(leader.Status().Members); got != 2 {
		t.Fatalf("%d members", got)
	}
	if err := leader.Join("intruder", leader.RaftAddr()); err == nil {
		t.Fatal("joined another ID at the leader's own address")
	}
}

func TestStatusReportsMembersWithHTTPAddresses(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	ctx := testCtx(t, 10*time.Second)
	leader := c.leader()
	for id := range c.nodes {
		if r, err := leader.Apply(ctx, Command{Type: CmdSetMember, Member: &MemberMeta{ID: id, HTTPAddress: "http://" + id}}); err != nil || r.Err != nil {
			t.Fatal(err, r.Err)
		}
	}
	c.waitConverged(10 * time.Second)
	for _, n := range c.nodes {
		st := n.Status()
		if st.ID != n.ID() || st.Leader == nil || st.Leader.ID != leader.ID() || st.Term == 0 || st.CommitIndex == 0 {
			t.Fatalf("%s: %+v", n.ID(), st)
		}
		if (n == leader) != (st.State == "Leader") {
			t.Fatalf("%s: state %s", n.ID(), st.State)
		}
		if len(st.Members) != 3 {
			t.Fatalf("%s: members %+v", n.ID(), st.Members)
		}
		for _, m := range st.Members {
			if m.HTTPAddress != "http://"+m.ID || m.Suffrage != "Voter" || m.Address != c.nodes[m.ID].RaftAddr() {
				t.Fatalf("%s: member %+v", n.ID(), m)
			}
		}
	}
}
