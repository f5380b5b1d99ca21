package cli

import (
	"encoding/json"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

const runPath = "/api/v1alpha1/executions/flytesnacks/development/run-1"

func testExecution() (v1.ExecutionSpec, v1.Execution) {
	spec := v1.ExecutionSpec{Project: "flytesnacks", Domain: "development", Name: "run-1", Tier: v1.TierCritical,
		Workflow: v1.WorkflowSpec{Nodes: []v1.TaskNode{{ID: "a", Image: "busybox", Command: []string{"true"}}}}}
	ex := v1.Execution{
		ExecutionSpec: spec, Phase: v1.PhaseRunning, Cluster: "east", Attempt: 2, Reason: v1.ReasonPlaced,
		CreatedAt: now.Add(-90 * time.Second), UpdatedAt: now.Add(-10 * time.Second),
		Nodes: map[string]v1.NodeStatus{"a": {Phase: v1.NodeRunning, Attempts: 1}},
		History: []v1.PhaseTransition{
			{Phase: v1.PhaseQueued, Attempt: 1, Reason: v1.ReasonSubmitted, At: now.Add(-90 * time.Second)},
			{Phase: v1.PhaseQueued, Cluster: "west", Attempt: 2, Reason: v1.ReasonClusterLost, Message: "lease expired", At: now.Add(-30 * time.Second)},
		},
	}
	return spec, ex
}

const specYAML = `
project: flytesnacks
domain: development
name: run-1
tier: critical
workflow:
  nodes:
  - id: a
    image: busybox
    command: ["true"]
`

func TestExecCommands(t *testing.T) {
	spec, ex := testExecution()
	specBody := mustJSON(t, spec)
	jsonFile := writeFile(t, "run.json", specBody)
	yamlFile := writeFile(t, "run.yaml", specYAML)
	typoFile := writeFile(t, "typo.yaml", specYAML+"maxAttempt: 3\n")
	emptyFile := writeFile(t, "empty.yaml", "\n")
	expl := v1.Explanation{Key: spec.Key(), Chosen: "east", Summary: "east has the most room below its weighted share",
		Clusters: []v1.ClusterVerdict{
			{Cluster: "east", Feasible: true, Scores: map[string]float64{"weight": 0.5, "headroom": 0.25}, Total: 0.75},
			{Cluster: "west", Filter: "Schedulable", Reason: "cluster is cordoned"},
		}}
	other := ex
	other.Name, other.Phase, other.Cluster, other.Attempt, other.Tier = "run-2", v1.PhaseQueued, "", 1, v1.TierBestEffort
	other.CreatedAt = now.Add(-3 * time.Hour)

	cases := []struct {
		name   string
		args   []string
		stdin  string
		routes map[string][]reply
		want   want
	}{
		{
			name:   "submit from a JSON file",
			args:   []string{"exec", "submit", "-f", jsonFile},
			routes: map[string][]reply{"POST /api/v1alpha1/executions": {{201, ex}}},
			want: want{
				requests: []request{{Method: "POST", Path: "/api/v1alpha1/executions", Body: specBody}},
				stdout:   "execution/flytesnacks/development/run-1 submitted, phase Running\n",
			},
		},
		{
			name:   "submit YAML from stdin, already submitted",
			args:   []string{"exec", "submit", "-f", "-"},
			stdin:  specYAML,
			routes: map[string][]reply{"POST /api/v1alpha1/executions": {{200, ex}}},
			want: want{
				requests: []request{{Method: "POST", Path: "/api/v1alpha1/executions", Body: specBody}},
				stdout:   "execution/flytesnacks/development/run-1 unchanged (already submitted with this spec), phase Running\n",
			},
		},
		{
			name:   "submit a different spec under the same key",
			args:   []string{"exec", "submit", "-f", yamlFile},
			routes: map[string][]reply{"POST /api/v1alpha1/executions": {apiError(409, v1.CodeConflict, "execution flytesnacks/development/run-1 exists with another spec")}},
			want: want{
				code:     1,
				requests: []request{{Method: "POST", Path: "/api/v1alpha1/executions", Body: specBody}},
				stderr:   "Error: execution flytesnacks/development/run-1 exists with another spec\n",
			},
		},
		{
			name:   "submit refused as invalid",
			args:   []string{"exec", "submit", "-f", yamlFile},
			routes: map[string][]reply{"POST /api/v1alpha1/executions": {apiError(400, v1.CodeInvalid, "invalid: workflow: cycle a -> a")}},
			want: want{
				code:     1,
				requests: []request{{Method: "POST", Path: "/api/v1alpha1/executions", Body: specBody}},
				stderr:   "Error: invalid: workflow: cycle a -> a\n",
			},
		},
		{
			name: "submit a spec with a misspelt field sends nothing",
			args: []string{"exec", "submit", "-f", typoFile},
			want: want{code: 1, stderr: `unknown field "maxAttempt"`},
		},
		{
			name: "submit an empty file",
			args: []string{"exec", "submit", "-f", emptyFile},
			want: want{code: 1, stderr: "is empty"},
		},
		{
			name: "submit a missing file",
			args: []string{"exec", "submit", "-f", "/nonexistent/run.yaml"},
			want: want{code: 1, stderr: "read /nonexistent/run.yaml"},
		},
		{
			name: "submit without -f",
			args: []string{"exec", "submit"},
			want: want{code: 2, stderr: "-f FILE is required"},
		},
		{
			name:   "submit --dry-run explains instead of submitting",
			args:   []string{"exec", "submit", "-f", yamlFile, "--dry-run"},
			routes: map[string][]reply{"POST /api/v1alpha1/placement/dry-run": {{200, expl}}},
			want: want{
				requests: []request{{Method: "POST", Path: "/api/v1alpha1/placement/dry-run", Body: specBody}},
				stdout: "" +
					"Execution:   flytesnacks/development/run-1\n" +
					"Chosen:      east\n" +
					"Summary:     east has the most room below its weighted share\n" +
					"\n" +
					"CLUSTER   FEASIBLE   TOTAL   SCORES                        FILTER        REASON\n" +
					"east      yes        0.750   headroom=0.250,weight=0.500   -             -\n" +
					"west      no         -       -                             Schedulable   cluster is cordoned\n",
			},
		},
		{
			name:   "get by project/domain/name",
			args:   []string{"exec", "get", "flytesnacks/development/run-1"},
			routes: map[string][]reply{"GET " + runPath: {{200, ex}}},
			want: want{
				requests: []request{{Method: "GET", Path: runPath}},
				stdout: "" +
					"Execution:   flytesnacks/development/run-1\n" +
					"Tier:        critical\n" +
					"Phase:       Running\n" +
					"Cluster:     east\n" +
					"Attempt:     2\n" +
					"Reason:      Placed\n" +
					"Message:     -\n" +
					"Created:     2026-03-01T11:58:30Z (90s ago)\n" +
					"Updated:     2026-03-01T11:59:50Z (10s ago)\n" +
					"Nodes:\n" +
					"  ID   PHASE     ATTEMPTS   CACHED   MESSAGE\n" +
					"  a    Running   1          false    -\n" +
					"History:\n" +
					"  PHASE    CLUSTER   ATTEMPT   REASON        AGE   MESSAGE\n" +
					"  Queued   -         1         Submitted     90s   -\n" +
					"  Queued   west      2         ClusterLost   30s   lease expired\n",
			},
		},
		{
			name:   "get by three arguments, stale",
			args:   []string{"exec", "get", "flytesnacks", "development", "run-1", "--stale"},
			routes: map[string][]reply{"GET " + runPath: {{200, ex}}},
			want:   want{requests: []request{{Method: "GET", Path: runPath, Query: "stale=true"}}, has: []string{"Phase:       Running"}},
		},
		{
			name: "get with two key parts",
			args: []string{"exec", "get", "flytesnacks/development"},
			want: want{code: 2, stderr: "PROJECT/DOMAIN/NAME | PROJECT DOMAIN NAME"},
		},
		{
			name: "get with an empty key part",
			args: []string{"exec", "get", "flytesnacks//run-1"},
			want: want{code: 2, stderr: "PROJECT/DOMAIN/NAME"},
		},
		{
			name:   "get an unknown execution",
			args:   []string{"exec", "get", "p/d/nope"},
			routes: map[string][]reply{"GET /api/v1alpha1/executions/p/d/nope": {apiError(404, v1.CodeNotFound, "execution p/d/nope not found")}},
			want:   want{code: 1, requests: []request{{Method: "GET", Path: "/api/v1alpha1/executions/p/d/nope"}}, stderr: "Error: execution p/d/nope not found\n"},
		},
		{
			name:   "list with filters, one page",
			args:   []string{"exec", "list", "--project", "flytesnacks", "--domain", "development", "--phase", "Running", "--cluster", "east", "--tier", "critical", "--limit", "2"},
			routes: map[string][]reply{"GET /api/v1alpha1/executions": {{200, v1.ExecutionList{Items: []v1.Execution{ex, other}, Continue: "c2"}}}},
			want: want{
				requests: []request{{Method: "GET", Path: "/api/v1alpha1/executions", Query: "cluster=east&domain=development&limit=2&phase=Running&project=flytesnacks&tier=critical"}},
				stdout: "" +
					"PROJECT       DOMAIN        NAME    TIER          PHASE     CLUSTER   ATTEMPT   AGE\n" +
					"flytesnacks   development   run-1   critical      Running   east      2         90s\n" +
					"flytesnacks   development   run-2   best-effort   Queued    -         1         3h\n",
				stderr: "More executions: add --continue c2, or --all.\n",
			},
		},
		{
			name: "list --all follows continue tokens",
			args: []string{"exec", "list", "--limit", "1", "--all", "--stale"},
			routes: map[string][]reply{"GET /api/v1alpha1/executions": {
				{200, v1.ExecutionList{Items: []v1.Execution{ex}, Continue: "c2"}},
				{200, v1.ExecutionList{Items: []v1.Execution{other}}},
			}},
			want: want{
				requests: []request{
					{Method: "GET", Path: "/api/v1alpha1/executions", Query: "limit=1&stale=true"},
					{Method: "GET", Path: "/api/v1alpha1/executions", Query: "continue=c2&limit=1&stale=true"},
				},
				has: []string{"run-1", "run-2"},
			},
		},
		{
			name:   "list --continue",
			args:   []string{"exec", "ls", "--continue", "c2"},
			routes: map[string][]reply{"GET /api/v1alpha1/executions": {{200, v1.ExecutionList{}}}},
			want: want{
				requests: []request{{Method: "GET", Path: "/api/v1alpha1/executions", Query: "continue=c2"}},
				stdout:   "PROJECT   DOMAIN   NAME   TIER   PHASE   CLUSTER   ATTEMPT   AGE\n",
			},
		},
		{
			name: "list with an unknown phase",
			args: []string{"exec", "list", "--phase", "running"},
			want: want{code: 2, stderr: `--phase "running": want one of Queued, Assigned`},
		},
		{
			name: "list with an unknown tier",
			args: []string{"exec", "list", "--tier", "gold"},
			want: want{code: 2, stderr: `--tier "gold"`},
		},
		{
			name: "list with a malformed limit",
			args: []string{"exec", "list", "--limit", "many"},
			want: want{code: 2, stderr: "invalid argument"},
		},
		{
			name: "list with arguments",
			args: []string{"exec", "list", "flytesnacks"},
			want: want{code: 2, stderr: "takes 0 argument(s)"},
		},
		{
			name:   "cancel",
			args:   []string{"exec", "cancel", "flytesnacks/development/run-1"},
			routes: map[string][]reply{"POST " + runPath + "/cancel": {{200, v1.Execution{ExecutionSpec: spec, Phase: v1.PhaseAborting}}}},
			want: want{
				requests: []request{{Method: "POST", Path: runPath + "/cancel"}},
				stdout:   "execution/flytesnacks/development/run-1 cancelled, phase Aborting\n",
			},
		},
		{
			name:   "cancel a finished execution",
			args:   []string{"exec", "cancel", "flytesnacks", "development", "run-1"},
			routes: map[string][]reply{"POST " + runPath + "/cancel": {apiError(409, v1.CodeConflict, "execution flytesnacks/development/run-1 already Succeeded")}},
			want: want{
				code: 1, requests: []request{{Method: "POST", Path: runPath + "/cancel"}},
				stderr: "Error: execution flytesnacks/development/run-1 already Succeeded\n",
			},
		},
		{
			name: "explain a queued execution",
			args: []string{"exec", "explain", "flytesnacks/development/run-1"},
			routes: map[string][]reply{"GET " + runPath + "/explain": {{200, v1.Explanation{Key: spec.Key(), Summary: "no cluster fits",
				Clusters: []v1.ClusterVerdict{{Cluster: "east", Filter: "Fits", Reason: "needs 4 CPU, 1 free"}}}}}},
			want: want{
				requests: []request{{Method: "GET", Path: runPath + "/explain"}},
				has:      []string{"Chosen:      none (waits in the queue)", "east      no         -       -        Fits     needs 4 CPU, 1 free"},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check(t, run(t, runOpts{routes: tc.routes, stdin: tc.stdin}, tc.args...), tc.want)
		})
	}
}

// TestExecStructuredOutput checks -o json and -o yaml of the exec commands.
func TestExecStructuredOutput(t *testing.T) {
	_, ex := testExecution()
	expl := v1.Explanation{Key: ex.Key(), Chosen: "east", Clusters: []v1.ClusterVerdict{{Cluster: "east", Feasible: true, Total: 1}}}
	yamlDecode := func(b []byte, v any) error { return yaml.UnmarshalStrict(b, v) }
	cases := []struct {
		name   string
		args   []string
		routes map[string][]reply
		decode func([]byte, any) error
		into   any
		want   any
	}{
		{
			name:   "get json",
			args:   []string{"exec", "get", "flytesnacks/development/run-1", "-o", "json"},
			routes: map[string][]reply{"GET " + runPath: {{200, ex}}},
			decode: json.Unmarshal, into: &v1.Execution{}, want: ex,
		},
		{
			name:   "get yaml",
			args:   []string{"exec", "get", "flytesnacks/development/run-1", "-o", "yaml"},
			routes: map[string][]reply{"GET " + runPath: {{200, ex}}},
			decode: yamlDecode, into: &v1.Execution{}, want: ex,
		},
		{
			name: "list --all json is one list without a continue token",
			args: []string{"exec", "list", "--all", "-o", "json"},
			routes: map[string][]reply{"GET /api/v1alpha1/executions": {
				{200, v1.ExecutionList{Items: []v1.Execution{ex}, Continue: "c2"}},
				{200, v1.ExecutionList{Items: []v1.Execution{ex}}},
			}},
			decode: json.Unmarshal, into: &v1.ExecutionList{}, want: v1.ExecutionList{Items: []v1.Execution{ex, ex}},
		},
		{
			name:   "empty list yaml has an empty items list",
			args:   []string{"exec", "list", "-o", "yaml"},
			routes: map[string][]reply{"GET /api/v1alpha1/executions": {{200, v1.ExecutionList{}}}},
			decode: yamlDecode, into: &v1.ExecutionList{}, want: v1.ExecutionList{Items: []v1.Execution{}},
		},
		{
			name:   "explain yaml",
			args:   []string{"exec", "explain", "flytesnacks/development/run-1", "-o", "yaml"},
			routes: map[string][]reply{"GET " + runPath + "/explain": {{200, expl}}},
			decode: yamlDecode, into: &v1.Explanation{}, want: expl,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, runOpts{routes: tc.routes}, tc.args...)
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			if err := tc.decode([]byte(res.stdout), tc.into); err != nil {
				t.Fatalf("decode %q: %v", res.stdout, err)
			}
			if g, w := mustJSON(t, tc.into), mustJSON(t, tc.want); g != w {
				t.Errorf("printed object = %s\nwant %s", g, w)
			}
		})
	}
}
