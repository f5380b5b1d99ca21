package cli

import (
	"errors"
	"strings"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// capCluster is a Ready, healthy cluster with cpu cores allocatable, of
// which usedCPU are in use (memory and pods generous).
func capCluster(name string, cpu, usedCPU int64) v1.Cluster {
	alloc := v1.Amounts{MilliCPU: cpu * 1000, MemoryBytes: 1 << 40, Pods: 1000}
	free := alloc
	free.MilliCPU -= usedCPU * 1000
	return v1.Cluster{ClusterSpec: v1.ClusterSpec{Name: name}, State: v1.ClusterReady, Healthy: true,
		Capacity: &v1.Capacity{Allocatable: alloc, Free: free}}
}

// TestNextGroup: groups never exceed max-unavailable, and never take out
// more than the spare rule allows (the clusters left keep min-spare free
// after absorbing the group's load).
func TestNextGroup(t *testing.T) {
	unhealthy := capCluster("d", 100, 0)
	unhealthy.Healthy = false
	cases := []struct {
		name           string
		clusters       []v1.Cluster
		todo           []string
		maxUnavailable int
		minSpare       float64
		want           []string
		wantErr        error
	}{
		{"one at a time", []v1.Cluster{capCluster("a", 100, 10), capCluster("b", 100, 10), capCluster("c", 100, 10)},
			[]string{"a", "b", "c"}, 1, 0.2, []string{"a"}, nil},
		{"two allowed and spare enough", []v1.Cluster{capCluster("a", 100, 10), capCluster("b", 100, 10), capCluster("c", 100, 10)},
			[]string{"a", "b", "c"}, 2, 0.2, []string{"a", "b"}, nil},
		// Taking a and b out: c holds 60 of 100 used, 40% free: fine at
		// 20%, not at 50%, where only a can go (b+c hold 60 of 200).
		{"spare limits the group below max-unavailable", []v1.Cluster{capCluster("a", 100, 20), capCluster("b", 100, 20), capCluster("c", 100, 20)},
			[]string{"a", "b", "c"}, 3, 0.5, []string{"a"}, nil},
		{"not even one fits", []v1.Cluster{capCluster("a", 100, 50), capCluster("b", 100, 50)},
			[]string{"a", "b"}, 1, 0.2, nil, errNoSpare},
		// An unhealthy cluster is not in service: it absorbs nothing.
		{"unhealthy clusters give no spare", []v1.Cluster{capCluster("a", 100, 30), capCluster("b", 100, 30), unhealthy},
			[]string{"a", "b"}, 2, 0.2, []string{"a"}, nil},
		{"nothing left in service", []v1.Cluster{capCluster("a", 100, 0)},
			[]string{"a"}, 1, 0, nil, errNoSpare},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := nextGroup(tc.clusters, tc.todo, tc.maxUnavailable, tc.minSpare)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("group = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParsePercent(t *testing.T) {
	cases := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"20%", 0.2, true}, {"0%", 0, true}, {"0.25", 0.25, true},
		{"100%", 0, false}, {"-5%", 0, false}, {"lots", 0, false},
	}
	for _, tc := range cases {
		got, err := parsePercent(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("parsePercent(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// TestDrainProgress: the progress line says what is left, the oldest, and
// the time to the deadline (or since it passed).
func TestDrainProgress(t *testing.T) {
	deadline := now.Add(90 * time.Second)
	passed := now.Add(-5 * time.Second)
	ex := func(placedAgo time.Duration) v1.Execution {
		return v1.Execution{Attempt: 2, History: []v1.PhaseTransition{
			{Phase: v1.PhaseAssigned, Attempt: 1, At: now.Add(-time.Hour)}, // an earlier attempt elsewhere
			{Phase: v1.PhaseAssigned, Attempt: 2, At: now.Add(-placedAgo)},
		}}
	}
	cases := []struct {
		name string
		cl   v1.Cluster
		live []v1.Execution
		want string
	}{
		{"draining", v1.Cluster{ClusterSpec: v1.ClusterSpec{Name: "east"}, State: v1.ClusterDraining, DrainDeadline: &deadline},
			[]v1.Execution{ex(30 * time.Second), ex(3 * time.Minute)},
			"cluster/east Draining: 2 execution(s) left, oldest 3m, deadline in 90s"},
		{"past the deadline", v1.Cluster{ClusterSpec: v1.ClusterSpec{Name: "east"}, State: v1.ClusterDraining, DrainDeadline: &passed},
			[]v1.Execution{ex(10 * time.Second)},
			"cluster/east Draining: 1 execution(s) left, oldest 10s, deadline passed 5s ago"},
		{"drained", v1.Cluster{ClusterSpec: v1.ClusterSpec{Name: "east"}, State: v1.ClusterDrained, DrainDeadline: &deadline},
			nil, "cluster/east Drained: 0 execution(s) left, deadline in 90s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := progressOf(tc.cl, tc.live, now).String(); got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestDrainWait: `drain --wait` shows the progress at every poll and exits
// 0 once the cluster is Drained, or 1 when the drain ends otherwise.
func TestDrainWait(t *testing.T) {
	const clusters = "/api/v1alpha1/clusters"
	const execs = "/api/v1alpha1/executions"
	deadline := now.Add(time.Minute)
	cl := func(state v1.ClusterState) v1.Cluster {
		return v1.Cluster{ClusterSpec: v1.ClusterSpec{Name: "east"}, State: state, DrainDeadline: &deadline}
	}
	one := v1.ExecutionList{Items: []v1.Execution{{Attempt: 1, History: []v1.PhaseTransition{{Phase: v1.PhaseAssigned, Attempt: 1, At: now.Add(-time.Minute)}}}}}
	none := v1.ExecutionList{Items: []v1.Execution{}}
	cases := []struct {
		name   string
		states []v1.ClusterState // GET answers, in order
		lists  []v1.ExecutionList
		code   int
		has    []string
		stderr string
	}{
		{"drains", []v1.ClusterState{v1.ClusterDraining, v1.ClusterDrained},
			// Each poll lists Assigned, Running and Aborting.
			[]v1.ExecutionList{none, one, none, none, none, none}, 0,
			[]string{"cluster/east Draining: 1 execution(s) left, oldest 60s, deadline in 60s", "cluster/east Drained: 0 execution(s) left", "cluster/east drained"}, ""},
		{"uncordoned meanwhile", []v1.ClusterState{v1.ClusterDraining, v1.ClusterReady},
			[]v1.ExecutionList{none}, 1, []string{"Draining: 0 execution(s) left"}, "ended without draining it: it is Ready"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gets := []reply{}
			for _, s := range tc.states {
				gets = append(gets, reply{200, cl(s)})
			}
			lists := []reply{}
			for _, l := range tc.lists {
				lists = append(lists, reply{200, l})
			}
			res := run(t, runOpts{routes: map[string][]reply{
				"POST " + clusters + "/east/drain": {{200, cl(v1.ClusterDraining)}},
				"GET " + clusters + "/east":        gets,
				"GET " + execs:                     lists,
			}}, "cluster", "drain", "east", "--deadline", "1m", "--wait", "--interval", "10ms")
			if res.code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %s", res.code, tc.code, res.stderr)
			}
			for _, h := range tc.has {
				if !strings.Contains(res.stdout, h) {
					t.Errorf("stdout lacks %q:\n%s", h, res.stdout)
				}
			}
			if tc.stderr != "" && !strings.Contains(res.stderr, tc.stderr) {
				t.Errorf("stderr %q lacks %q", res.stderr, tc.stderr)
			}
		})
	}
}
