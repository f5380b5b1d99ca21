package federation

import (
	"net/http"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/placement"
)

// explain runs placement's Explain for one execution against the current
// state: Chosen is where it would go now, whatever its phase.
func (s *Server) explain(ex *v1.Execution) v1.Explanation {
	sc := newScheduler(s)
	snap := sc.snapshot(s.node.State(), now())
	e := placement.Explain(snap, pendingOf(ex, ex.Workflow.PeakResources()), s.cfg.Placement)
	out := v1.Explanation{Key: ex.Key(), Chosen: e.Chosen, Summary: e.Summary, Clusters: make([]v1.ClusterVerdict, 0, len(e.Clusters))}
	for _, v := range e.Clusters {
		out.Clusters = append(out.Clusters, v1.ClusterVerdict{Cluster: v.Cluster, Feasible: v.Feasible, Filter: v.Filter, Reason: v.Reason, Scores: v.Scores, Total: v.Total})
	}
	return out
}

func (s *Server) explainExecution(w http.ResponseWriter, r *http.Request) {
	key := keyOf(r)
	ex, ok := s.node.State().Execution(key)
	if !ok {
		s.writeError(w, r, notFoundf("execution %s", key))
		return
	}
	writeJSON(w, http.StatusOK, s.explain(&ex))
}

// dryRun answers where a spec would be placed now, without submitting it.
func (s *Server) dryRun(w http.ResponseWriter, r *http.Request) {
	spec, err := s.decodeSpec(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ex := v1.Execution{ExecutionSpec: spec, SpecHash: spec.Hash(), Attempt: 1, Phase: v1.PhaseQueued}
	writeJSON(w, http.StatusOK, s.explain(&ex))
}
