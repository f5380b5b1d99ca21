package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// TestAgentCalls checks the method, path, query and body of each agent call
// and that a 404 answer is recognisable by IsNotFound.
func TestAgentCalls(t *testing.T) {
	type seen struct{ method, path, rawPath, query string }
	var got seen
	var body map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = seen{r.Method, r.URL.Path, r.URL.EscapedPath(), r.URL.RawQuery}
		body = nil
		_ = json.NewDecoder(r.Body).Decode(&body)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1alpha1/clusters/missing/heartbeat":
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(v1.ErrorBody{Error: v1.ErrorDetail{Code: v1.CodeNotFound, Message: "cluster missing not found"}})
		case "/api/v1alpha1/clusters/a b/heartbeat":
			_ = json.NewEncoder(w).Encode(v1.HeartbeatResponse{State: v1.ClusterReady, Healthy: true, LeaseDuration: v1.Duration{Duration: 10 * time.Second}})
		case "/api/v1alpha1/clusters/c1/assignments":
			_ = json.NewEncoder(w).Encode(v1.AssignmentList{Revision: 7, Items: []v1.Assignment{{Attempt: 2, Phase: v1.PhaseAssigned}}})
		case "/api/v1alpha1/clusters/c1/reports":
			_ = json.NewEncoder(w).Encode(v1.ReportBatchResponse{Results: []v1.ReportResult{{Attempt: 1, Verdict: v1.VerdictStale}}})
		default:
			w.WriteHeader(http.StatusTeapot)
		}
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, WithToken("tok"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)

	hb, err := c.Heartbeat(ctx, "a b", v1.Heartbeat{AgentVersion: "v1"})
	if err != nil || !hb.Healthy || hb.LeaseDuration.Duration != 10*time.Second {
		t.Fatalf("Heartbeat = %+v, %v", hb, err)
	}
	if got.method != http.MethodPost || got.rawPath != "/api/v1alpha1/clusters/a%20b/heartbeat" || body["agentVersion"] != "v1" {
		t.Fatalf("heartbeat request %+v body %v", got, body)
	}

	if _, err := c.Heartbeat(ctx, "missing", v1.Heartbeat{}); !IsNotFound(err) {
		t.Fatalf("Heartbeat of unregistered cluster: err %v, want a 404", err)
	}

	al, err := c.Assignments(ctx, "c1", 5, 3*time.Second)
	if err != nil || al.Revision != 7 || len(al.Items) != 1 || al.Items[0].Attempt != 2 {
		t.Fatalf("Assignments = %+v, %v", al, err)
	}
	if got.method != http.MethodGet || got.query != "after=5&wait=3s" {
		t.Fatalf("assignments request %+v", got)
	}

	rr, err := c.Report(ctx, "c1", v1.ReportBatch{Reports: []v1.StatusReport{{Attempt: 1, Phase: v1.PhaseRunning}}})
	if err != nil || len(rr.Results) != 1 || rr.Results[0].Verdict != v1.VerdictStale {
		t.Fatalf("Report = %+v, %v", rr, err)
	}
	if got.method != http.MethodPost || got.path != "/api/v1alpha1/clusters/c1/reports" || body["reports"] == nil {
		t.Fatalf("report request %+v body %v", got, body)
	}
}
