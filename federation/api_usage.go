package federation

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/raftstore"
)

// Usage accounting, computed at read time.
//
// Agents report, for each task node, when its last run started and finished
// (by the agent's clock) and what its pod requested; the control plane
// stamps the reporting cluster on it (stampUsage) and the FSM keeps it with
// the execution like any node status. A usage query walks the executions
// and charges each node's requests for the part of its run that falls in
// the window, at the current prices of the cluster it ran on. Nothing is
// aggregated in the FSM, so the replicated state and the log stay as they
// were, and a usage report is always consistent with the executions.
//
// What follows from it: only a node's last run is charged (a node retried
// in place, or run again after a requeue, is charged for the run that
// reported last); a run cut off without a finish time (cluster lost,
// cancelled) is charged until the execution's last update; a read costs a
// walk over the project's executions (the state lock is held only to
// gather them).

// maxUsageExecutions caps the per-execution list of a usage report.
const maxUsageExecutions = 1000

const gib = 1 << 30

// usageQuery selects what a usage report covers.
type usageQuery struct {
	Project, Domain, Cluster string
	From, To                 time.Time
	// Limit caps the per-execution list; zero leaves it out.
	Limit int
}

// computeUsage aggregates the usage of the executions in st over q's
// window; now ends the runs still going.
func computeUsage(st *raftstore.State, q usageQuery, now time.Time) v1.UsageReport {
	prices := map[string]v1.Prices{}
	for _, c := range st.Clusters() {
		if c.Prices != nil {
			prices[c.Name] = *c.Prices
		}
	}
	type rowKey struct{ project, domain, cluster string }
	rows := map[rowKey]*v1.UsageRow{}
	projects := map[string]*v1.ProjectUsage{}
	var execs []v1.ExecutionUsage
	out := v1.UsageReport{From: q.From, To: q.To}
	st.ForEachExecution(raftstore.ExecutionFilter{Project: q.Project, Domain: q.Domain}, func(ex *v1.Execution) bool {
		var total v1.UsageAmounts
		seen := map[string]bool{}
		for id, n := range ex.Nodes {
			cluster := n.Cluster
			if cluster == "" {
				cluster = ex.Cluster
			}
			if q.Cluster != "" && cluster != q.Cluster {
				continue
			}
			u, ok := nodeUsage(ex, id, &n, q.From, q.To, now)
			if !ok {
				continue
			}
			u.Cost = costOf(u, prices[cluster])
			k := rowKey{ex.Project, ex.Domain, cluster}
			r := rows[k]
			if r == nil {
				r = &v1.UsageRow{Project: ex.Project, Domain: ex.Domain, Cluster: cluster}
				rows[k] = r
			}
			r.UsageAmounts = r.UsageAmounts.Add(u)
			if !seen[cluster] {
				seen[cluster] = true
				r.Executions++
			}
			total = total.Add(u)
		}
		if len(seen) == 0 {
			return true
		}
		p := projects[ex.Project]
		if p == nil {
			p = &v1.ProjectUsage{Project: ex.Project}
			projects[ex.Project] = p
		}
		p.UsageAmounts = p.UsageAmounts.Add(total)
		out.Total = out.Total.Add(total)
		if q.Limit > 0 {
			execs = append(execs, v1.ExecutionUsage{ExecutionKey: ex.Key(), UsageAmounts: total})
		}
		return true
	})
	out.Rows = make([]v1.UsageRow, 0, len(rows))
	for _, r := range rows {
		out.Rows = append(out.Rows, *r)
	}
	slices.SortFunc(out.Rows, func(a, b v1.UsageRow) int {
		return cmp.Or(cmp.Compare(a.Project, b.Project), cmp.Compare(a.Domain, b.Domain), cmp.Compare(a.Cluster, b.Cluster))
	})
	out.Projects = make([]v1.ProjectUsage, 0, len(projects))
	for _, p := range projects {
		out.Projects = append(out.Projects, *p)
	}
	slices.SortFunc(out.Projects, func(a, b v1.ProjectUsage) int { return cmp.Compare(a.Project, b.Project) })
	// Costliest first, then by CPU time, then by key: a stable order.
	slices.SortFunc(execs, func(a, b v1.ExecutionUsage) int {
		return cmp.Or(cmp.Compare(b.Cost, a.Cost), cmp.Compare(b.CPUSeconds, a.CPUSeconds), cmp.Compare(a.ExecutionKey.String(), b.ExecutionKey.String()))
	})
	if len(execs) > q.Limit {
		execs = execs[:q.Limit]
	}
	out.Executions = execs
	if out.Executions == nil {
		out.Executions = []v1.ExecutionUsage{}
	}
	return out
}

// nodeUsage charges node id's requests for the part of its last run inside
// [from, to). ok is false when nothing of it falls there.
func nodeUsage(ex *v1.Execution, id string, n *v1.NodeStatus, from, to, now time.Time) (v1.UsageAmounts, bool) {
	if n.StartedAt == nil {
		return v1.UsageAmounts{}, false
	}
	start := *n.StartedAt
	var end time.Time
	switch {
	case n.FinishedAt != nil:
		end = *n.FinishedAt
	case n.Phase == v1.NodeRunning && ex.Phase.OnCluster() && (n.Cluster == "" || n.Cluster == ex.Cluster):
		end = now
	default:
		// The run was cut off without a finish time (its cluster was lost,
		// the execution was cancelled): charge it until the last news of it.
		end = ex.UpdatedAt
	}
	if start.Before(from) {
		start = from
	}
	if !to.IsZero() && end.After(to) {
		end = to
	}
	if !end.After(start) {
		return v1.UsageAmounts{}, false
	}
	req, ok := nodeRequests(ex, id, n)
	if !ok {
		return v1.UsageAmounts{}, false
	}
	secs := end.Sub(start).Seconds()
	return v1.UsageAmounts{
		CPUSeconds:        secs * float64(req.MilliCPU) / 1000,
		MemoryByteSeconds: secs * float64(req.MemoryBytes),
		GPUSeconds:        secs * float64(req.GPU),
	}, true
}

// nodeRequests are the requests the agent reported for the node, or those
// of its spec for an agent that reports none.
func nodeRequests(ex *v1.Execution, id string, n *v1.NodeStatus) (v1.Amounts, bool) {
	if n.Requests != nil {
		return *n.Requests, true
	}
	for _, tn := range ex.Workflow.Nodes {
		if tn.ID == id {
			a, err := tn.Resources.Amounts()
			return a, err == nil
		}
	}
	return v1.Amounts{}, false
}

// costOf prices usage at p.
func costOf(u v1.UsageAmounts, p v1.Prices) float64 {
	return u.CPUSeconds/3600*p.CPUHour + u.MemoryByteSeconds/gib/3600*p.GiBHour + u.GPUSeconds/3600*p.GPUHour
}

// stampUsage prepares a report's node statuses for usage accounting before
// it is committed: a node that ran is stamped with the reporting cluster,
// and a succeeded node reported without a run (resumed from an earlier
// attempt) keeps the run recorded for it, instead of erasing it.
func (s *Server) stampUsage(cluster string, rep *v1.StatusReport) {
	for id, n := range rep.Nodes {
		switch {
		case n.StartedAt != nil && n.Cluster == "":
			n.Cluster = cluster
		case n.StartedAt == nil && n.Phase == v1.NodeSucceeded:
			old, ok := s.node.State().NodeStatus(rep.ExecutionKey, id)
			if !ok || old.StartedAt == nil {
				continue
			}
			n.StartedAt, n.FinishedAt, n.Requests, n.Cluster = old.StartedAt, old.FinishedAt, old.Requests, old.Cluster
		default:
			continue
		}
		rep.Nodes[id] = n
	}
}

// parseUsageTime reads a window bound: RFC 3339, or a date (UTC midnight).
func parseUsageTime(name, v string, def time.Time) (time.Time, error) {
	if v == "" {
		return def, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, badRequest("%s %q: want RFC 3339 (2026-01-02T15:04:05Z) or a date (2026-01-02)", name, v)
}

// getUsage serves GET /usage?project=&domain=&cluster=&from=&to=&limit=.
// The window defaults to the last 24 hours.
func (s *Server) getUsage(w http.ResponseWriter, r *http.Request) {
	qv := r.URL.Query()
	at := now()
	to, err := parseUsageTime("to", qv.Get("to"), at)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	from, err := parseUsageTime("from", qv.Get("from"), to.Add(-24*time.Hour))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !to.After(from) {
		s.writeError(w, r, badRequest("from %s is not before to %s", from.Format(time.RFC3339), to.Format(time.RFC3339)))
		return
	}
	limit := 100
	if v := qv.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.writeError(w, r, badRequest("limit %q: want a non-negative integer", v))
			return
		}
		limit = min(n, maxUsageExecutions)
	}
	q := usageQuery{Project: qv.Get("project"), Domain: qv.Get("domain"), Cluster: qv.Get("cluster"), From: from, To: to, Limit: limit}
	writeJSON(w, http.StatusOK, computeUsage(s.node.State(), q, at))
}
