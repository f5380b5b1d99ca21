package federation

import (
	"context"
	"time"

	"github.com/federation-dev/federation/raftstore"
)

// archiveBatch bounds the executions of one archive command, so that one
// log entry stays small and the FSM holds its lock briefly.
const archiveBatch = 1000

// retainer moves executions that have been terminal for longer than the
// retention period out of the hot state into the replicated archive
// (raftstore/state_archive.go), while this replica leads. It proposes
// candidates; the FSM checks each one against the command's own time, so a
// stale candidate list can archive nothing it should not.
type retainer struct {
	s *Server
}

// retentionInterval is how often the retainer looks for expired
// executions: a tenth of the retention, between a second and a minute.
func retentionInterval(retention time.Duration) time.Duration {
	return min(max(retention/10, time.Second), time.Minute)
}

func (r *retainer) run(ctx context.Context) {
	if r.s.cfg.Retention <= 0 {
		return // retention off: keep everything hot
	}
	tick := time.NewTicker(retentionInterval(r.s.cfg.Retention))
	defer tick.Stop()
	for {
		r.sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// sweep archives everything expired now, in batches.
func (r *retainer) sweep(ctx context.Context) {
	st := r.s.node.State()
	for ctx.Err() == nil {
		keys := st.ExpiredTerminal(now(), r.s.cfg.Retention, archiveBatch)
		if len(keys) == 0 {
			return
		}
		res, err := r.s.node.ApplyShared(ctx, raftstore.Command{Type: raftstore.CmdArchive,
			Archive: &raftstore.ArchiveCmd{Keys: keys, Retention: r.s.cfg.Retention}})
		if err == nil {
			err = res.Err
		}
		if err != nil {
			r.s.log.Warn("archive executions past retention", "n", len(keys), "err", err)
			return
		}
		r.s.log.Debug("archived executions past retention", "n", res.Archived)
		if res.Archived == 0 {
			return // candidates changed under us; the next tick tries again
		}
	}
}
