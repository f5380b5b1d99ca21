package cli

import (
	"encoding/json"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

func testClusters() (east, west v1.Cluster) {
	deadline := now.Add(30 * time.Minute)
	east = v1.Cluster{
		ClusterSpec: v1.ClusterSpec{Name: "east", Labels: map[string]string{"region": "us-east", "spot": "true"}, Weight: 2,
			Tiers: []v1.Tier{v1.TierStandard, v1.TierBestEffort}},
		State: v1.ClusterReady, Healthy: true, Breaker: v1.BreakerClosed,
		Capacity:      &v1.Capacity{Free: v1.Amounts{MilliCPU: 15500, MemoryBytes: 64 << 30}},
		LastHeartbeat: now.Add(-3 * time.Second), CreatedAt: now.Add(-49 * time.Hour), Running: 7,
	}
	west = v1.Cluster{
		ClusterSpec: v1.ClusterSpec{Name: "west", Weight: 1},
		State:       v1.ClusterDraining, DrainDeadline: &deadline, CreatedAt: now.Add(-5 * time.Minute), Running: 2,
	}
	return east, west
}

func TestClusterCommands(t *testing.T) {
	east, west := testClusters()
	const clusters = "/api/v1alpha1/clusters"
	specFile := writeFile(t, "east.yaml", `
name: east
weight: 2
labels:
  region: us-east
tiers: [critical]
`)
	badFile := writeFile(t, "bad.yaml", "name: east\nwieght: 2\n")
	patched := east
	patched.Labels = map[string]string{"region": "us-east", "zone": "b"}

	cases := []struct {
		name   string
		args   []string
		routes map[string][]reply
		want   want
	}{
		{
			name:   "register from flags",
			args:   []string{"cluster", "register", "east", "--label", "region=us-east", "--label", "spot=true", "--weight", "2", "--tier", "standard,best-effort", "--allowed-projects", "a,b"},
			routes: map[string][]reply{"POST " + clusters: {{201, east}}},
			want: want{
				requests: []request{{Method: "POST", Path: clusters, Body: `{"name":"east","labels":{"region":"us-east","spot":"true"},"weight":2,"tiers":["standard","best-effort"],"allowedProjects":["a","b"]}`}},
				stdout:   "cluster/east registered, state Ready\n",
			},
		},
		{
			name:   "register defaults the weight to 1",
			args:   []string{"cluster", "register", "west"},
			routes: map[string][]reply{"POST " + clusters: {{201, west}}},
			want: want{
				requests: []request{{Method: "POST", Path: clusters, Body: `{"name":"west","weight":1}`}},
				has:      []string{"cluster/west registered"},
			},
		},
		{
			name:   "register from a YAML file, already registered",
			args:   []string{"cluster", "register", "-f", specFile},
			routes: map[string][]reply{"POST " + clusters: {{200, east}}},
			want: want{
				requests: []request{{Method: "POST", Path: clusters, Body: `{"name":"east","weight":2,"labels":{"region":"us-east"},"tiers":["critical"]}`}},
				stdout:   "cluster/east unchanged (already registered with this spec), state Ready\n",
			},
		},
		{
			name: "register with a misspelt field in the file",
			args: []string{"cluster", "register", "-f", badFile},
			want: want{code: 1, stderr: `unknown field "wieght"`},
		},
		{
			name: "register with both a file and a name",
			args: []string{"cluster", "register", "east", "-f", specFile},
			want: want{code: 2, stderr: "not both"},
		},
		{
			name: "register with a file and spec flags",
			args: []string{"cluster", "register", "-f", specFile, "--weight", "3"},
			want: want{code: 2, stderr: "--weight cannot be combined with -f"},
		},
		{
			name: "register with a malformed label",
			args: []string{"cluster", "register", "east", "--label", "region"},
			want: want{code: 2, stderr: `--label "region": want key=value`},
		},
		{
			name: "register with an unknown tier",
			args: []string{"cluster", "register", "east", "--tier", "gold"},
			want: want{code: 2, stderr: `--tier "gold"`},
		},
		{
			name:   "register refused by the server",
			args:   []string{"cluster", "register", "east", "--weight", "3"},
			routes: map[string][]reply{"POST " + clusters: {apiError(409, v1.CodeConflict, "cluster east is registered with another spec")}},
			want: want{
				code:     1,
				requests: []request{{Method: "POST", Path: clusters, Body: `{"name":"east","weight":3}`}},
				stderr:   "Error: cluster east is registered with another spec\n",
			},
		},
		{
			name:   "list as a table",
			args:   []string{"cluster", "list"},
			routes: map[string][]reply{"GET " + clusters: {{200, v1.ClusterList{Items: []v1.Cluster{east, west}}}}},
			want: want{
				requests: []request{{Method: "GET", Path: clusters}},
				stdout: "" +
					"NAME   STATE      HEALTHY   BREAKER   WEIGHT   TIERS                  RUNNING   FREE-CPU   FREE-MEMORY   HEARTBEAT   AGE    LABELS\n" +
					"east   Ready      true      closed    2        standard,best-effort   7         15500m     64Gi          3s          2d1h   region=us-east,spot=true\n" +
					"west   Draining   false     -         1        all                    2         -          -             -           5m     -\n",
			},
		},
		{
			name:   "get",
			args:   []string{"cluster", "get", "east"},
			routes: map[string][]reply{"GET " + clusters + "/east": {{200, east}}},
			want:   want{requests: []request{{Method: "GET", Path: clusters + "/east"}}, has: []string{"NAME", "east   Ready"}},
		},
		{
			name:   "get an unknown cluster",
			args:   []string{"cluster", "get", "north"},
			routes: map[string][]reply{"GET " + clusters + "/north": {apiError(404, v1.CodeNotFound, "cluster north not found")}},
			want:   want{code: 1, requests: []request{{Method: "GET", Path: clusters + "/north"}}, stderr: "Error: cluster north not found\n"},
		},
		{
			name: "get without a name",
			args: []string{"cluster", "get"},
			want: want{code: 2, stderr: "takes 1 argument(s): NAME; got 0"},
		},
		{
			name:   "update the weight only",
			args:   []string{"cluster", "update", "east", "--weight", "5"},
			routes: map[string][]reply{"PATCH " + clusters + "/east": {{200, east}}},
			want: want{
				requests: []request{{Method: "PATCH", Path: clusters + "/east", Body: `{"weight":5}`}},
				stdout:   "cluster/east updated\n",
			},
		},
		{
			name: "update labels merges with the current ones",
			args: []string{"cluster", "update", "east", "--label", "zone=b", "--label", "spot-", "--tier", "critical"},
			routes: map[string][]reply{
				"GET " + clusters + "/east":   {{200, east}},
				"PATCH " + clusters + "/east": {{200, patched}},
			},
			want: want{
				requests: []request{
					{Method: "GET", Path: clusters + "/east"},
					{Method: "PATCH", Path: clusters + "/east", Body: `{"labels":{"region":"us-east","zone":"b"},"tiers":["critical"]}`},
				},
				has: []string{"cluster/east updated"},
			},
		},
		{
			name: "update with nothing to change",
			args: []string{"cluster", "update", "east"},
			want: want{code: 2, stderr: "nothing to update"},
		},
		{
			name: "update with a malformed label sends nothing",
			args: []string{"cluster", "update", "east", "--label", "=x"},
			want: want{code: 2, stderr: "key- to remove"},
		},
		{
			name:   "cordon",
			args:   []string{"cluster", "cordon", "east"},
			routes: map[string][]reply{"POST " + clusters + "/east/cordon": {{200, v1.Cluster{ClusterSpec: east.ClusterSpec, State: v1.ClusterCordoned}}}},
			want:   want{requests: []request{{Method: "POST", Path: clusters + "/east/cordon"}}, stdout: "cluster/east cordoned, state Cordoned\n"},
		},
		{
			name:   "uncordon",
			args:   []string{"cluster", "uncordon", "east"},
			routes: map[string][]reply{"POST " + clusters + "/east/uncordon": {{200, east}}},
			want:   want{requests: []request{{Method: "POST", Path: clusters + "/east/uncordon"}}, stdout: "cluster/east uncordoned, state Ready\n"},
		},
		{
			name:   "drain",
			args:   []string{"cluster", "drain", "west", "--deadline", "30m"},
			routes: map[string][]reply{"POST " + clusters + "/west/drain": {{200, west}}},
			want: want{
				requests: []request{{Method: "POST", Path: clusters + "/west/drain", Body: `{"deadline":"30m0s"}`}},
				stdout:   "cluster/west draining, deadline 2026-03-01T12:30:00Z, 2 running\n",
			},
		},
		{
			name: "drain without a deadline",
			args: []string{"cluster", "drain", "west"},
			want: want{code: 2, stderr: "--deadline is required"},
		},
		{
			name: "drain with a malformed deadline",
			args: []string{"cluster", "drain", "west", "--deadline", "soon"},
			want: want{code: 2, stderr: "invalid argument \"soon\""},
		},
		{
			name:   "remove",
			args:   []string{"cluster", "remove", "west"},
			routes: map[string][]reply{"DELETE " + clusters + "/west": {{204, nil}}},
			want:   want{requests: []request{{Method: "DELETE", Path: clusters + "/west"}}, stdout: "cluster/west removed\n"},
		},
		{
			name:   "remove a cluster that still runs executions",
			args:   []string{"cluster", "rm", "west"},
			routes: map[string][]reply{"DELETE " + clusters + "/west": {apiError(409, v1.CodeConflict, "cluster west still runs 2 executions: drain it first")}},
			want: want{
				code: 1, requests: []request{{Method: "DELETE", Path: clusters + "/west"}},
				stderr: "Error: cluster west still runs 2 executions: drain it first\n",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check(t, run(t, runOpts{routes: tc.routes}, tc.args...), tc.want)
		})
	}
}

// TestClusterStructuredOutput checks that -o json and -o yaml print the
// server's object faithfully.
func TestClusterStructuredOutput(t *testing.T) {
	east, west := testClusters()
	list := v1.ClusterList{Items: []v1.Cluster{east, west}}
	cases := []struct {
		name   string
		args   []string
		routes map[string][]reply
		decode func([]byte, any) error
		into   func() any
		want   any
	}{
		{
			name:   "list json",
			args:   []string{"cluster", "list", "-o", "json"},
			routes: map[string][]reply{"GET /api/v1alpha1/clusters": {{200, list}}},
			decode: json.Unmarshal, into: func() any { return &v1.ClusterList{} }, want: &list,
		},
		{
			name:   "get yaml",
			args:   []string{"-o", "yaml", "cluster", "get", "east"},
			routes: map[string][]reply{"GET /api/v1alpha1/clusters/east": {{200, east}}},
			decode: func(b []byte, v any) error { return yaml.UnmarshalStrict(b, v) }, into: func() any { return &v1.Cluster{} }, want: &east,
		},
		{
			name:   "drain json",
			args:   []string{"cluster", "drain", "west", "--deadline", "1h", "--output=json"},
			routes: map[string][]reply{"POST /api/v1alpha1/clusters/west/drain": {{200, west}}},
			decode: json.Unmarshal, into: func() any { return &v1.Cluster{} }, want: &west,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, runOpts{routes: tc.routes}, tc.args...)
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			got := tc.into()
			if err := tc.decode([]byte(res.stdout), got); err != nil {
				t.Fatalf("decode %q: %v", res.stdout, err)
			}
			// Compare through JSON: times decode with a location that
			// reflect.DeepEqual would tell apart from the original.
			if g, w := mustJSON(t, got), mustJSON(t, tc.want); g != w {
				t.Errorf("printed object = %s\nwant %s", g, w)
			}
		})
	}
}
