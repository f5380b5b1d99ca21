package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/clusteragent"
)

func TestParseFlags(t *testing.T) {
	env := map[string]string{"FEDERATION_SERVER": "http://127.0.0.1:8080", "FEDCTL_TOKEN": "from-env"}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(*config) bool
	}{
		{name: "sim from env", args: []string{"--cluster", "c1", "--backend", "sim"},
			check: func(c *config) bool {
				return c.server == env["FEDERATION_SERVER"] && c.token == "from-env" && c.capacity.Pods == 500 &&
					c.agent.Cluster == "c1" && c.agent.HeartbeatInterval == clusteragent.DefaultHeartbeatInterval
			}},
		{name: "flags win over env", args: []string{"--cluster", "c1", "--server", "https://fed:443", "--token", "t", "--lease-grace", "30s"},
			check: func(c *config) bool {
				return c.server == "https://fed:443" && c.token == "t" && c.backend == backendKubernetes && c.agent.LeaseGrace == 30*time.Second
			}},
		{name: "cluster required", args: []string{"--backend", "sim"}, wantErr: "--cluster is required"},
		{name: "bad cluster name", args: []string{"--cluster", "Not_A_Label"}, wantErr: "--cluster"},
		{name: "unknown backend", args: []string{"--cluster", "c1", "--backend", "nomad"}, wantErr: "--backend"},
		{name: "bad capacity", args: []string{"--cluster", "c1", "--backend", "sim", "--sim-capacity", "cpu=lots"}, wantErr: "--sim-capacity"},
		{name: "no pods", args: []string{"--cluster", "c1", "--backend", "sim", "--sim-capacity", "cpu=4"}, wantErr: "pods"},
		{name: "lease grace too short", args: []string{"--cluster", "c1", "--lease-grace", "1s"}, wantErr: "--lease-grace"},
		{name: "bad metrics addr", args: []string{"--cluster", "c1", "--metrics-addr", "9091"}, wantErr: "--metrics-addr"},
		{name: "stray argument", args: []string{"--cluster", "c1", "extra"}, wantErr: "unexpected arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseFlags(tc.args, getenv)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("config %+v", c)
			}
		})
	}
	if _, err := parseFlags([]string{"--cluster", "c1"}, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "--server") {
		t.Fatalf("no server anywhere: err = %v", err)
	}
}

// fakeServer answers the agent protocol for one registered cluster with
// nothing assigned, and records the bearer token it saw.
func fakeServer(t *testing.T, registered bool) (*httptest.Server, chan string) {
	tokens := make(chan string, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case tokens <- r.Header.Get("Authorization"):
		default:
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case !registered:
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(v1.ErrorBody{Error: v1.ErrorDetail{Code: v1.CodeNotFound, Message: "cluster c1 not found"}})
		case strings.HasSuffix(r.URL.Path, "/heartbeat"):
			_ = json.NewEncoder(w).Encode(v1.HeartbeatResponse{State: v1.ClusterReady, Healthy: true})
		case strings.HasSuffix(r.URL.Path, "/assignments"):
			if r.URL.Query().Get("after") != "0" {
				select {
				case <-r.Context().Done():
					return
				case <-time.After(200 * time.Millisecond):
				}
			}
			_ = json.NewEncoder(w).Encode(v1.AssignmentList{Revision: 1})
		case strings.HasSuffix(r.URL.Path, "/reports"):
			_ = json.NewEncoder(w).Encode(v1.ReportBatchResponse{})
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, tokens
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestRunUnregistered: an unregistered cluster ends run with
// ErrClusterNotRegistered (main turns it into exit code 1).
func TestRunUnregistered(t *testing.T) {
	srv, _ := fakeServer(t, false)
	cfg, err := parseFlags([]string{"--cluster", "c1", "--backend", "sim", "--server", srv.URL, "--metrics-addr", "", "--log-level", "error"}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = run(ctx, cfg)
	if !errors.Is(err, clusteragent.ErrClusterNotRegistered) || !strings.Contains(err.Error(), "fedctl cluster register") {
		t.Fatalf("run = %v, want ErrClusterNotRegistered", err)
	}
}

// TestRunSimServesAndStops: with the sim backend the agent connects with its
// token, serves /healthz and /metrics, and stops cleanly when cancelled.
func TestRunSimServesAndStops(t *testing.T) {
	srv, tokens := fakeServer(t, true)
	addr := freeAddr(t)
	cfg, err := parseFlags([]string{"--cluster", "c1", "--backend", "sim", "--server", srv.URL, "--token", "s3cret",
		"--metrics-addr", addr, "--heartbeat-interval", "50ms", "--log-level", "error"}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var runErr error
	stopped := make(chan struct{})
	go func() {
		runErr = run(ctx, cfg)
		close(stopped)
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
	})
	select {
	case tok := <-tokens:
		if tok != "Bearer s3cret" {
			t.Fatalf("Authorization %q", tok)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no request reached the server")
	}
	get := func(path string) string {
		deadline := time.Now().Add(5 * time.Second)
		for {
			resp, err := http.Get("http://" + addr + path)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return string(b)
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET %s: %v", path, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if body := get("/healthz"); !strings.Contains(body, "ok") {
		t.Fatalf("/healthz = %q", body)
	}
	if body := get("/metrics"); !strings.Contains(body, "clusteragent_breaker_state") || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("/metrics lacks the agent's or Go's metrics:\n%s", body)
	}
	cancel()
	select {
	case <-stopped:
		if runErr != nil {
			t.Fatalf("run after cancel = %v, want nil", runErr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop after cancel")
	}
}
