package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/clusteragent"
)

// lister is what the progress line reads: the workflows an agent's backend
// holds (from its cache).
type lister interface {
	List(ctx context.Context) ([]clusteragent.WorkflowState, error)
}

// logProgress writes, every interval until ctx ends, how many workflows
// the backends hold by phase and the CPU each process used in the
// interval: to see where a run stalls.
func logProgress(ctx context.Context, w io.Writer, interval time.Duration, backends []lister, pids func() []int) {
	start := time.Now()
	prev := sampleCPU(pids())
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		byPhase := map[v1.ExecutionPhase]int{}
		for _, b := range backends {
			l, err := b.List(ctx)
			if err != nil {
				continue
			}
			for _, s := range l {
				byPhase[s.Phase]++
			}
		}
		var phases []string
		for _, p := range slices.Sorted(maps.Keys(byPhase)) {
			phases = append(phases, fmt.Sprintf("%s %d", p, byPhase[p]))
		}
		cur := sampleCPU(pids())
		used := cur.since(prev)
		prev = cur
		var cpu []string
		for _, name := range slices.Sorted(maps.Keys(used)) {
			cpu = append(cpu, fmt.Sprintf("%s %.0f%%", strings.Fields(name)[0], 100*float64(used[name])/float64(interval)))
		}
		fmt.Fprintf(w, "%6s  workflows held: %s; cpu: %s\n",
			time.Since(start).Round(time.Second), strings.Join(phases, ", "), strings.Join(cpu, " "))
	}
}
