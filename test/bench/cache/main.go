// Command cache measures what the federation-wide task cache saves: it runs
// N executions of a 5-node DAG whose nodes are all cached, then runs them
// again (new execution names, the same inputs) with the cache and without
// it, and reports wall time and pods (node runs) of each round.
//
// The control plane is one real Raft replica serving the real HTTP API; the
// member clusters are real agent sessions over HTTP with simulated backends
// (a pod is a node run, TaskDuration long).
//
//	go run ./test/bench/cache -executions 100 -clusters 2 -task-duration 200ms
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// round is the outcome of one round of executions.
type round struct {
	name       string
	wall       time.Duration
	pods, hits int
}

func main() {
	n := flag.Int("executions", 100, "executions per round")
	clusters := flag.Int("clusters", 2, "member clusters")
	taskDur := flag.Duration("task-duration", 200*time.Millisecond, "how long each simulated pod runs")
	flag.Parse()
	if err := run(*n, *clusters, *taskDur); err != nil {
		fmt.Fprintln(os.Stderr, "cache bench:", err)
		os.Exit(1)
	}
}

func run(n, clusters int, taskDur time.Duration) error {
	if n < 1 || clusters < 1 || taskDur <= 0 {
		return fmt.Errorf("want executions ≥ 1, clusters ≥ 1 and a positive task duration")
	}
	dir, err := os.MkdirTemp("", "cache-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	r, err := startRig(ctx, rigOptions{dir: dir})
	if err != nil {
		return err
	}
	defer r.stop()
	for i := range clusters {
		if err := r.addMember(ctx, fmt.Sprintf("member-%d", i+1), rigOptions{taskDuration: taskDur}); err != nil {
			return err
		}
	}
	rounds := []struct {
		name, prefix, version string
	}{
		{"first run (cold cache)", "cold", "v1"},
		{"re-run, cached", "warm", "v1"},
		{"re-run, no cache", "nocache", ""},
	}
	var out []round
	for _, rd := range rounds {
		res, err := runRound(ctx, r, rd.name, rd.prefix, rd.version, n)
		if err != nil {
			return err
		}
		out = append(out, res)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%d executions × 5-node DAG, %d member clusters, %s per pod\n", n, clusters, taskDur)
	fmt.Fprintln(tw, "round\twall time\tpods\tcache hits")
	for _, rd := range out {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", rd.name, rd.wall.Round(time.Millisecond), rd.pods, rd.hits)
	}
	warm, none := out[1], out[2]
	fmt.Fprintf(tw, "saved by the cache on the re-run\t%s\t%d\t\n", (none.wall - warm.wall).Round(time.Millisecond), none.pods-warm.pods)
	return tw.Flush()
}

// runRound submits n executions (shard-0 … shard-n-1, so the same inputs
// every round) and waits until all succeeded.
func runRound(ctx context.Context, r *federationRig, name, prefix, version string, n int) (round, error) {
	pods0, hits0 := r.runs()
	keys := make([]v1.ExecutionKey, n)
	start := time.Now()
	for i := range n {
		s := execution(fmt.Sprintf("%s-%03d", prefix, i), fmt.Sprintf("shard-%d", i), version, "")
		if _, _, err := r.client.SubmitExecution(ctx, s); err != nil {
			return round{}, fmt.Errorf("%s: submit: %w", name, err)
		}
		keys[i] = s.Key()
	}
	done, err := r.waitTerminal(ctx, keys, 5*time.Minute)
	if err != nil {
		return round{}, fmt.Errorf("%s: %w", name, err)
	}
	wall := time.Since(start)
	for k, e := range done {
		if e.Phase != v1.PhaseSucceeded {
			return round{}, fmt.Errorf("%s: execution %s %s: %s", name, k, e.Phase, e.Message)
		}
	}
	pods, hits := r.runs()
	return round{name: name, wall: wall, pods: pods - pods0, hits: hits - hits0}, nil
}
