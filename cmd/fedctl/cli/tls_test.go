package cli

import (
	"bytes"
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// TestCAFlagTrustsAPrivateCA: fedctl reaches an https server whose
// certificate a private CA signed only when given that CA, by --ca or
// FEDCTL_CA, and sends its token.
func TestCAFlagTrustsAPrivateCA(t *testing.T) {
	api := &fakeAPI{routes: map[string][]reply{
		"GET " + v1.APIPrefix + "/raft": {{status: http.StatusOK, body: v1.RaftStatus{State: "Leader"}}},
	}}
	srv := httptest.NewTLSServer(api)
	t.Cleanup(srv.Close)
	ca := writeFile(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	junk := writeFile(t, "junk.pem", "not a certificate")
	cases := []struct {
		name   string
		args   []string
		env    map[string]string
		code   int
		stderr string
	}{
		{"--ca", []string{"--ca", ca}, nil, ExitOK, ""},
		{"FEDCTL_CA", nil, map[string]string{EnvCA: ca}, ExitOK, ""},
		{"no CA", nil, nil, ExitError, "certificate"},
		{"a file without a certificate", []string{"--ca", junk}, nil, ExitUsage, "no PEM certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{EnvServer: srv.URL, EnvToken: "tok-0123456789abcdef"}
			for k, v := range tc.env {
				env[k] = v
			}
			var stdout, stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			code := Run(ctx, append(tc.args, "raft", "status"), Env{
				Stdout: &stdout, Stderr: &stderr,
				Getenv: func(k string) string { return env[k] },
				Now:    func() time.Time { return now },
			})
			if code != tc.code || !strings.Contains(stderr.String(), tc.stderr) {
				t.Fatalf("exit %d stderr %q, want %d mentioning %q", code, stderr.String(), tc.code, tc.stderr)
			}
		})
	}
	for _, r := range api.requests() {
		if r.Auth != "Bearer tok-0123456789abcdef" {
			t.Fatalf("request without the token: %+v", r)
		}
	}
	if len(api.requests()) != 2 {
		t.Fatalf("server saw %d requests, want 2 (the trusting runs)", len(api.requests()))
	}
}
