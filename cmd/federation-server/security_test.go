package main

import (
	"strings"
	"testing"
)

// TestSecurityFlags: outside --dev a replica refuses to start without
// tokens or an explicit --insecure-no-auth, and without TLS or an explicit
// insecure flag; contradictory flags are refused.
func TestSecurityFlags(t *testing.T) {
	base := []string{"--id", "r1", "--data-dir", t.TempDir()}
	tls := []string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-ca", "ca.pem"}
	cases := []struct {
		name string
		args []string
		want string // substring of the error; empty: valid
	}{
		{"no tokens, no TLS", base, "--token-file is required outside --dev"},
		{"tokens without TLS", append([]string{"--token-file", "t.csv"}, base...), "are required outside --dev (or --insecure-no-tls)"},
		{"tokens and TLS", append(append([]string{"--token-file", "t.csv"}, tls...), base...), ""},
		{"tokens, explicitly plain text", append([]string{"--token-file", "t.csv", "--insecure-no-tls"}, base...), ""},
		{"explicitly no auth", append([]string{"--insecure-no-auth"}, base...), ""},
		{"no auth and tokens", append([]string{"--insecure-no-auth", "--token-file", "t.csv"}, base...), "exclude each other"},
		{"half the TLS files", append([]string{"--token-file", "t.csv", "--tls-cert", "c.pem"}, base...), "go together"},
		{"TLS and plain text", append(append([]string{"--token-file", "t.csv", "--insecure-no-tls"}, tls...), base...), "exclude each other"},
		{"dev needs neither", []string{"--dev", "--data-dir", t.TempDir()}, ""},
		{"dev with tokens", []string{"--dev", "--data-dir", t.TempDir(), "--token-file", "t.csv"}, ""},
		{"limits must be positive", append([]string{"--insecure-no-auth", "--max-nodes", "0", "--max-input-bytes", "-1"}, base...), "--max-nodes 0: must be positive"},
		{"negative submit rate", append([]string{"--insecure-no-auth", "--submit-rate", "-1"}, base...), "submit rate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseFlags(tc.args)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("parseFlags(%q) = %v, want it valid", tc.args, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("parseFlags(%q) = %v, want an error mentioning %q", tc.args, err, tc.want)
			}
		})
	}
	c, err := parseFlags(append([]string{"--insecure-no-auth", "--max-nodes", "7", "--max-labels", "3", "--max-inputs", "4", "--max-input-bytes", "100", "--max-depends-on", "5", "--submit-rate", "2.5", "--submit-burst", "9"}, base...))
	if err != nil {
		t.Fatal(err)
	}
	l := c.svc.Limits
	if l.MaxNodes != 7 || l.MaxLabels != 3 || l.MaxInputs != 4 || l.MaxInputBytes != 100 || l.MaxDependsOn != 5 || c.svc.SubmitRate != 2.5 || c.svc.SubmitBurst != 9 {
		t.Fatalf("limit flags not applied: %+v rate %g burst %d", l, c.svc.SubmitRate, c.svc.SubmitBurst)
	}
}
