package placement

import v1 "github.com/federation-dev/federation/api/federation/v1alpha1"

// Snapshot is the federation as placement sees it at the start of a round.
// Decide and Explain never modify it.
type Snapshot struct {
	// Clusters in any order; the engine sorts a copy by Name.
	Clusters []ClusterView
	// ProjectUsage is the live resources of executions already on
	// clusters, per project: the starting usage for fair share.
	ProjectUsage map[string]v1.Amounts
	// ProjectRunning is the number of live executions per project, for
	// quotas.
	ProjectRunning map[string]int
}

// ClusterView is one member cluster as placement sees it.
type ClusterView struct {
	// Name is unique among the snapshot's clusters.
	Name   string
	Labels map[string]string
	// Weight is the cluster's share of load relative to the others; 0 or
	// less takes no new executions.
	Weight int
	// Tiers the cluster accepts; empty means all.
	Tiers []v1.Tier
	// AllowedProjects restricts the tenants placed here; empty means all,
	// "*" matches any project.
	AllowedProjects []string
	State           v1.ClusterState
	Healthy         bool
	// Settled is true once the cluster has been healthy for the settle time.
	Settled bool
	// Breaker is v1.BreakerClosed, v1.BreakerHalfOpen or v1.BreakerOpen;
	// empty counts as closed.
	Breaker string
	// Allocatable and Free are as the agent last reported them.
	Allocatable, Free v1.Amounts
	// Reserved is the need of executions assigned but not yet visible in
	// Free; the caller computes it.
	Reserved v1.Amounts
	// Load is the number of live executions on the cluster now.
	Load int
	// HasCapacity is false until the agent reported capacity once; such a
	// cluster fits nothing.
	HasCapacity bool
}

// Pending is one queued execution waiting for a cluster.
type Pending struct {
	Key     v1.ExecutionKey
	Attempt int
	// Tier is the QoS tier; empty counts as standard.
	Tier v1.Tier
	// Seq orders a project's executions: lower goes first.
	Seq             uint64
	Selector        *v1.LabelSelector
	PreferredLabels map[string]string
	// Need is the peak concurrent need (WorkflowSpec.PeakResources());
	// negative amounts count as zero.
	Need v1.Amounts
}

// Decision is where one pending execution goes this round.
type Decision struct {
	Key     v1.ExecutionKey
	Attempt int
	// Cluster is the chosen cluster, or "" when the execution stays pending.
	Cluster string
	// Reasons say why this cluster, or why nothing fits, summarised per
	// reason ("3 clusters: insufficient cpu").
	Reasons []string
}

// Explanation is every cluster's verdict for one execution.
type Explanation struct {
	Key v1.ExecutionKey
	// Chosen is where Decide would place the execution if it were alone
	// in the queue, or "".
	Chosen   string
	Clusters []ClusterVerdict
	Summary  string
}

// ClusterVerdict is one cluster's filter verdict and scores for one
// execution.
type ClusterVerdict struct {
	Cluster  string
	Feasible bool
	// Filter and Reason name the first filter that rejected the cluster;
	// both are empty when it is feasible.
	Filter string
	Reason string
	// Scores of a feasible cluster: ScoreWeight is its projected weighted
	// load (lower wins), the others are in [0,1] (higher wins).
	Scores map[string]float64
	// Total combines the scores; the lowest Total wins (see the package
	// documentation).
	Total float64
}
