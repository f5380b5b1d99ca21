package raftstore

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// TestAcknowledgedSubmissionsSurviveLeaderLoss is guarantee 1: a submission
// acknowledged by the leader is on a quorum, so it survives the leader's
// abrupt death.
func TestAcknowledgedSubmissionsSurviveLeaderLoss(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	leader := c.leader()
	ctx := testCtx(t, 60*time.Second)

	// Submit 1,000 concurrently; kill the leader (no leadership transfer)
	// once a few hundred are acknowledged, so some are in flight.
	var acked atomic.Int64
	var mu sync.Mutex
	var keys []v1.ExecutionKey
	var wg sync.WaitGroup
	next := make(chan int)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				s := spec("exec-" + itoa(i))
				r, err := leader.Apply(ctx, submit(s))
				if err != nil || r.Err != nil {
					continue
				}
				acked.Add(1)
				mu.Lock()
				keys = append(keys, s.Key())
				mu.Unlock()
			}
		}()
	}
	// The kill comes at 300 acknowledgements, or when every submission has
	// been answered: on a loaded machine the leader may lose its lease on
	// its own first, and then the rest fail fast and never reach 300.
	killed := make(chan struct{})
	var answered atomic.Bool
	go func() {
		defer close(killed)
		for acked.Load() < 300 && !answered.Load() && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		if n := acked.Load(); n < 300 {
			t.Logf("killing with %d acknowledged: leadership moved during the run", n)
		}
		if err := leader.Raft().Shutdown().Error(); err != nil {
			t.Errorf("shutdown leader: %v", err)
		}
	}()
	for i := 0; i < 1000; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	answered.Store(true)
	<-killed
	if err := leader.Close(); err != nil {
		t.Fatalf("close killed leader: %v", err)
	}
	delete(c.nodes, leader.ID())
	if len(keys) == 0 {
		t.Fatal("nothing acknowledged before the kill: the test checked nothing")
	}
	t.Logf("%d of 1000 acknowledged", len(keys))

	newLeader := c.leader()
	if newLeader.ID() == leader.ID() {
		t.Fatal("dead leader still leads")
	}
	if err := newLeader.VerifyRead(ctx); err != nil {
		t.Fatalf("verify read on new leader: %v", err)
	}
	// After VerifyRead, the new leader's state must already hold them all.
	for _, k := range keys {
		if _, ok := newLeader.State().Execution(k); !ok {
			t.Fatalf("acknowledged %s lost on new leader %s", k, newLeader.ID())
		}
	}
	// And the other survivor catches up.
	for _, n := range c.nodes {
		hasAll(t, n, keys, 10*time.Second)
	}
	// The new leader takes writes.
	if r, err := newLeader.Apply(ctx, submit(spec("after-failover"))); err != nil || r.Err != nil || !r.Created {
		t.Fatalf("write after failover: %+v %v", r, err)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestFollowerRefusesWritesAndReads(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	ctx := testCtx(t, 10*time.Second)
	leader := c.leader()
	for _, n := range c.nodes {
		if n == leader {
			continue
		}
		start := time.Now()
		if _, err := n.Apply(ctx, submit(spec("x"))); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("apply on follower: %v", err)
		}
		if err := n.VerifyRead(ctx); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("verify read on follower: %v", err)
		}
		if err := n.Join("x", "127.0.0.1:1"); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("join on follower: %v", err)
		}
		if err := n.Remove("n0"); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("remove on follower: %v", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("refusals took %v", d)
		}
		if id, addr := n.Leader(); id != leader.ID() || addr != leader.RaftAddr() {
			t.Fatalf("follower sees leader %s %s", id, addr)
		}
	}
}

// TestVerifyReadSeesEveryAcknowledgedWrite: after VerifyRead on the leader,
// its state holds every write acknowledged before the call.
func TestVerifyReadSeesEveryAcknowledgedWrite(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	ctx := testCtx(t, 20*time.Second)
	leader := c.leader()
	for i := 0; i < 20; i++ {
		s := spec("r-" + itoa(i))
		if _, err := leader.Apply(ctx, submit(s)); err != nil {
			t.Fatal(err)
		}
		if err := leader.VerifyRead(ctx); err != nil {
			t.Fatal(err)
		}
		if _, ok := leader.State().Execution(s.Key()); !ok {
			t.Fatalf("%s not visible after VerifyRead", s.Key())
		}
	}
	// With no commands since (only a barrier or a membership change),
	// VerifyRead still returns promptly.
	if err := leader.Snapshot(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := leader.VerifyRead(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("VerifyRead took %v", d)
	}
}

func TestLeaderChFansOutEveryChange(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	old := c.leader()
	subs := map[string][2]<-chan bool{}
	for id, n := range c.nodes {
		subs[id] = [2]<-chan bool{n.LeaderCh(), n.LeaderCh()}
	}
	if err := old.Raft().LeadershipTransfer().Error(); err != nil {
		t.Fatal(err)
	}
	newLeader := c.leader()
	waitFor(t, 5*time.Second, "a new leader", func() bool { newLeader = c.leader(); return newLeader != old })
	for i, ch := range subs[newLeader.ID()] {
		if !latest(t, ch, true) {
			t.Fatalf("subscriber %d of the new leader did not get true", i)
		}
	}
	for i, ch := range subs[old.ID()] {
		if !latest(t, ch, false) {
			t.Fatalf("subscriber %d of the old leader did not get false", i)
		}
	}
}

// latest waits for ch to deliver want (earlier values may come first).
func latest(t *testing.T, ch <-chan bool, want bool) bool {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case v := <-ch:
			if v == want {
				return true
			}
		case <-timeout:
			return false
		}
	}
}

func TestCloseIsIdempotentAndRefusesWork(t *testing.T) {
	cfg := testConfig(t, "solo", t.TempDir(), "127.0.0.1:0")
	cfg.Bootstrap = true
	n, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t, 10*time.Second)
	if err := n.WaitForLeader(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "leadership", n.IsLeader)
	ch := n.LeaderCh()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := n.Apply(ctx, submit(spec("x"))); err == nil {
		t.Fatal("apply after close succeeded")
	}
	if !latest(t, ch, false) {
		t.Fatal("no false on close")
	}
	if err := n.WaitForLeader(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("wait for leader after close: %v", err)
	}
}
