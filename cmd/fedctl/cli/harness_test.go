package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// now is the clock of every test, so that ages in tables are stable.
var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// reply is one answer of the fake API.
type reply struct {
	status int
	body   any // JSON-encoded unless nil
}

// apiError builds an error reply as the server sends it.
func apiError(status int, code, msg string) reply {
	return reply{status: status, body: v1.ErrorBody{Error: v1.ErrorDetail{Code: code, Message: msg}}}
}

// request is one request the fake API saw.
type request struct {
	Method, Path, Query, Body, Auth string
}

// fakeAPI answers "METHOD /escaped/path" routes with their replies in
// order (the last one repeats) and records every request. An unknown route
// gets a 404 that names it, so a wrong path fails the test loudly.
type fakeAPI struct {
	mu     sync.Mutex
	routes map[string][]reply
	seen   []request
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	route := r.Method + " " + r.URL.EscapedPath()
	f.mu.Lock()
	f.seen = append(f.seen, request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Body: string(b), Auth: r.Header.Get("Authorization")})
	rs, ok := f.routes[route]
	var rep reply
	if ok && len(rs) > 0 {
		rep = rs[0]
		if len(rs) > 1 {
			f.routes[route] = rs[1:]
		}
	} else {
		rep = apiError(http.StatusNotFound, v1.CodeNotFound, "fake API has no route "+route)
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rep.status)
	if rep.body != nil {
		_ = json.NewEncoder(w).Encode(rep.body)
	}
}

func (f *fakeAPI) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.seen...)
}

// result is what one fedctl run produced.
type result struct {
	code           int
	stdout, stderr string
	requests       []request
}

// runOpts vary a run.
type runOpts struct {
	routes map[string][]reply
	stdin  string
	env    map[string]string // FEDCTL_SERVER defaults to the fake API
}

// run runs fedctl in process against a fresh fake API.
func run(t *testing.T, o runOpts, args ...string) result {
	t.Helper()
	api := &fakeAPI{routes: o.routes}
	if api.routes == nil {
		api.routes = map[string][]reply{}
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	env := map[string]string{EnvServer: srv.URL}
	for k, v := range o.env {
		env[k] = strings.ReplaceAll(v, "$API", srv.URL)
	}
	args = append([]string(nil), args...)
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "$API", srv.URL)
	}
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code := Run(ctx, args, Env{
		Stdin:  strings.NewReader(o.stdin),
		Stdout: &stdout,
		Stderr: &stderr,
		Getenv: func(k string) string { return env[k] },
		Now:    func() time.Time { return now },
	})
	return result{code: code, stdout: stdout.String(), stderr: stderr.String(), requests: api.requests()}
}

// writeFile writes content to a file in a test directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// want is the expected outcome of a command case.
type want struct {
	code     int
	requests []request // Body compared as JSON; Auth only when set
	stdout   string    // exact, when set
	has      []string  // substrings of stdout
	stderr   string    // substring of stderr; empty stderr expected if ""
}

// check compares a run's result with w.
func check(t *testing.T, got result, w want) {
	t.Helper()
	if got.code != w.code {
		t.Errorf("exit code = %d, want %d\nstdout: %s\nstderr: %s", got.code, w.code, got.stdout, got.stderr)
	}
	if w.stderr == "" && got.stderr != "" {
		t.Errorf("stderr = %q, want none", got.stderr)
	}
	if !strings.Contains(got.stderr, w.stderr) {
		t.Errorf("stderr = %q, want it to contain %q", got.stderr, w.stderr)
	}
	if w.stdout != "" && got.stdout != w.stdout {
		t.Errorf("stdout =\n%s\nwant\n%s", got.stdout, w.stdout)
	}
	for _, h := range w.has {
		if !strings.Contains(got.stdout, h) {
			t.Errorf("stdout =\n%s\nwant it to contain %q", got.stdout, h)
		}
	}
	if len(got.requests) != len(w.requests) {
		t.Fatalf("server saw %d requests %+v, want %d %+v", len(got.requests), got.requests, len(w.requests), w.requests)
	}
	for i, r := range w.requests {
		g := got.requests[i]
		if g.Method != r.Method || g.Path != r.Path || g.Query != r.Query {
			t.Errorf("request %d = %s %s?%s, want %s %s?%s", i, g.Method, g.Path, g.Query, r.Method, r.Path, r.Query)
		}
		if r.Auth != "" && g.Auth != r.Auth {
			t.Errorf("request %d Authorization = %q, want %q", i, g.Auth, r.Auth)
		}
		if !jsonSame(g.Body, r.Body) {
			t.Errorf("request %d body = %s, want %s", i, g.Body, r.Body)
		}
	}
}

// jsonSame compares two JSON documents by value; two empty strings are equal.
func jsonSame(a, b string) bool {
	if a == "" || b == "" {
		return a == b
	}
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// mustJSON encodes v for use as an expected request body.
func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
