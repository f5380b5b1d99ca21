package v1alpha1

import "time"

// UsageAmounts are resources requested over time, and their estimated cost
// at the clusters' prices.
type UsageAmounts struct {
	CPUSeconds        float64 `json:"cpuSeconds"`
	MemoryByteSeconds float64 `json:"memoryByteSeconds"`
	GPUSeconds        float64 `json:"gpuSeconds"`
	// Cost is in the currency of the clusters' Prices; zero where a cluster
	// has none.
	Cost float64 `json:"cost"`
}

// Add returns u+o.
func (u UsageAmounts) Add(o UsageAmounts) UsageAmounts {
	return UsageAmounts{u.CPUSeconds + o.CPUSeconds, u.MemoryByteSeconds + o.MemoryByteSeconds, u.GPUSeconds + o.GPUSeconds, u.Cost + o.Cost}
}

// UsageRow is the usage of one project and domain on one cluster.
type UsageRow struct {
	Project string `json:"project"`
	Domain  string `json:"domain"`
	Cluster string `json:"cluster"`
	UsageAmounts
	// Executions counts the executions that used anything here.
	Executions int `json:"executions"`
}

// ProjectUsage is one project's usage over every domain and cluster.
type ProjectUsage struct {
	Project string `json:"project"`
	UsageAmounts
}

// ExecutionUsage is one execution's usage over every cluster it ran on.
type ExecutionUsage struct {
	ExecutionKey
	UsageAmounts
}

// UsageReport answers GET /usage: requested resources × time of task nodes
// that ran in [From, To), by project, domain and cluster.
type UsageReport struct {
	From     time.Time      `json:"from"`
	To       time.Time      `json:"to"`
	Rows     []UsageRow     `json:"rows"`
	Projects []ProjectUsage `json:"projects"`
	// Executions are the costliest executions of the window, at most the
	// request's limit.
	Executions []ExecutionUsage `json:"executions"`
	Total      UsageAmounts     `json:"total"`
}
