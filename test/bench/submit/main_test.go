package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name        string
		args        []string
		wantErr     string
		wantClients []int
		wantEtcd    string
	}{
		{"defaults", []string{"--bin", "/b"}, "", []int{1, 16, 128}, "/b/testbin/etcd"},
		{"own clients and etcd", []string{"--bin", "/b", "--clients", "4, 8", "--etcd", "/e"}, "", []int{4, 8}, "/e"},
		{"zero clients", []string{"--bin", "/b", "--clients", "0"}, "--clients", nil, ""},
		{"too many clients", []string{"--bin", "/b", "--clients", "1,5000"}, "--clients", nil, ""},
		{"not a number", []string{"--bin", "/b", "--clients", "x"}, "--clients", nil, ""},
		{"zero duration", []string{"--bin", "/b", "--duration", "0s"}, "--duration", nil, ""},
		{"hour-long duration", []string{"--bin", "/b", "--duration", "1h"}, "--duration", nil, ""},
		{"stray argument", []string{"--bin", "/b", "extra"}, "unexpected", nil, ""},
		{"three runs", []string{"--bin", "/b", "--runs", "3"}, "", []int{1, 16, 128}, "/b/testbin/etcd"},
		{"zero runs", []string{"--bin", "/b", "--runs", "0"}, "--runs", nil, ""},
		{"too many runs", []string{"--bin", "/b", "--runs", "10"}, "--runs", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseFlags(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one about %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.clients, tc.wantClients) || c.etcdBin != tc.wantEtcd || c.fedBin != "/b/federation-server" {
				t.Fatalf("got clients %v etcd %s fed %s", c.clients, c.etcdBin, c.fedBin)
			}
		})
	}
}

func TestParseFlagsProfileAndFedOnly(t *testing.T) {
	for _, tc := range []struct {
		name        string
		args        []string
		wantFedOnly bool
		wantProfile string
	}{
		{"off by default", []string{"--bin", "/b"}, false, ""},
		{"fed-only", []string{"--bin", "/b", "--fed-only"}, true, ""},
		{"profile folder", []string{"--bin", "/b", "--profile", "/tmp/p"}, false, "/tmp/p"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseFlags(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if c.fedOnly != tc.wantFedOnly || c.profile != tc.wantProfile {
				t.Fatalf("fedOnly %v profile %q, want %v %q", c.fedOnly, c.profile, tc.wantFedOnly, tc.wantProfile)
			}
		})
	}
}

func TestRunWithFedOnlyNeedsNoEtcd(t *testing.T) {
	dir := t.TempDir()
	cfg := config{fedBin: filepath.Join(dir, "federation-server"), etcdBin: filepath.Join(dir, "none"), fedOnly: true}
	err := run(context.Background(), &cfg, &strings.Builder{}, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "make build") || strings.Contains(err.Error(), "make testbin") {
		t.Fatalf("err = %v, want only the missing federation-server", err)
	}
}

func TestRunErrorsClearlyWhenBinariesMissing(t *testing.T) {
	dir := t.TempDir()
	etcd := filepath.Join(dir, "etcd")
	if err := os.WriteFile(etcd, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  config
		want string
	}{
		{"no federation-server", config{fedBin: filepath.Join(dir, "federation-server"), etcdBin: etcd}, "make build"},
		{"no etcd", config{fedBin: etcd, etcdBin: filepath.Join(dir, "none")}, "make testbin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), &tc.cfg, &strings.Builder{}, &strings.Builder{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func TestBenchSpecIsValidAndUnique(t *testing.T) {
	for _, seq := range []uint64{0, 1, 1 << 40} {
		spec := benchSpec("c128", seq)
		spec.Default()
		if err := spec.Validate(v1.DefaultLimits); err != nil {
			t.Fatalf("seq %d: the server would refuse the spec: %v", seq, err)
		}
	}
	k1, b1, err := specJSON("c16", 5)
	if err != nil {
		t.Fatal(err)
	}
	k2, b2, _ := specJSON("c16", 5)
	k3, b3, _ := specJSON("c16", 6)
	if k1 != k2 || string(b1) != string(b2) {
		t.Fatal("the same (run, seq) must give the same key and JSON for both systems")
	}
	if k1 == k3 || string(b1) == string(b3) {
		t.Fatal("another seq must give another execution")
	}
}

func TestFedSubmitterCountsOnlyCreatedAndOK(t *testing.T) {
	tests := []struct {
		status     int
		wantErr    bool
		wantStatus int
	}{
		{http.StatusCreated, false, 0},
		{http.StatusOK, false, 0},
		{http.StatusConflict, true, http.StatusConflict},
		{http.StatusServiceUnavailable, true, http.StatusServiceUnavailable},
	}
	for _, tc := range tests {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != v1.APIPrefix+"/executions" {
					http.Error(w, "wrong route", http.StatusNotFound)
					return
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(`{"error":{"code":"x","message":"y"}}`))
			}))
			t.Cleanup(srv.Close)
			s := newFedSubmitter(srv.URL, "c1", 1)
			t.Cleanup(s.close)
			err := s.submit(context.Background(), 1)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			var se *statusError
			if tc.wantErr && (!errors.As(err, &se) || se.Status != tc.wantStatus) {
				t.Fatalf("err = %v, want a statusError %d", err, tc.wantStatus)
			}
		})
	}
}

func TestProbe(t *testing.T) {
	tests := []struct {
		name     string
		answers  []int // status per call; the last repeats
		wantErr  bool
		maxCalls int64
	}{
		{"first try", []int{http.StatusCreated}, false, 1},
		{"retries while no leader", []int{http.StatusServiceUnavailable, http.StatusServiceUnavailable, http.StatusCreated}, false, 3},
		{"a refused spec fails at once", []int{http.StatusBadRequest}, true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := int(calls.Add(1)) - 1
				w.WriteHeader(tc.answers[min(n, len(tc.answers)-1)])
			}))
			t.Cleanup(srv.Close)
			s := newFedSubmitter(srv.URL, "c1", 1)
			t.Cleanup(s.close)
			err := probe(context.Background(), s.submit)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if got := calls.Load(); got > tc.maxCalls {
				t.Fatalf("%d calls, want at most %d", got, tc.maxCalls)
			}
		})
	}
}

func TestProcGroupStopsWhatItStarted(t *testing.T) {
	dir := t.TempDir()
	g := &procGroup{}
	t.Cleanup(func() { g.stopAll(time.Second) })
	// sh ignores SIGTERM here, so stopAll must fall back to SIGKILL; the
	// child sleep is in the same process group and must go too.
	stubborn, err := g.start("stubborn", filepath.Join(dir, "s.log"), "/bin/sh", "-c", "trap '' TERM; echo up; sleep 60 & wait")
	if err != nil {
		t.Fatal(err)
	}
	quitter, err := g.start("quitter", filepath.Join(dir, "q.log"), "/bin/sh", "-c", "echo bye; exit 3")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-quitter.done:
	case <-time.After(5 * time.Second):
		t.Fatal("quitter did not exit")
	}
	err = deadErr([]*proc{stubborn, quitter})
	if err == nil || !strings.Contains(err.Error(), "quitter") || !strings.Contains(err.Error(), "bye") {
		t.Fatalf("deadErr = %v, want it to name quitter with its log", err)
	}
	start := time.Now()
	g.stopAll(300 * time.Millisecond)
	if !stubborn.exited() {
		t.Fatal("stubborn still runs after stopAll")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("stopAll took %v", took)
	}
	if err := deadErr([]*proc{stubborn}); err == nil {
		t.Fatal("deadErr should report the stopped process")
	}
}

func TestFreeAddrsAreDistinct(t *testing.T) {
	addrs, err := freeAddrs(6)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range addrs {
		if !strings.HasPrefix(a, "127.0.0.1:") || seen[a] {
			t.Fatalf("addrs %v: want distinct loopback ports", addrs)
		}
		seen[a] = true
	}
}

// TestFedSubmitterSendsTheSpecJSON: both systems must store the same
// bytes, so the template must render exactly what specJSON encodes.
func TestFedSubmitterSendsTheSpecJSON(t *testing.T) {
	s := newFedSubmitter("http://127.0.0.1:1", "c16", 16)
	for _, seq := range []uint64{0, 7, 123456789} {
		key, req := s.request(nil, seq)
		wantKey, wantBody, err := specJSON("c16", seq)
		if err != nil {
			t.Fatal(err)
		}
		_, body, ok := bytes.Cut(req, []byte("\r\n\r\n"))
		if !ok || !bytes.Equal(body, wantBody) || key != wantKey {
			t.Fatalf("seq %d: sent %s (%v), want %s (%v)", seq, body, key, wantBody, wantKey)
		}
		if !bytes.Contains(req, []byte("Content-Length: "+strconv.Itoa(len(wantBody))+"\r\n")) {
			t.Fatalf("seq %d: wrong Content-Length in %q", seq, req)
		}
	}
}
