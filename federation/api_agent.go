package federation

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/raftstore"
)

// maxReportsPerBatch bounds one report request.
const maxReportsPerBatch = 1000

func (s *Server) heartbeat(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var hb v1.Heartbeat
	if err := s.decodeBody(w, r, &hb); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.apply(r.Context(), raftstore.Command{Type: raftstore.CmdHeartbeat, Name: name, Heartbeat: &hb})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c := res.Cluster
	writeJSON(w, http.StatusOK, v1.HeartbeatResponse{State: c.State, Healthy: c.Healthy, LeaseDuration: v1.Duration{Duration: s.cfg.HeartbeatTimeout},
		FailoverGrace: v1.Duration{Duration: s.cfg.FailoverGrace}})
}

func (s *Server) assignments(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, ok := s.node.State().Cluster(name); !ok {
		s.writeError(w, r, notFoundf("cluster %q", name))
		return
	}
	q := r.URL.Query()
	var after uint64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			s.writeError(w, r, badRequest("after %q: want a revision number", v))
			return
		}
		after = n
	}
	wait := time.Duration(0)
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			s.writeError(w, r, badRequest("wait %q: want a Go duration such as 25s", v))
			return
		}
		wait = min(d, s.cfg.LongPollMax)
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	list, err := s.node.State().WaitAssignments(ctx, name, after)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		if r.Context().Err() != nil {
			return // the agent went away
		}
		s.writeError(w, r, err)
		return
	}
	if list.Items == nil {
		list.Items = []v1.Assignment{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) reports(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var batch v1.ReportBatch
	if err := s.decodeBody(w, r, &batch); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(batch.Reports) > maxReportsPerBatch {
		s.writeError(w, r, badRequest("%d reports in one batch, at most %d", len(batch.Reports), maxReportsPerBatch))
		return
	}
	cmds := make([]raftstore.Command, 0, len(batch.Reports))
	// One clock reading for the batch: metrics tell from it which results
	// are transitions made by this batch.
	at := now()
	for i := range batch.Reports {
		rep := batch.Reports[i]
		if !rep.Phase.Valid() {
			s.writeError(w, r, badRequest("reports[%d]: unknown phase %q", i, rep.Phase))
			return
		}
		s.stampUsage(name, &rep)
		cmds = append(cmds, raftstore.Command{Type: raftstore.CmdReport, At: at, Report: &raftstore.ReportCmd{Cluster: name, Report: rep}})
	}
	out := v1.ReportBatchResponse{Results: make([]v1.ReportResult, 0, len(cmds))}
	if len(cmds) > 0 {
		results, err := s.node.ApplyBatch(r.Context(), cmds)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		for i, res := range results {
			rep := batch.Reports[i]
			verdict := res.Verdict
			if res.Err != nil && verdict == "" {
				verdict = v1.VerdictStale
			}
			s.metrics.reports.WithLabelValues(string(verdict)).Inc()
			s.metrics.observeReport(at, res)
			out.Results = append(out.Results, v1.ReportResult{ExecutionKey: rep.ExecutionKey, Attempt: rep.Attempt, Verdict: verdict})
		}
	}
	writeJSON(w, http.StatusOK, out)
}
