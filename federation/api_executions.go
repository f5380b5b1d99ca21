package federation

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/raftstore"
)

// maxListLimit caps a page of executions.
const maxListLimit = 1000

func keyOf(r *http.Request) v1.ExecutionKey {
	return v1.ExecutionKey{Project: r.PathValue("project"), Domain: r.PathValue("domain"), Name: r.PathValue("name")}
}

// decodeSpec reads, defaults and validates a submitted spec: bad input
// never reaches the Raft log.
func (s *Server) decodeSpec(w http.ResponseWriter, r *http.Request) (v1.ExecutionSpec, error) {
	spec, _, err := s.decodeSubmission(w, r)
	return spec, err
}

// decodeSubmission is decodeSpec that also returns the canonical JSON of
// the spec's workflow when the workflow cache has it (workflow_cache.go),
// else nil. The workflow of an accepted spec is cached here.
func (s *Server) decodeSubmission(w http.ResponseWriter, r *http.Request) (v1.ExecutionSpec, []byte, error) {
	var spec v1.ExecutionSpec
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return spec, nil, err
	}
	sb, err := decodeSpecBody(body, &spec, s.cfg.MaxBodyBytes)
	if err != nil {
		return spec, nil, err
	}
	spec.Default()
	if err := spec.Validate(s.cfg.Limits); err != nil {
		return spec, nil, err
	}
	switch {
	case sb.cached != nil:
		return spec, sb.cached.canonical, nil
	case sb.workflow != nil:
		canonical := spec.Workflow.AppendCanonical(nil)
		// The cache keeps the state's own shared copy, which the FSM
		// then takes as is.
		spec.Workflow.Nodes = raftstore.ShareWorkflow(spec.Workflow.Nodes)
		requestWorkflows.put(sb.workflow, spec.Workflow.Nodes, canonical)
		return spec, canonical, nil
	}
	return spec, nil, nil
}

// newSubmitCmd builds the command of an accepted spec, whose workflow's
// canonical JSON decodeSubmission may have returned. The spec is rendered
// once: its canonical JSON gives both the hash and the bytes of the log
// entry, and a cached workflow's rendering is spliced into it.
func newSubmitCmd(spec v1.ExecutionSpec, workflow []byte) *raftstore.SubmitCmd {
	if workflow != nil {
		return raftstore.NewSubmitCmdCanonical(spec, spec.CanonicalWith(workflow))
	}
	return raftstore.NewSubmitCmd(spec)
}

func (s *Server) submitExecution(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	spec, workflow, err := s.decodeSubmission(w, r)
	if err != nil {
		s.metrics.submissions.WithLabelValues("invalid").Inc()
		s.writeError(w, r, err)
		return
	}
	sub := newSubmitCmd(spec, workflow)
	// An idempotent resubmission of a committed execution needs no log entry.
	if ex, ok := s.node.State().Execution(spec.Key()); ok {
		if ex.SpecHash != sub.Hash {
			s.metrics.submissions.WithLabelValues("conflict").Inc()
			s.writeError(w, r, conflictf("execution %s exists with a different spec", spec.Key()))
			return
		}
		s.metrics.submissions.WithLabelValues("existing").Inc()
		writeJSON(w, http.StatusOK, ex)
		return
	}
	// Backpressure: while placement is behind, a new submission waits for
	// the scheduler or is refused (admission.go).
	release, err := s.adm.admit(r.Context(), s.node.State(), 1)
	if err != nil {
		var over *overloadError
		switch {
		case errors.As(err, &over):
			s.metrics.submissions.WithLabelValues("overloaded").Inc()
			s.writeOverloaded(w, r, over)
		case r.Context().Err() != nil:
			// The client went away while waiting: nothing to answer.
		default:
			s.metrics.submissions.WithLabelValues("error").Inc()
			s.writeError(w, r, err)
		}
		return
	}
	// Shared: the answer is only encoded, so the stored version needs no copy.
	res, err := s.node.ApplyShared(r.Context(), raftstore.Command{Type: raftstore.CmdSubmit, Submit: sub})
	release()
	if err == nil {
		err = res.Err
	}
	if err != nil {
		s.metrics.submissions.WithLabelValues("error").Inc()
		s.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	result := "existing"
	if res.Created {
		status, result = http.StatusCreated, "created"
		s.metrics.submitLatency.Observe(time.Since(start).Seconds())
	}
	s.metrics.submissions.WithLabelValues(result).Inc()
	if res.Created {
		// The stored spec is the one just rendered: only a new execution's
		// spec is known to be this request's.
		writeSubmitted(w, status, sub.Canonical(), res.Execution)
		return
	}
	writeJSONFast(w, status, res.Execution)
}

func (s *Server) getExecution(w http.ResponseWriter, r *http.Request) {
	key := keyOf(r)
	ex, ok := s.node.State().Execution(key)
	if !ok {
		s.writeError(w, r, notFoundf("execution %s", key))
		return
	}
	writeJSON(w, http.StatusOK, ex)
}

func (s *Server) listExecutions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := raftstore.ExecutionFilter{
		Project: q.Get("project"),
		Domain:  q.Get("domain"),
		Cluster: q.Get("cluster"),
		Phase:   v1.ExecutionPhase(q.Get("phase")),
		Tier:    v1.Tier(q.Get("tier")),
	}
	if f.Phase != "" && !f.Phase.Valid() {
		s.writeError(w, r, badRequest("phase %q: want one of %v", f.Phase, v1.ExecutionPhases))
		return
	}
	if f.Tier != "" && !f.Tier.Valid() {
		s.writeError(w, r, badRequest("tier %q: want critical, standard or best-effort", f.Tier))
		return
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			s.writeError(w, r, badRequest("limit %q: want a positive integer", v))
			return
		}
		limit = min(n, maxListLimit)
	}
	list := s.node.State().ListExecutions
	switch v := q.Get("archived"); v {
	case "", "false":
	case "true":
		// Executions past retention are listed apart (retention.go):
		// decoding the archive costs more than walking the hot indexes.
		list = s.node.State().ListArchived
	default:
		s.writeError(w, r, badRequest("archived %q: want true or false", v))
		return
	}
	items, next := list(f, limit, q.Get("continue"))
	if items == nil {
		items = []v1.Execution{}
	}
	writeJSON(w, http.StatusOK, v1.ExecutionList{Items: items, Continue: next})
}

func (s *Server) cancelExecution(w http.ResponseWriter, r *http.Request) {
	key := keyOf(r)
	res, err := s.apply(r.Context(), raftstore.Command{Type: raftstore.CmdCancel, Key: &key})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res.Execution)
}
