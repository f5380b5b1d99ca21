package v1alpha1

import "time"

// ClusterState is where a member cluster is in its life.
type ClusterState string

// Cluster states. Registered → Ready ⇄ Unhealthy; Ready → Cordoned →
// Draining → Drained; Cordoned | Drained → Ready; → Removed only when it runs
// nothing.
const (
	ClusterRegistered ClusterState = "Registered"
	ClusterReady      ClusterState = "Ready"
	ClusterUnhealthy  ClusterState = "Unhealthy"
	ClusterCordoned   ClusterState = "Cordoned"
	ClusterDraining   ClusterState = "Draining"
	ClusterDrained    ClusterState = "Drained"
	ClusterRemoved    ClusterState = "Removed"
)

// Schedulable reports whether new executions may be placed in this state.
func (s ClusterState) Schedulable() bool { return s == ClusterReady }

// Breaker states of a cluster's circuit breaker.
const (
	BreakerClosed   = "closed"
	BreakerHalfOpen = "half-open"
	BreakerOpen     = "open"
)

// ClusterSpec is what an SRE registers.
type ClusterSpec struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
	// Weight is the cluster's share of load relative to the others.
	Weight int `json:"weight"`
	// Tiers the cluster accepts; empty means all.
	Tiers []Tier `json:"tiers,omitempty"`
	// AllowedProjects restricts the tenants placed here; empty means all.
	AllowedProjects []string `json:"allowedProjects,omitempty"`
	Prices          *Prices  `json:"prices,omitempty"`
}

// Prices are what a cluster's resources cost, for usage accounting.
type Prices struct {
	CPUHour float64 `json:"cpuHour,omitempty"`
	GiBHour float64 `json:"gibHour,omitempty"`
	GPUHour float64 `json:"gpuHour,omitempty"`
}

// AcceptsTier reports whether the spec accepts executions of tier t.
func (c *ClusterSpec) AcceptsTier(t Tier) bool {
	if len(c.Tiers) == 0 {
		return true
	}
	for _, x := range c.Tiers {
		if x == t {
			return true
		}
	}
	return false
}

// AllowsProject reports whether executions of project p may run here.
func (c *ClusterSpec) AllowsProject(p string) bool {
	if len(c.AllowedProjects) == 0 {
		return true
	}
	for _, x := range c.AllowedProjects {
		if x == p || x == "*" {
			return true
		}
	}
	return false
}

// Cluster is a member cluster as the federation holds it.
type Cluster struct {
	ClusterSpec
	State ClusterState `json:"state"`
	// Healthy is false while the agent's lease is missed or the cluster is
	// settling after coming back.
	Healthy       bool      `json:"healthy"`
	Breaker       string    `json:"breaker,omitempty"`
	Capacity      *Capacity `json:"capacity,omitempty"`
	AgentVersion  string    `json:"agentVersion,omitempty"`
	LastHeartbeat time.Time `json:"lastHeartbeat,omitempty"`
	// HealthySince is when the cluster last became healthy.
	HealthySince  time.Time  `json:"healthySince,omitempty"`
	DrainDeadline *time.Time `json:"drainDeadline,omitempty"`
	CreatedAt     time.Time  `json:"createdAt"`
	UpdatedAt     time.Time  `json:"updatedAt"`
	// Running counts executions that occupy the cluster (Assigned, Running, Aborting).
	Running int `json:"running"`
}

// ClusterList is every registered cluster.
type ClusterList struct {
	Items []Cluster `json:"items"`
}

// ClusterPatch changes a registered cluster; nil fields stay as they are.
type ClusterPatch struct {
	Labels          map[string]string `json:"labels,omitempty"`
	Weight          *int              `json:"weight,omitempty"`
	Tiers           []Tier            `json:"tiers,omitempty"`
	AllowedProjects []string          `json:"allowedProjects,omitempty"`
	Prices          *Prices           `json:"prices,omitempty"`
}

// DrainRequest starts a drain: running executions may finish until the
// deadline (a Go duration from now), then are requeued elsewhere.
type DrainRequest struct {
	Deadline string `json:"deadline"`
}
