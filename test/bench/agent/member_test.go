package main

import (
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

func TestParseRequestTotals(t *testing.T) {
	body := []byte(`# HELP apiserver_request_total [STABLE] Counter of apiserver requests.
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="POST",version="v1"} 30
apiserver_request_total{code="409",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="POST",version="v1"} 2
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="binding",verb="POST",version="v1"} 30
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="DELETE",version="v1"} 10
apiserver_request_total{code="404",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="DELETE",version="v1"} 5
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="GET",version="v1"} 99
apiserver_request_total{code="200",component="apiserver",dry_run="",group="workflow.federation.dev",resource="workflows",scope="resource",subresource="status",verb="PUT",version="v1alpha1"} 40
apiserver_request_duration_seconds_count{verb="POST",resource="pods"} 7
`)
	got := parseRequestTotals(body)
	want := map[string]float64{"POST pods": 32, "POST pods/binding": 30, "DELETE pods": 15, "PUT workflows/status": 40}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if got.podsCreated() != 30 {
		t.Errorf("pods created %v, want 30 (the 201s only)", got.podsCreated())
	}
	if got.total() != 117 {
		t.Errorf("total %v, want 117 (reads left out, pods created not counted twice)", got.total())
	}
	if keys := got.keys(); len(keys) != 4 {
		t.Errorf("keys %v, want the 4 writes", keys)
	}
	before := requestCounts{"POST pods": 2, podsCreatedKey: 10}
	if d := got.since(before); d["POST pods"] != 30 || d.podsCreated() != 20 || d["PUT workflows/status"] != 40 {
		t.Errorf("since: %v", d)
	}
}

func TestSubmitToRunningAndSplit(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ex := func(cluster string, running time.Duration) v1.Execution {
		return v1.Execution{Phase: v1.PhaseSucceeded, Cluster: cluster, History: []v1.PhaseTransition{
			{Phase: v1.PhaseQueued, At: t0},
			{Phase: v1.PhaseAssigned, At: t0.Add(time.Millisecond)},
			{Phase: v1.PhaseRunning, At: t0.Add(running)},
			{Phase: v1.PhaseSucceeded, At: t0.Add(running + time.Second)},
		}}
	}
	var all []v1.Execution
	for i := range 100 {
		all = append(all, ex([]string{"a", "b"}[i%2], time.Duration(i+1)*time.Millisecond))
	}
	r := &result{Workflows: len(all)}
	r.fromExecutions(all)
	want := []time.Duration{51 * time.Millisecond, 91 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond}
	if len(r.ToRunning) != len(want) {
		t.Fatalf("ToRunning %v, want %v", r.ToRunning, want)
	}
	for i := range want {
		if r.ToRunning[i] != want[i] {
			t.Errorf("ToRunning %v, want %v", r.ToRunning, want)
			break
		}
	}
	if r.PerCluster["a"] != 50 || r.PerCluster["b"] != 50 {
		t.Errorf("per cluster %v", r.PerCluster)
	}
}
