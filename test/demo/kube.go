package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"

	"github.com/federation-dev/federation/test/testbed"
)

// kubeExecutions is the default number of executions on the kubernetes
// backend: every task there is a real pod through a real API server and
// scheduler, on the same two cores, so fewer keep the demo near 3 minutes.
const kubeExecutions = 60

// kubeNodes are the fake nodes of each demo member on the kubernetes
// backend: the same capacity as the simulated members.
var kubeNodes = map[string][]testbed.NodeSpec{
	"us-east-a": {{CPU: "32", Memory: "128Gi", Pods: "250"}, {CPU: "32", Memory: "128Gi", Pods: "250"}},
	"us-east-b": {{CPU: "32", Memory: "128Gi", Pods: "250"}, {CPU: "32", Memory: "128Gi", Pods: "250"}},
	"eu-spot":   {{CPU: "32", Memory: "128Gi", Pods: "200"}},
}

// declareOutputs makes each extract task of the demo DAG declare the output
// "path" that train reads. The simulated backend makes up outputs; on the
// testbed a task's outputs are its termination message, which kwok takes
// from the container's testbed.EnvOutputs variable.
func declareOutputs(specs []v1.ExecutionSpec) {
	for i := range specs {
		for j := range specs[i].Workflow.Nodes {
			n := &specs[i].Workflow.Nodes[j]
			if n.ID != "extract" {
				continue
			}
			env := maps.Clone(n.Env)
			if env == nil {
				env = map[string]string{}
			}
			env[testbed.EnvOutputs] = `{"path":"s3://demo/` + specs[i].Name + `/extract"}`
			n.Env = env
		}
	}
}

// startMemberClusters starts one testbed cluster (etcd, kube-apiserver,
// kube-scheduler, kwok) per demo member and returns their kubeconfigs by
// member name, and a function that stops them all.
func startMemberClusters(ctx context.Context, out io.Writer) (map[string]string, func(), error) {
	if err := testbed.Available(); err != nil {
		return nil, nil, fmt.Errorf("the kubernetes backend needs the testbed binaries: %w", err)
	}
	opts := make([]testbed.ClusterOptions, 0, len(members))
	for _, m := range members {
		opts = append(opts, testbed.ClusterOptions{Name: m.spec.Name, Nodes: kubeNodes[m.spec.Name]})
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	clusters, err := testbed.StartN(ctx, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("start member clusters: %w", err)
	}
	kubeconfigs := make(map[string]string, len(clusters))
	for _, c := range clusters {
		kubeconfigs[c.Name] = c.Kubeconfig
		fmt.Fprintf(out, "member cluster %-10s kube-apiserver %s, %d kwok nodes\n", c.Name, c.RESTConfig.Host, len(c.Nodes))
	}
	fmt.Fprintf(out, "started %d member clusters in %s\n", len(clusters), time.Since(start).Round(100*time.Millisecond))
	stop := func() {
		var errs []error
		for _, c := range clusters {
			errs = append(errs, c.Stop())
		}
		if err := errors.Join(errs...); err != nil {
			fmt.Fprintln(out, "stop member clusters:", err)
		}
	}
	return kubeconfigs, stop, nil
}
