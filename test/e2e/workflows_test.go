//go:build e2e

package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/clusteragent/kube"
	"github.com/federation-dev/federation/clusteragent/propeller"
	"github.com/federation-dev/federation/test/testbed"
)

// TestWorkflowsRunOnRealMemberClusters is issue 4 end to end: executions
// submitted to a 3-replica control plane (through a follower) run as
// Workflows with task pods on two real member clusters, split by weight,
// with capacity reported exactly and outputs flowing node to node.
func TestWorkflowsRunOnRealMemberClusters(t *testing.T) {
	const executions = 200
	env := NewEnv(t, 3*time.Minute)
	cp := env.StartControlPlane(ControlPlaneOptions{Replicas: 3})
	// Different shapes, both ample: at most 150 executions live at once,
	// each holding one 100m/64Mi pod at a time, fit either cluster.
	small := MemberOptions{
		Spec: v1.ClusterSpec{Name: "small", Weight: 1, Labels: map[string]string{"size": "small"}},
		Nodes: []testbed.NodeSpec{
			{Name: "small-a", CPU: "8", Memory: "32Gi", Pods: "110"},
			{Name: "small-b", CPU: "8", Memory: "32Gi", Pods: "110"},
		},
	}
	large := MemberOptions{
		Spec: v1.ClusterSpec{Name: "large", Weight: 3, Labels: map[string]string{"size": "large"}},
		Nodes: []testbed.NodeSpec{
			{Name: "large-a", CPU: "16", Memory: "64Gi", Pods: "250"},
			{Name: "large-b", CPU: "16", Memory: "64Gi", Pods: "250"},
			{Name: "large-c", CPU: "32", Memory: "128Gi", Pods: "250", GPU: "2"},
		},
	}
	members := env.StartMembers(small, large)
	cp.WaitReady()
	fc := cp.Follower().Client
	env.RegisterMembers(fc, members...)
	for i, m := range members {
		// Agents talk to different replicas: followers forward their writes.
		env.StartAgent(m, AgentOptions{Server: cp.Servers[i%len(cp.Servers)].URL})
	}
	clusters := env.WaitClustersReady(fc, cp.Opts.SettleTime, "small", "large")

	// The capacity each agent reports is its fake nodes', to the unit.
	for _, m := range members {
		want, err := m.NodeAmounts()
		if err != nil {
			t.Fatal(err)
		}
		got := clusters[m.Spec.Name].Capacity
		if got.Allocatable != want {
			t.Errorf("cluster %s reports allocatable %+v, want the fake nodes' %+v", m.Spec.Name, got.Allocatable, want)
		}
	}

	recorders := map[string]*Recorder{}
	for _, m := range members {
		recorders[m.Spec.Name] = env.Record(m, "")
	}

	specs := make([]v1.ExecutionSpec, executions)
	for i := range specs {
		specs[i] = ThreeNodeSpec(v1.ExecutionKey{Project: "e2e", Domain: "test", Name: fmt.Sprintf("wf-%03d", i)})
	}
	start := time.Now()
	keys := env.SubmitAll(fc, specs)
	submitted := time.Since(start)
	execs := env.WaitFinished(fc, keys, 2*time.Minute)
	elapsed := time.Since(start)

	// Every execution succeeded, on its first attempt, with its nodes'
	// outputs reported: train and report consumed what extract and train
	// produced in the member cluster.
	for _, k := range keys {
		ex := execs[k]
		if ex.Phase != v1.PhaseSucceeded || ex.Attempt != 1 {
			t.Errorf("%s ended %s (attempt %d, %s), want Succeeded on attempt 1", k, ex.Phase, ex.Attempt, ex.Message)
			continue
		}
		for _, want := range []struct{ node, output, value string }{
			{"extract", OutputPath, ExpectedPath(k)},
			{"train", OutputModel, ExpectedModel(k)},
			{"report", OutputScore, "0.93"},
		} {
			ns := ex.Nodes[want.node]
			if ns.Phase != v1.NodeSucceeded || ns.Outputs[want.output] != want.value {
				t.Errorf("%s node %s: phase %s outputs %v, want Succeeded with %s=%s", k, want.node, ns.Phase, ns.Outputs, want.output, want.value)
			}
		}
	}

	checkWeightSplit(t, keys, execs, map[string]int{"small": 1, "large": 3})
	checkMemberObjects(t, env, keys, execs, recorders, members)

	// Capacity is still exact after the run.
	after := env.WaitClustersReady(fc, 0, "small", "large")
	for _, m := range members {
		want, _ := m.NodeAmounts()
		if got := after[m.Spec.Name].Capacity.Allocatable; got != want {
			t.Errorf("after the run, cluster %s reports allocatable %+v, want %+v", m.Spec.Name, got, want)
		}
	}

	rep := Tally(keys, execs, recorders["small"], recorders["large"])
	rep.Duration = elapsed
	byCluster := map[string]int{}
	for _, ex := range execs {
		if p, ok := FirstPlacement(ex); ok {
			byCluster[p.Cluster]++
		}
	}
	rep.Extra = append(rep.Extra,
		fmt.Sprintf("placed=small:%d,large:%d", byCluster["small"], byCluster["large"]),
		fmt.Sprintf("submit=%s", submitted.Round(10*time.Millisecond)),
		fmt.Sprintf("executions_per_min=%.0f", float64(executions)/elapsed.Minutes()))
	for _, m := range members {
		writes, err := ScrapeCounter(env.Ctx, m.MetricsURL, "clusteragent_api_writes_total")
		if err != nil {
			t.Errorf("scrape %s agent: %v", m.Spec.Name, err)
			continue
		}
		nodes := 3 * byCluster[m.Spec.Name]
		pods := len(recorders[m.Spec.Name].Pods())
		perNode := (writes - float64(pods)) / float64(max(nodes, 1))
		rep.Extra = append(rep.Extra, fmt.Sprintf("writes_per_node_beyond_pod_%s=%.2f", m.Spec.Name, perNode))
		// The propeller's rule: one pod create plus at most 3 writes per
		// task node (status, and the workflow's share of create/delete).
		if perNode > 3 {
			t.Errorf("agent %s: %.0f API writes for %d task nodes (%d pods): %.2f per node beyond its pod, want at most 3", m.Spec.Name, writes, nodes, pods, perNode)
		}
	}
	env.WriteReport(rep)
	if rep.Succeeded != executions || rep.Lost != 0 || rep.Duplicated != 0 {
		t.Errorf("report: %s", rep.Line())
	}
}

// checkWeightSplit checks that first placements follow the weights.
//
// Placement picks the cluster with the lowest (live load+1)/weight, with
// secondary scores worth less than one execution, so while nothing has
// finished, each cluster's placements stay within one execution of its
// weighted share. Once executions finish, live load no longer equals
// placements: a cluster that finishes faster gets more. So:
//   - the executions first placed before any execution finished must split
//     within 1 of the weights, exactly as placement promises;
//   - all first placements must split within 1 + D of the weights, where D
//     counts the executions that finished before the last first placement
//     (each can shift one placement at most).
func checkWeightSplit(t *testing.T, keys []v1.ExecutionKey, execs map[v1.ExecutionKey]v1.Execution, weights map[string]int) {
	t.Helper()
	total := 0
	for _, w := range weights {
		total += w
	}
	var firstDone, lastPlaced time.Time
	placed := map[v1.ExecutionKey]v1.PhaseTransition{}
	for _, k := range keys {
		ex := execs[k]
		p, ok := FirstPlacement(ex)
		if !ok {
			t.Errorf("%s has no placement in its history", k)
			continue
		}
		placed[k] = p
		if p.At.After(lastPlaced) {
			lastPlaced = p.At
		}
		if done, ok := FinishedAt(ex); ok && (firstDone.IsZero() || done.Before(firstDone)) {
			firstDone = done
		}
	}
	early := map[string]int{}
	all := map[string]int{}
	nEarly := 0
	for _, p := range placed {
		all[p.Cluster]++
		if p.At.Before(firstDone) {
			early[p.Cluster]++
			nEarly++
		}
	}
	finishedBeforeLast := 0
	for _, k := range keys {
		if done, ok := FinishedAt(execs[k]); ok && done.Before(lastPlaced) {
			finishedBeforeLast++
		}
	}
	t.Logf("first placements: %v; before the first finish: %v of %d; finished before the last placement: %d", all, early, nEarly, finishedBeforeLast)
	for name, w := range weights {
		share := func(n int) float64 { return float64(n) * float64(w) / float64(total) }
		if d := float64(early[name]) - share(nEarly); d > 1 || d < -1 {
			t.Errorf("before any execution finished, %s got %d of %d placements, want %.2f±1 (weight %d of %d)", name, early[name], nEarly, share(nEarly), w, total)
		}
		tol := 1 + float64(finishedBeforeLast)
		if d := float64(all[name]) - share(len(placed)); d > tol || d < -tol {
			t.Errorf("%s got %d of %d first placements, want %.2f±%.0f (weight %d of %d; %d finished before the last placement)", name, all[name], len(placed), share(len(placed)), tol, w, total, finishedBeforeLast)
		}
	}
}

// checkMemberObjects checks, in the member clusters themselves, that every
// execution ran as exactly one Workflow, on the cluster it was placed on,
// whose three task pods were created there, bound to its fake nodes, and
// got their upstream outputs as inputs.
func checkMemberObjects(t *testing.T, env *Env, keys []v1.ExecutionKey, execs map[v1.ExecutionKey]v1.Execution, recs map[string]*Recorder, members []*Member) {
	t.Helper()
	nodesOf := map[string][]string{}
	for _, m := range members {
		nodesOf[m.Spec.Name] = m.Cluster.Nodes
	}
	// The watches deliver deletes after the final report; wait for them to
	// have seen every pod.
	wantPods := map[string]int{}
	for _, k := range keys {
		wantPods[execs[k].Cluster] += 3
	}
	env.Eventually(20*time.Second, "the member clusters' watches to see every task pod", func() (bool, error) {
		for name, rec := range recs {
			if got := len(rec.Pods()); got < wantPods[name] {
				return false, fmt.Errorf("%s: %d pods seen, want %d", name, got, wantPods[name])
			}
		}
		return true, nil
	})
	wfs := map[string]map[string]RecordedWorkflow{}
	pods := map[string]map[string]RecordedPod{}
	for name, rec := range recs {
		wfs[name], pods[name] = rec.Workflows(), rec.Pods()
	}
	for _, k := range keys {
		ex := execs[k]
		name := kube.WorkflowName(k, ex.Attempt)
		for cluster := range recs {
			_, there := wfs[cluster][name]
			if there != (cluster == ex.Cluster) {
				t.Errorf("%s ran on %s: its Workflow %s seen on %s = %v", k, ex.Cluster, name, cluster, there)
			}
		}
		wf, ok := wfs[ex.Cluster][name]
		if !ok {
			continue
		}
		if wf.Key != k || wf.Attempt != ex.Attempt {
			t.Errorf("Workflow %s on %s is for %s attempt %d, want %s attempt %d", name, ex.Cluster, wf.Key, wf.Attempt, k, ex.Attempt)
		}
		for _, node := range []struct{ id, env, value string }{
			{"extract", propeller.InputEnvName("date"), "2026-11-25"},
			{"train", propeller.InputEnvName("data"), ExpectedPath(k)},
			{"report", propeller.InputEnvName("model"), ExpectedModel(k)},
		} {
			pn := propeller.PodName(name, node.id, 1)
			p, ok := pods[ex.Cluster][pn]
			switch {
			case !ok:
				t.Errorf("%s: pod %s never seen on %s", k, pn, ex.Cluster)
			case p.Workflow != name || p.Node != node.id:
				t.Errorf("pod %s labelled workflow %s node %s, want %s %s", pn, p.Workflow, p.Node, name, node.id)
			case p.Env[node.env] != node.value:
				t.Errorf("pod %s: %s=%q, want %q (the upstream output)", pn, node.env, p.Env[node.env], node.value)
			case !slices.Contains(nodesOf[ex.Cluster], p.NodeName):
				t.Errorf("pod %s bound to %q, want one of %s's nodes %v", pn, p.NodeName, ex.Cluster, nodesOf[ex.Cluster])
			}
		}
	}
	for name := range recs {
		t.Logf("member %s: %d Workflows and %d task pods created", name, len(wfs[name]), len(pods[name]))
	}
}
