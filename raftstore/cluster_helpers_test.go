package raftstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// testLogWriter sends log lines to t.Log, shown on failure or with -v.
type testLogWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	w := &testLogWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// testConfig is a node config with short timeouts and no fsync, so tests
// elect in well under a second.
func testConfig(t testing.TB, id, dir, bind string) Config {
	return Config{
		ID:                 id,
		Dir:                dir,
		BindAddr:           bind,
		HeartbeatTimeout:   time.Second, // generous: CI runs packages in parallel under -race
		ElectionTimeout:    time.Second,
		LeaderLeaseTimeout: 500 * time.Millisecond,
		CommitTimeout:      5 * time.Millisecond,
		NoSync:             true,
		Logger:             testLogger(t),
	}
}

// openNode opens a node and closes it when the test ends.
func openNode(t testing.TB, cfg Config) *Node {
	t.Helper()
	n, err := Open(cfg)
	if err != nil {
		t.Fatalf("open %s: %v", cfg.ID, err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("close %s: %v", cfg.ID, err)
		}
	})
	return n
}

// testCluster is n nodes on 127.0.0.1 over real TCP.
type testCluster struct {
	t     testing.TB
	nodes map[string]*Node
	cfgs  map[string]Config
}

// newTestCluster bootstraps node n0 and joins n1..n(size-1) to it. tweak,
// if set, edits every node's config.
func newTestCluster(t testing.TB, size int, tweak func(*Config)) *testCluster {
	t.Helper()
	c := &testCluster{t: t, nodes: map[string]*Node{}, cfgs: map[string]Config{}}
	for i := 0; i < size; i++ {
		id := fmt.Sprintf("n%d", i)
		cfg := testConfig(t, id, t.TempDir(), "127.0.0.1:0")
		cfg.Bootstrap = i == 0
		if tweak != nil {
			tweak(&cfg)
		}
		n := openNode(t, cfg)
		cfg.BindAddr = n.RaftAddr() // a restart binds the same port
		c.nodes[id], c.cfgs[id] = n, cfg
		if i == 0 {
			waitFor(t, 10*time.Second, "n0 leads", n.IsLeader)
			continue
		}
		if err := c.leader().Join(id, n.RaftAddr()); err != nil {
			t.Fatalf("join %s: %v", id, err)
		}
	}
	c.waitConverged(10 * time.Second)
	return c
}

// leader returns the leading node, failing the test if none leads within a
// few seconds.
func (c *testCluster) leader() *Node {
	c.t.Helper()
	var l *Node
	waitFor(c.t, 10*time.Second, "a leader", func() bool {
		for _, n := range c.nodes {
			if n.IsLeader() {
				l = n
				return true
			}
		}
		return false
	})
	return l
}

// waitConverged waits until raft on every node has applied the leader's
// last index (the FSM may trail by a moment; callers that read state poll).
func (c *testCluster) waitConverged(d time.Duration) {
	c.t.Helper()
	l := c.leader()
	want := l.Raft().LastIndex()
	waitFor(c.t, d, "all nodes applied the leader's log", func() bool {
		for _, n := range c.nodes {
			if n.Raft().AppliedIndex() < want {
				return false
			}
		}
		return true
	})
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// submitN submits executions name-0..name-(n-1) one call each, from
// `workers` goroutines, and returns the keys that were acknowledged.
func submitN(ctx context.Context, n *Node, prefix string, count, workers int) []v1.ExecutionKey {
	var mu sync.Mutex
	var acked []v1.ExecutionKey
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				s := spec(fmt.Sprintf("%s-%d", prefix, i))
				r, err := n.Apply(ctx, submit(s))
				if err == nil && r.Err == nil {
					mu.Lock()
					acked = append(acked, s.Key())
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < count; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return acked
}

// hasAll waits until the node's state holds every key.
func hasAll(t testing.TB, n *Node, keys []v1.ExecutionKey, d time.Duration) {
	t.Helper()
	var missing v1.ExecutionKey
	ok := func() bool {
		for _, k := range keys {
			if _, ok := n.State().Execution(k); !ok {
				missing = k
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("node %s lacks acknowledged execution %s", n.ID(), missing)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
