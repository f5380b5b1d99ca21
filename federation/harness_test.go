package federation

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/federation/client"
	"github.com/federation-dev/federation/raftstore"
)

// replica is one control-plane replica of a test, on loopback.
type replica struct {
	id     string
	dir    string
	node   *raftstore.Node
	srv    *Server
	url    string
	client *client.Client
	cancel context.CancelFunc
	done   chan struct{}
}

func (r *replica) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	<-r.done
	_ = r.node.Close()
	r.cancel = nil
}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.HeartbeatTimeout = 2 * time.Second
	cfg.FailoverGrace = 2 * time.Second
	cfg.SettleTime = 0
	cfg.SchedulerInterval = 200 * time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

// startReplica opens a node in dir and serves it; bootstrap makes it the
// first voter.
func startReplica(t *testing.T, id, dir string, bootstrap bool, mutate func(*Config)) *replica {
	t.Helper()
	node, err := raftstore.Open(raftstore.Config{
		ID: id, Dir: dir, BindAddr: "127.0.0.1:0", Bootstrap: bootstrap, NoSync: true,
		HeartbeatTimeout: time.Second, ElectionTimeout: time.Second, // generous: CI runs packages in parallel
		LeaderLeaseTimeout: 500 * time.Millisecond, CommitTimeout: 5 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("open node %s: %v", id, err)
	}
	cfg := testConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg, node)
	if err != nil {
		t.Fatalf("new server %s: %v", id, err)
	}
	addr, err := srv.Listen()
	if err != nil {
		t.Fatalf("listen %s: %v", id, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &replica{id: id, dir: dir, node: node, srv: srv, url: "http://" + addr, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(r.done); _ = srv.Run(ctx) }()
	r.client, err = client.New(r.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.stop)
	return r
}

// startControlPlane starts n replicas: the first bootstraps, the others
// join through it over the HTTP API.
func startControlPlane(t *testing.T, n int, mutate func(*Config)) []*replica {
	t.Helper()
	base := t.TempDir()
	rs := []*replica{startReplica(t, "r1", filepath.Join(base, "r1"), true, mutate)}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := rs[0].node.WaitForLeader(ctx); err != nil {
		t.Fatalf("first replica never led: %v", err)
	}
	for i := 2; i <= n; i++ {
		id := fmt.Sprintf("r%d", i)
		r := startReplica(t, id, filepath.Join(base, id), false, mutate)
		join(t, rs[0].client, r)
		rs = append(rs, r)
	}
	waitUntil(t, 20*time.Second, "every replica to know every member's HTTP address", func() bool {
		for _, r := range rs {
			if len(r.node.State().Members()) != n {
				return false
			}
			if id, _ := r.node.Leader(); id == "" {
				return false
			}
		}
		return true
	})
	return rs
}

func join(t *testing.T, via *client.Client, r *replica) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := via.RaftJoin(ctx, v1.JoinRequest{ID: r.id, Address: r.node.RaftAddr(), HTTPAddress: r.srv.HTTPAddr()}); err != nil {
		t.Fatalf("join %s: %v", r.id, err)
	}
}

func leaderOf(t *testing.T, rs []*replica) *replica {
	t.Helper()
	var l *replica
	waitUntil(t, 10*time.Second, "a leader", func() bool {
		for _, r := range rs {
			if r.cancel != nil && r.node.IsLeader() {
				l = r
				return true
			}
		}
		return false
	})
	return l
}

func followerOf(t *testing.T, rs []*replica) *replica {
	t.Helper()
	l := leaderOf(t, rs)
	for _, r := range rs {
		if r != l && r.cancel != nil {
			return r
		}
	}
	t.Fatal("no follower")
	return nil
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// spec returns a small valid execution spec.
func spec(project, name string) v1.ExecutionSpec {
	return v1.ExecutionSpec{
		Project: project, Domain: "production", Name: name,
		Inputs: map[string]string{"date": "2026-11-24"},
		Workflow: v1.WorkflowSpec{Nodes: []v1.TaskNode{
			{ID: "extract", Image: "python:3.12", Command: []string{"python", "-m", "extract"},
				Resources: v1.Resources{CPU: "500m", Memory: "256Mi"}, Inputs: map[string]v1.Binding{"date": {FromInput: "date"}}},
			{ID: "train", DependsOn: []string{"extract"}, Image: "python:3.12",
				Resources: v1.Resources{CPU: "2", Memory: "4Gi"}, Inputs: map[string]v1.Binding{"data": {FromNode: "extract", Output: "path"}}},
		}},
	}
}
