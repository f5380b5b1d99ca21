package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/clusteragent"
	"github.com/federation-dev/federation/clusteragent/sim"
	"github.com/federation-dev/federation/federation"
	"github.com/federation-dev/federation/federation/client"
	"github.com/federation-dev/federation/raftstore"
)

// federationRig is a control plane (one real Raft replica on loopback,
// serving the real HTTP API) and member clusters, each a real agent session
// over HTTP with a simulated backend. Pods are node runs of the simulation.
type federationRig struct {
	url     string
	client  *client.Client
	members map[string]*member

	cancel context.CancelFunc
	wg     sync.WaitGroup
	node   *raftstore.Node
}

// member is one simulated member cluster and its agent.
type member struct {
	name    string
	backend *sim.Backend
	cancel  context.CancelFunc
	done    chan struct{}
}

// rigOptions shape a rig.
type rigOptions struct {
	dir          string
	taskDuration time.Duration
	// noCache runs the agents without the task cache.
	noCache bool
	log     *slog.Logger
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startRig starts the control plane; add members with addMember.
func startRig(ctx context.Context, o rigOptions) (*federationRig, error) {
	if o.log == nil {
		o.log = quietLogger()
	}
	node, err := raftstore.Open(raftstore.Config{
		ID: "cp1", Dir: o.dir, BindAddr: "127.0.0.1:0", Bootstrap: true, NoSync: true,
		HeartbeatTimeout: 300 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond,
		LeaderLeaseTimeout: 200 * time.Millisecond, CommitTimeout: 5 * time.Millisecond,
		Logger: o.log,
	})
	if err != nil {
		return nil, fmt.Errorf("open raft node: %w", err)
	}
	cfg := federation.DefaultConfig()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.HeartbeatTimeout = 2 * time.Second
	cfg.FailoverGrace = 2 * time.Second
	cfg.SettleTime = 0
	cfg.SchedulerInterval = 100 * time.Millisecond
	cfg.DrainHandoff = 200 * time.Millisecond
	cfg.Cache.WaitRetry = 50 * time.Millisecond
	cfg.Logger = o.log
	srv, err := federation.New(cfg, node)
	if err != nil {
		_ = node.Close()
		return nil, err
	}
	addr, err := srv.Listen()
	if err != nil {
		_ = node.Close()
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.Background())
	r := &federationRig{url: "http://" + addr, members: map[string]*member{}, cancel: cancel, node: node}
	r.wg.Go(func() { _ = srv.Run(rctx) })
	if r.client, err = client.New(r.url); err != nil {
		r.stop()
		return nil, err
	}
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	if err := node.WaitForLeader(wctx); err != nil {
		r.stop()
		return nil, fmt.Errorf("control plane never led: %w", err)
	}
	return r, nil
}

// addMember registers a cluster labelled cluster=<name> and starts its agent.
func (r *federationRig) addMember(ctx context.Context, name string, o rigOptions) error {
	if o.log == nil {
		o.log = quietLogger()
	}
	if _, _, err := r.client.RegisterCluster(ctx, v1.ClusterSpec{Name: name, Weight: 1, Labels: map[string]string{"cluster": name}}); err != nil {
		return fmt.Errorf("register %s: %w", name, err)
	}
	cp, err := client.New(r.url)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	var cache clusteragent.Cache
	if !o.noCache {
		rc, err := clusteragent.NewCache(cp, name, clusteragent.CacheOptions{Registry: reg, Logger: o.log})
		if err != nil {
			return err
		}
		cache = rc
	}
	b, err := sim.New(sim.Options{
		Capacity:     v1.Amounts{MilliCPU: 1_000_000, MemoryBytes: 1 << 42, Pods: 10_000},
		TaskDuration: o.taskDuration, Cache: cache, CacheMaxWait: time.Minute, Logger: o.log,
	})
	if err != nil {
		return err
	}
	agent, err := clusteragent.New(clusteragent.Config{
		Cluster: name, Version: "bench", HeartbeatInterval: 200 * time.Millisecond, LongPollWait: time.Second,
		ReportInterval: 200 * time.Millisecond, Registry: reg, Logger: o.log,
	}, cp, b)
	if err != nil {
		return err
	}
	mctx, cancel := context.WithCancel(context.Background())
	m := &member{name: name, backend: b, cancel: cancel, done: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Go(func() { _ = b.Run(mctx) })
	wg.Go(func() { _ = agent.Run(mctx) })
	go func() { wg.Wait(); close(m.done) }()
	r.members[name] = m
	return nil
}

// runs returns the node runs (pods) and cache hits of every member.
func (r *federationRig) runs() (runs, hits int) {
	for _, m := range r.members {
		n, h := m.backend.NodeRuns()
		runs, hits = runs+n, hits+h
	}
	return runs, hits
}

func (r *federationRig) stop() {
	for _, m := range r.members {
		m.cancel()
		<-m.done
	}
	r.cancel()
	r.wg.Wait()
	_ = r.node.Close()
}

// waitTerminal polls until every key is terminal and returns them.
func (r *federationRig) waitTerminal(ctx context.Context, keys []v1.ExecutionKey, timeout time.Duration) (map[v1.ExecutionKey]v1.Execution, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := make(map[v1.ExecutionKey]v1.Execution, len(keys))
	for {
		for _, k := range keys {
			if _, done := out[k]; done {
				continue
			}
			e, err := r.client.GetExecution(ctx, k, true)
			if err == nil && e.Phase.Terminal() {
				out[k] = e
			}
		}
		if len(out) == len(keys) {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return out, fmt.Errorf("%d of %d executions finished in %s: %w", len(out), len(keys), timeout, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// dag returns a 5-node diamond, every node cached at version:
// prep → {left, right} → join → publish. prep reads the workflow input
// "shard"; the others read their upstream outputs.
func dag(version string) v1.WorkflowSpec {
	node := func(id string, deps ...string) v1.TaskNode {
		n := v1.TaskNode{ID: id, Image: "registry.example/etl:1.4", Command: []string{"etl", id}, DependsOn: deps,
			Resources: v1.Resources{CPU: "100m", Memory: "64Mi"}, Inputs: map[string]v1.Binding{}}
		if version != "" {
			n.Cache = &v1.CacheSpec{Version: version}
		}
		for _, d := range deps {
			n.Inputs["from_"+d] = v1.Binding{FromNode: d, Output: sim.OutputPath}
		}
		return n
	}
	prep := node("prep")
	prep.Inputs["shard"] = v1.Binding{FromInput: "shard"}
	return v1.WorkflowSpec{Nodes: []v1.TaskNode{
		prep, node("left", "prep"), node("right", "prep"), node("join", "left", "right"), node("publish", "join"),
	}}
}

// execution is one execution of the DAG named name, on shard, pinned to
// cluster when it is not "".
func execution(name, shard, version, cluster string) v1.ExecutionSpec {
	s := v1.ExecutionSpec{Project: "etl", Domain: "production", Name: name,
		Inputs: map[string]string{"shard": shard}, Workflow: dag(version)}
	if cluster != "" {
		s.ClusterSelector = &v1.LabelSelector{MatchLabels: map[string]string{"cluster": cluster}}
	}
	return s
}
