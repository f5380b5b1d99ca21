package federation

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/federation-dev/federation/raftstore"
)

// usageCollector exports usage accounting as counters, computed at scrape
// time over all time from the replica's state (see api_usage.go). A running
// node's usage grows with every scrape; a change of a cluster's prices
// re-prices its whole history, which Prometheus sees as a counter reset.
type usageCollector struct {
	node                   *raftstore.Node
	cpu, memory, gpu, cost *prometheus.Desc
}

func newUsageCollector(node *raftstore.Node) *usageCollector {
	labels := []string{"project", "domain", "cluster"}
	return &usageCollector{
		node:   node,
		cpu:    prometheus.NewDesc("federation_usage_cpu_seconds_total", "CPU-seconds requested by task nodes while they ran, by project, domain and cluster.", labels, nil),
		memory: prometheus.NewDesc("federation_usage_memory_byte_seconds_total", "Memory byte-seconds requested by task nodes while they ran.", labels, nil),
		gpu:    prometheus.NewDesc("federation_usage_gpu_seconds_total", "GPU-seconds requested by task nodes while they ran.", labels, nil),
		cost:   prometheus.NewDesc("federation_usage_cost_total", "Estimated cost of that usage at each cluster's current prices (currency of the prices).", labels, nil),
	}
}

// Describe sends the four descriptors.
func (c *usageCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.cpu
	ch <- c.memory
	ch <- c.gpu
	ch <- c.cost
}

// Collect computes usage over all time and sends one sample per row and metric.
func (c *usageCollector) Collect(ch chan<- prometheus.Metric) {
	if c.node == nil {
		return
	}
	at := time.Now().UTC()
	rep := computeUsage(c.node.State(), usageQuery{To: at}, at)
	for _, r := range rep.Rows {
		for desc, v := range map[*prometheus.Desc]float64{c.cpu: r.CPUSeconds, c.memory: r.MemoryByteSeconds, c.gpu: r.GPUSeconds, c.cost: r.Cost} {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, v, r.Project, r.Domain, r.Cluster)
		}
	}
}
