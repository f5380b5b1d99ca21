package raftstore

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkGroupCommit submits executions from many goroutines to a leader
// of 3 voters on loopback with fsync on, and reports acknowledged ops/s and
// commands per log entry. Run it short: -bench GroupCommit -benchtime 2000x.
func BenchmarkGroupCommit(b *testing.B) {
	c := newTestCluster(b, 3, func(cfg *Config) { cfg.NoSync = false })
	leader := c.leader()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var next atomic.Int64
	entries0, commands0 := leader.batcher.entries.Load(), leader.batcher.commands.Load()
	b.SetParallelism(32)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s := spec(fmt.Sprintf("bench-%d", next.Add(1)))
			r, err := leader.Apply(ctx, submit(s))
			if err != nil || r.Err != nil {
				b.Errorf("apply: %v %v", err, r.Err)
				return
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	entries := leader.batcher.entries.Load() - entries0
	commands := leader.batcher.commands.Load() - commands0
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
	if entries > 0 {
		b.ReportMetric(float64(commands)/float64(entries), "cmds/entry")
	}
}
