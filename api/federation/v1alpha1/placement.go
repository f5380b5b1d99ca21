package v1alpha1

// Explanation says where placement puts (or would put) an execution and why:
// the verdict of every cluster's filters and the scores of the feasible ones.
// It answers GET /executions/{project}/{domain}/{name}/explain and
// POST /placement/dry-run.
type Explanation struct {
	Key ExecutionKey `json:"key"`
	// Chosen is the cluster placement picks; empty while no cluster fits
	// and the execution waits in the queue.
	Chosen string `json:"chosen"`
	// Summary is one human-readable sentence about the decision.
	Summary  string           `json:"summary"`
	Clusters []ClusterVerdict `json:"clusters"`
}

// ClusterVerdict is what placement decided about one cluster.
type ClusterVerdict struct {
	Cluster  string `json:"cluster"`
	Feasible bool   `json:"feasible"`
	// Filter names the filter that rejected the cluster; empty when feasible.
	Filter string `json:"filter,omitempty"`
	// Reason says why the filter rejected it, in words a user can act on.
	Reason string `json:"reason,omitempty"`
	// Scores are the per-plugin scores of a feasible cluster, by plugin name.
	Scores map[string]float64 `json:"scores,omitempty"`
	// Total is the combined score; the feasible cluster with the highest
	// total wins.
	Total float64 `json:"total"`
}
