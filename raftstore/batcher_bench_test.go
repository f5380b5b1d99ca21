package raftstore

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkGroupCommit submits executions from many goroutines to a leader
// of 3 voters on loopback with fsync on, and reports acknowledged ops/s and
// commands per log entry, for 16 and 128 concurrent callers. Run it short:
// -bench GroupCommit -benchtime 2000x.
func BenchmarkGroupCommit(b *testing.B) {
	for _, clients := range []int{1, 16, 128} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) { benchGroupCommit(b, clients) })
	}
}

func benchGroupCommit(b *testing.B, clients int) {
	c := newTestCluster(b, 3, func(cfg *Config) { cfg.NoSync = false })
	leader := c.leader()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var next atomic.Int64
	entries0, commands0 := leader.batcher.entries.Load(), leader.batcher.commands.Load()
	b.SetParallelism(max(1, clients/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s := spec(fmt.Sprintf("bench-%d", next.Add(1)))
			r, err := leader.ApplyShared(ctx, Command{Type: CmdSubmit, Submit: NewSubmitCmd(s)})
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
