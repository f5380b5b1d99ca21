// Package federation is the control-plane service: the HTTP API served by
// every replica (writes forwarded to the Raft leader), the leader's
// scheduler loop that places queued executions through the placement
// engine, the health monitor that turns missed leases and drain deadlines
// into Raft commands, and the metrics. It never writes state itself: every
// change is a raftstore command applied by the FSM.
package federation
