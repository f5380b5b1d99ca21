// Package sim is a simulated member cluster: a clusteragent.Backend that
// runs each workflow's DAG in memory against a fixed capacity, for demos,
// tests of the control plane and benchmarks with thousands of executions.
//
// Every node lasts Options.TaskDuration, needs its resource requests (and
// one pod) free to start, fails with probability Options.FailRate (drawn
// from a seeded source, so a run can be replayed) and is retried as its spec
// says. A succeeded node has the output "path" = "sim://<execution>/<node>",
// so that bindings to an upstream "path" resolve.
package sim
