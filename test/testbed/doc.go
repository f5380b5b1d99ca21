// Package testbed starts real Kubernetes member clusters for tests on a
// machine without Docker: each cluster is an etcd, a kube-apiserver, a
// kube-scheduler and a kwok controller, all real binaries built by
// test/testbin/build.sh (`make testbin`), listening only on loopback.
//
// kwok plays the kubelet for fake nodes. The project ships its own kwok Stage
// definitions (stages/*.yaml): nodes become Ready and heartbeat, pods start
// at once, and pods owned by a Workflow (workflow.federation.dev/v1alpha1)
// end Succeeded or Failed as their sim.federation.dev/* annotations say, with
// the container termination message taken from sim.federation.dev/outputs.
//
// There is no kube-controller-manager: no garbage collector, no service
// account controller, no node lifecycle controller. The testbed makes up for
// what tests need (the default ServiceAccount, Ready untainted nodes).
package testbed
