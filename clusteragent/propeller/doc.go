// Package propeller is the cluster agent's propeller loop: a controller-runtime
// reconciler that drives a Workflow custom resource (api/workflow/v1alpha1)
// to completion by running its task nodes as pods in dependency order.
//
// # The task contract
//
// Each attempt of a node is one pod named <workflow>-<node>-<attempt>, with
// restartPolicy Never, the label workflow.federation.dev/name=<workflow>, and
// the Workflow as its controlling owner. Its single container is named "task".
// No service account token is mounted: a task does not talk to the member's
// API.
//
//   - Inputs: every input binding of the node (fromInput, fromNode+output, or
//     value) reaches the container as an environment variable
//     FED_INPUT_<NAME>, where NAME is the input's name upper-cased with every
//     character other than A-Z and 0-9 replaced by "_" (input "max-rows"
//     becomes FED_INPUT_MAX_ROWS). Names that collide after this mapping are
//     set in sorted input-name order, so the last one wins.
//   - Outputs: a task publishes its outputs by writing one JSON object to its
//     termination message file (/dev/termination-log), e.g. {"rows":"42"}.
//     String values are taken as they are; other JSON values as their JSON
//     text. Kubernetes caps the message at 4096 bytes. A pod that succeeds
//     with a message that is not a JSON object counts as a failed try.
//   - Retries and timeouts: a failed pod, a pod gone before it finished, or
//     a pod still running past the node's timeout (counted from the pod's
//     creation; the pod is then deleted) is a failed try; the node runs
//     again as attempt+1 until its retries are spent, then fails, and with
//     it the workflow: running nodes are stopped (Aborted), the rest Skipped.
//   - Annotations with the prefix sim.federation.dev/ on the Workflow are
//     copied to its pods: the test bed's kwok stages read them to decide how
//     a simulated pod ends.
//
// # The state machine
//
// The whole state of a run lives in the Workflow's status, so a restarted
// agent resumes where it stopped, and a node recorded finished never needs
// its pod again (pods may be garbage-collected under it). Every reconcile
// computes the next status from the current one and the pods it sees, makes
// the pod creates and deletes that the step needs, and writes the status at
// most once, and only if it changed: a reconcile with nothing to do writes
// nothing. Writes are counted in clusteragent_api_writes_total{verb}.
package propeller
