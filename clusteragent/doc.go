// Package clusteragent is the agent that runs in every member cluster. Its
// session with the federation control plane (this package) heartbeats the
// cluster's capacity, long-polls the executions assigned to it, runs them on
// a Backend (Kubernetes in clusteragent/kube, a simulation in
// clusteragent/sim) and reports their progress back.
//
// The session keeps workflows running while the control plane is away:
// every call goes through a circuit breaker and backs off with full jitter,
// and reports that were not acknowledged are kept and sent again, so that
// nothing is lost when the control plane returns. Attempt numbers fence
// every copy: a report the control plane calls stale or unknown makes the
// agent abort and delete that copy.
package clusteragent
