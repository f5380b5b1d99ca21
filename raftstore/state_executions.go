package raftstore

import (
	"maps"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// transition stores a copy of e moved to phase, with a history entry.
// change, if set, edits the copy first (e.g. to set the cluster or
// attempt). Callers hold mu.
func (s *State) transition(e *v1.Execution, at time.Time, phase v1.ExecutionPhase, reason, message string, change func(n *v1.Execution)) *v1.Execution {
	n := *e
	if change != nil {
		change(&n)
	}
	n.Phase = phase
	n.Reason = reason
	n.Message = message
	n.UpdatedAt = at
	// Appending may write into the backing array that e shares, but only
	// past len(e.History), which no reader of e looks at; only the newest
	// version is ever extended.
	n.History = append(n.History, v1.PhaseTransition{
		Phase: phase, Cluster: n.Cluster, Attempt: n.Attempt, Reason: reason, Message: message, At: at,
	})
	s.putExecution(e, &n, at)
	return &n
}

func (s *State) applySubmit(c *Command) Result {
	if c.Submit == nil {
		return invalidCmd(c, "no spec")
	}
	// Read in place: the execution below is the only copy of the spec the
	// state keeps.
	spec := &c.Submit.Spec
	key := spec.Key()
	if key.Project == "" || key.Domain == "" || key.Name == "" {
		return invalidCmd(c, "spec has no project, domain or name")
	}
	hash := c.Submit.Hash
	if hash == "" {
		hash = spec.Hash()
	}
	if e, ok := s.execs[key.String()]; ok {
		if e.SpecHash != hash {
			r := refuse(ErrConflict, "submit %s: exists with another spec", key)
			r.Execution = e
			return r
		}
		return Result{Execution: e}
	}
	if a, ok := s.arch.get(key.String()); ok {
		// Archived: still the same execution for idempotency.
		e, _ := s.archivedLocked(key.String())
		if a.hash != hash {
			r := refuse(ErrConflict, "submit %s: exists (archived) with another spec", key)
			r.Execution = e
			return r
		}
		return Result{Execution: e}
	}
	s.seq++
	// The history has room for the assignment, which every execution
	// that runs gets next: the transition then extends this array instead
	// of leaving it as garbage.
	history := make([]v1.PhaseTransition, 1, 2)
	history[0] = v1.PhaseTransition{Phase: v1.PhaseQueued, Attempt: 1, Reason: v1.ReasonSubmitted, At: c.At}
	e := &v1.Execution{
		ExecutionSpec: *spec,
		SpecHash:      hash,
		Phase:         v1.PhaseQueued,
		Attempt:       1,
		Reason:        v1.ReasonSubmitted,
		CreatedAt:     c.At,
		UpdatedAt:     c.At,
		Seq:           s.seq,
		History:       history,
	}
	sharePool(&e.ExecutionSpec, c.local)
	e.Inputs = s.inputs.acquire(e.Inputs)
	s.putExecution(nil, e, c.At)
	return Result{Execution: e, Created: true}
}

func (s *State) applyCancel(c *Command) Result {
	if c.Key == nil {
		return invalidCmd(c, "no key")
	}
	e, ok := s.execs[c.Key.String()]
	if !ok {
		if a, archived := s.archivedLocked(c.Key.String()); archived {
			return Result{Execution: a} // terminal: cancel is a no-op
		}
		return refuse(ErrNotFound, "cancel %s: no such execution", c.Key)
	}
	switch e.Phase {
	case v1.PhaseQueued:
		e = s.transition(e, c.At, v1.PhaseAborted, v1.ReasonCancelled, "", nil)
	case v1.PhaseAssigned, v1.PhaseRunning:
		e = s.transition(e, c.At, v1.PhaseAborting, v1.ReasonCancelled, "", nil)
	}
	// Aborting and terminal executions stay as they are: cancel is idempotent.
	return Result{Execution: e}
}

func (s *State) applyAssign(c *Command) Result {
	a := c.Assign
	if a == nil {
		return invalidCmd(c, "no assignment")
	}
	e, ok := s.execs[a.Key.String()]
	if !ok {
		return refuse(ErrNotFound, "assign %s: no such execution", a.Key)
	}
	if e.Attempt != a.Attempt {
		r := refuse(ErrStale, "assign %s: attempt %d, execution is at attempt %d", a.Key, a.Attempt, e.Attempt)
		r.Execution = e
		return r
	}
	if e.Phase != v1.PhaseQueued {
		r := refuse(ErrInvalidTransition, "assign %s: execution is %s, not Queued", a.Key, e.Phase)
		r.Execution = e
		return r
	}
	cl, ok := s.clusters[a.Cluster]
	if !ok {
		return refuse(ErrNotFound, "assign %s: no cluster %q", a.Key, a.Cluster)
	}
	if cl.State != v1.ClusterReady {
		return refuse(ErrInvalidTransition, "assign %s: cluster %s is %s, not Ready", a.Key, a.Cluster, cl.State)
	}
	e = s.transition(e, c.At, v1.PhaseAssigned, v1.ReasonPlaced, "", func(n *v1.Execution) { n.Cluster = a.Cluster })
	return Result{Execution: e, Cluster: s.clusters[a.Cluster]}
}

func (s *State) applyReport(c *Command) Result {
	r := c.Report
	if r == nil || r.Cluster == "" {
		return invalidCmd(c, "no report or no cluster")
	}
	rep := &r.Report
	e, ok := s.execs[rep.ExecutionKey.String()]
	if !ok {
		return Result{Verdict: v1.VerdictUnknown}
	}
	if e.Cluster != r.Cluster || e.Attempt != rep.Attempt || !(e.Phase.OnCluster() || e.Phase.Terminal()) {
		return Result{Verdict: v1.VerdictStale, Execution: e}
	}
	if e.Phase.Terminal() {
		return Result{Verdict: v1.VerdictAccepted, Execution: e}
	}
	phase := reportedPhase(e.Phase, rep.Phase)
	record := func(n *v1.Execution) {
		if len(rep.Nodes) > 0 {
			// Merge: a node the agent did not mention (one resumed from an
			// earlier attempt, say) keeps its last known status.
			nodes := make(map[string]v1.NodeStatus, len(n.Nodes)+len(rep.Nodes))
			maps.Copy(nodes, n.Nodes)
			maps.Copy(nodes, rep.Nodes)
			n.Nodes = nodes
		}
		if len(rep.Outputs) > 0 {
			n.Outputs = rep.Outputs
		}
	}
	if phase != e.Phase {
		e = s.transition(e, c.At, phase, v1.ReasonAgentReported, rep.Message, record)
		return Result{Verdict: v1.VerdictAccepted, Execution: e}
	}
	if len(rep.Nodes) == 0 && len(rep.Outputs) == 0 && (rep.Message == "" || rep.Message == e.Message) {
		// Nothing new: write nothing.
		return Result{Verdict: v1.VerdictAccepted, Execution: e}
	}
	n := *e
	record(&n)
	if rep.Message != "" {
		n.Message = rep.Message
	}
	n.UpdatedAt = c.At
	s.putExecution(e, &n, c.At)
	return Result{Verdict: v1.VerdictAccepted, Execution: &n}
}

// reportedPhase is where a report moves an execution in phase cur: only
// forwards, and out of Aborting only to an end.
func reportedPhase(cur, reported v1.ExecutionPhase) v1.ExecutionPhase {
	switch {
	case reported.Terminal():
		return reported
	case cur == v1.PhaseAssigned && reported == v1.PhaseRunning:
		return v1.PhaseRunning
	}
	return cur
}

func (s *State) applyRequeue(c *Command) Result {
	q := c.Requeue
	if q == nil {
		return invalidCmd(c, "no requeue")
	}
	e, ok := s.execs[q.Key.String()]
	if !ok {
		return refuse(ErrNotFound, "requeue %s: no such execution", q.Key)
	}
	if !e.Phase.OnCluster() || e.Attempt != q.Attempt {
		r := refuse(ErrStale, "requeue %s attempt %d: execution is %s at attempt %d", q.Key, q.Attempt, e.Phase, e.Attempt)
		r.Execution = e
		return r
	}
	maxAttempts := e.MaxAttempts
	if maxAttempts == 0 {
		maxAttempts = v1.DefaultMaxAttempts
	}
	switch {
	case e.Phase == v1.PhaseAborting:
		// It was being cancelled: there is nothing to run again.
		e = s.transition(e, c.At, v1.PhaseAborted, q.Reason, q.Message, nil)
	case e.Attempt+1 > maxAttempts:
		e = s.transition(e, c.At, v1.PhaseFailed, q.Reason, q.Message, nil)
	default:
		// Nodes stay: the next attempt resumes from the ones that succeeded.
		e = s.transition(e, c.At, v1.PhaseQueued, q.Reason, q.Message, func(n *v1.Execution) {
			n.Attempt++
			n.Cluster = ""
		})
	}
	return Result{Execution: e}
}
