package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/federation/client"
)

// replicas is the size of both clusters under test.
const replicas = 3

// pollCallTimeout bounds one status call while waiting for a cluster.
const pollCallTimeout = 2 * time.Second

// fedCluster is a running 3-voter federation control plane.
type fedCluster struct {
	procs []*proc
	// leaderURL is the HTTP endpoint of the Raft leader at start.
	leaderURL string
	leaderID  string
	// urls maps each replica's ID to its HTTP endpoint.
	urls map[string]string
}

// startFederation starts three federation-server replicas with fsync on (no
// --unsafe-no-fsync), data in dir: the first bootstraps, the others join
// through it. It returns once the first replica and the leader both see
// three voters and a leader. With pprof the replicas serve /debug/pprof/.
// memoryLimit is each replica's --memory-limit ("" for the server's own
// default).
func startFederation(ctx context.Context, g *procGroup, bin, dir string, timeout time.Duration, pprof bool, memoryLimit string) (*fedCluster, error) {
	addrs, err := freeAddrs(2 * replicas)
	if err != nil {
		return nil, err
	}
	urls := map[string]string{}
	c := &fedCluster{urls: urls}
	var first string
	for i := range replicas {
		id := fmt.Sprintf("cp%d", i+1)
		httpAddr, raftAddr := addrs[2*i], addrs[2*i+1]
		args := []string{"--id", id, "--data-dir", filepath.Join(dir, id),
			"--http-addr", httpAddr, "--raft-addr", raftAddr, "--log-level", "warn", "--insecure-no-auth"}
		if pprof {
			args = append(args, "--pprof")
		}
		if memoryLimit != "" {
			args = append(args, "--memory-limit", memoryLimit)
		}
		if i == 0 {
			args = append(args, "--bootstrap")
			first = "http://" + httpAddr
		} else {
			args = append(args, "--join", first)
		}
		p, err := g.start(id, filepath.Join(dir, id+".log"), bin, args...)
		if err != nil {
			return nil, err
		}
		c.procs = append(c.procs, p)
		urls[id] = "http://" + httpAddr
	}
	cl, err := client.New(first)
	if err != nil {
		return nil, err
	}
	err = poll(ctx, timeout, "a 3-voter federation control plane with a leader", func(ctx context.Context) (bool, error) {
		if err := deadErr(c.procs); err != nil {
			return false, err
		}
		st, err := cl.RaftStatus(ctx)
		if err != nil || st.Leader == nil || voters(st) != replicas {
			return false, nil
		}
		url, ok := urls[st.Leader.ID]
		if !ok {
			return false, fmt.Errorf("leader %q is none of the replicas started", st.Leader.ID)
		}
		// Ask the leader itself: the first replica's view may be stale.
		lc, err := client.New(url)
		if err != nil {
			return false, err
		}
		lst, err := lc.RaftStatus(ctx)
		if err != nil || lst.State != "Leader" || voters(lst) != replicas {
			return false, nil
		}
		c.leaderURL, c.leaderID = url, st.Leader.ID
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// voters counts the voters of a Raft configuration.
func voters(st v1.RaftStatus) int {
	n := 0
	for _, m := range st.Members {
		if m.Suffrage == "Voter" {
			n++
		}
	}
	return n
}

// poll calls cond every 200ms until it is done, fails, or timeout passes.
// Each call gets a context of its own, bounded by pollCallTimeout.
func poll(ctx context.Context, timeout time.Duration, what string, cond func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		cctx, ccancel := context.WithTimeout(ctx, pollCallTimeout)
		ok, err := cond(cctx)
		ccancel()
		if err != nil {
			return fmt.Errorf("wait for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", what, ctx.Err())
		case <-tick.C:
		}
	}
}
