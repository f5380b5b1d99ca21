package clusteragent

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/federation-dev/federation/federation/client"
)

// TestBackoffFullJitter: every wait lies in [0, min(max, base·2ⁿ)], waits are
// spread over that range, and reset starts over.
func TestBackoffFullJitter(t *testing.T) {
	const base, maxWait = 10 * time.Millisecond, 200 * time.Millisecond
	b := newBackoff(base, maxWait)
	for n := range 40 {
		ceil := maxWait
		if n < 5 {
			ceil = base << n
		}
		if d := b.next(errors.New("down")); d < 0 || d > ceil {
			t.Fatalf("wait %d = %s, want within [0, %s]", n, d, ceil)
		}
	}
	var lo, hi int
	for range 1000 {
		switch d := b.next(nil); {
		case d < maxWait/4:
			lo++
		case d > 3*maxWait/4:
			hi++
		}
	}
	if lo < 100 || hi < 100 {
		t.Fatalf("capped waits not spread: %d below a quarter, %d above three quarters of 1000", lo, hi)
	}
	b.reset()
	if d := b.next(nil); d > base {
		t.Fatalf("after reset wait %s, want at most %s", d, base)
	}
}

// TestBackoffRetryAfter: an answer's Retry-After is a floor, capped by max.
func TestBackoffRetryAfter(t *testing.T) {
	tests := []struct {
		retryAfter, want time.Duration
	}{
		{time.Second, time.Second},
		{time.Minute, 10 * time.Second},
	}
	for _, tc := range tests {
		b := newBackoff(time.Millisecond, 10*time.Second)
		err := &client.APIError{Status: http.StatusTooManyRequests, RetryAfter: tc.retryAfter}
		if d := b.next(err); d != tc.want {
			t.Errorf("Retry-After %s: wait %s, want %s", tc.retryAfter, d, tc.want)
		}
	}
}

func TestCountsAsFailure(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{errors.New("connection refused"), true},
		{&client.APIError{Status: http.StatusServiceUnavailable}, true},
		{&client.APIError{Status: http.StatusInternalServerError}, true},
		{&client.APIError{Status: http.StatusTooManyRequests}, true},
		{&client.APIError{Status: http.StatusBadRequest}, false},
		{&client.APIError{Status: http.StatusNotFound}, false},
		{&client.APIError{Status: http.StatusForbidden}, false},
		{&client.APIError{Status: http.StatusConflict}, false},
	}
	for _, tc := range tests {
		if got := countsAsFailure(tc.err); got != tc.want {
			t.Errorf("countsAsFailure(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{Cluster: "c1"}, true},
		{"no cluster", Config{}, false},
		{"bad cluster name", Config{Cluster: "C_1"}, false},
		{"negative interval", Config{Cluster: "c1", HeartbeatInterval: -time.Second}, false},
		{"lease grace below interval", Config{Cluster: "c1", LeaseGrace: time.Second}, false},
		{"lease grace", Config{Cluster: "c1", LeaseGrace: time.Minute}, true},
		{"backoff max below base", Config{Cluster: "c1", BackoffBase: time.Second, BackoffMax: time.Millisecond}, false},
	}
	for _, tc := range tests {
		tc.cfg.defaults()
		if err := tc.cfg.validate(); (err == nil) != tc.ok {
			t.Errorf("%s: validate = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}
