package propeller

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// apiWrites counts every write request the agent sends to the member
// cluster's API server, by verb. A reconcile that changes nothing must not
// move it: it is how the "no needless writes" rule is watched in production.
var apiWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "clusteragent_api_writes_total",
	Help: "Write requests sent to the member cluster's API server, by verb.",
}, []string{"verb"})

func init() {
	// controller-runtime's registry is what its manager serves on /metrics.
	metrics.Registry.MustRegister(apiWrites)
}
