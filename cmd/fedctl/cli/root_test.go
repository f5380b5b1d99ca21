package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// TestGlobalFlags checks --server, --token and their environment variables,
// and the usage errors of the root command.
func TestGlobalFlags(t *testing.T) {
	list := map[string][]reply{"GET /api/v1alpha1/clusters": {{200, v1.ClusterList{}}}}
	listed := []request{{Method: "GET", Path: "/api/v1alpha1/clusters"}}
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want want
	}{
		{
			name: "server and token from the environment",
			args: []string{"cluster", "list"},
			env:  map[string]string{EnvToken: "from-env"},
			want: want{requests: []request{{Method: "GET", Path: "/api/v1alpha1/clusters", Auth: "Bearer from-env"}}, has: []string{"NAME"}},
		},
		{
			name: "flags win over the environment",
			args: []string{"--server", "$API", "--token", "from-flag", "cluster", "list"},
			env:  map[string]string{EnvServer: "http://127.0.0.1:1", EnvToken: "from-env"},
			want: want{requests: []request{{Method: "GET", Path: "/api/v1alpha1/clusters", Auth: "Bearer from-flag"}}, has: []string{"NAME"}},
		},
		{
			name: "server without a scheme",
			args: []string{"cluster", "list"},
			env:  map[string]string{EnvServer: "$API"},
			want: want{requests: listed, has: []string{"NAME"}},
		},
		{
			name: "server with a bad scheme",
			args: []string{"--server", "ftp://127.0.0.1:1", "cluster", "list"},
			want: want{code: 2, stderr: "scheme must be http or https"},
		},
		{
			name: "unknown output format",
			args: []string{"cluster", "list", "-o", "xml"},
			want: want{code: 2, stderr: `unknown output format "xml"`},
		},
		{
			name: "unknown command",
			args: []string{"clusterz"},
			want: want{code: 2, stderr: `unknown command "clusterz" for "fedctl"`},
		},
		{
			name: "unknown subcommand",
			args: []string{"exec", "delete", "p/d/n"},
			want: want{code: 2, stderr: `unknown command "delete" for "fedctl exec"`},
		},
		{
			name: "unknown flag",
			args: []string{"raft", "status", "--leader"},
			want: want{code: 2, stderr: "unknown flag: --leader"},
		},
		{
			name: "group command alone prints its help",
			args: []string{"cluster"},
			want: want{has: []string{"Available Commands:", "drain"}},
		},
		{
			name: "version",
			args: []string{"version"},
			want: want{has: []string{"fedctl dev (go"}},
		},
		{
			name: "version json",
			args: []string{"version", "-o", "json"},
			want: want{has: []string{`"version": "dev"`, `"goVersion": "go`}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			routes := map[string][]reply{}
			if len(tc.want.requests) > 0 {
				routes = list
			}
			check(t, run(t, runOpts{routes: routes, env: tc.env}, tc.args...), tc.want)
		})
	}
}

// TestTimeout checks that --timeout bounds a request to a server that does
// not answer, and that the failure exits 1.
func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs before srv.Close: cleanups are LIFO
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := Run(context.Background(), []string{"--server", srv.URL, "--timeout", "200ms", "raft", "status"},
		Env{Stdout: &stdout, Stderr: &stderr})
	if code != ExitError {
		t.Errorf("exit code = %d, want %d", code, ExitError)
	}
	if !strings.Contains(stderr.String(), "context deadline exceeded") {
		t.Errorf("stderr = %q, want a deadline error", stderr.String())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v despite --timeout 200ms", d)
	}
}

// TestEveryCommandHasHelpWithExample walks the command tree: each command's
// --help exits 0 and shows an example.
func TestEveryCommandHasHelpWithExample(t *testing.T) {
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" || (len(path) > 0 && path[0] == "completion") {
			return
		}
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			walk(sub, append(append([]string(nil), path...), sub.Name()))
		}
	}
	walk(NewRootCommand(Env{}), nil)
	if len(paths) < 20 {
		t.Fatalf("walked only %d commands: %v", len(paths), paths)
	}
	for _, p := range paths {
		t.Run(strings.Join(append([]string{"fedctl"}, p...), " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Run(context.Background(), append(append([]string(nil), p...), "--help"), Env{Stdout: &stdout, Stderr: &stderr})
			if code != 0 {
				t.Fatalf("exit code = %d: %s", code, stderr.String())
			}
			_, examples, ok := strings.Cut(stdout.String(), "Examples:\n")
			if !ok || !strings.Contains(examples, "  fedctl ") {
				t.Errorf("help has no example:\n%s", stdout.String())
			}
		})
	}
}
