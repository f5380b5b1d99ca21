package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// seen is one request as the test server received it.
type seen struct {
	Method   string
	RawPath  string // escaped path, as on the wire
	RawQuery string
	Body     string
	Header   http.Header
}

// answer is what the test server replies.
type answer struct {
	status int
	body   any // marshalled as JSON unless nil
	header map[string]string
}

// recorder starts a server that records each request and replies with ans.
// It returns the client and a function returning the requests seen.
func recorder(t *testing.T, ans answer, opts ...Option) (*Client, func() []seen) {
	t.Helper()
	reqs := make(chan seen, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		reqs <- seen{Method: r.Method, RawPath: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Body: string(b), Header: r.Header.Clone()}
		for k, v := range ans.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(ans.status)
		if ans.body != nil {
			_ = json.NewEncoder(w).Encode(ans.body)
		}
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, func() []seen {
		var out []seen
		for {
			select {
			case s := <-reqs:
				out = append(out, s)
			default:
				return out
			}
		}
	}
}

// testCtx bounds every test call.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// jsonEqual compares a request body with the JSON encoding of want.
func jsonEqual(t *testing.T, got string, want any) {
	t.Helper()
	if want == nil {
		if got != "" {
			t.Errorf("body = %s, want none", got)
		}
		return
	}
	wb, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("body %q is not JSON: %v", got, err)
	}
	_ = json.Unmarshal(wb, &w)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("body = %s, want %s", got, wb)
	}
}

func TestErrorDecoding(t *testing.T) {
	cases := []struct {
		name      string
		ans       answer
		wantCode  string
		wantMsg   string
		wantRetry time.Duration
		is        func(error) bool
	}{
		{
			name:     "conflict body",
			ans:      answer{status: 409, body: v1.ErrorBody{Error: v1.ErrorDetail{Code: v1.CodeConflict, Message: "execution p/d/n exists with another spec"}}},
			wantCode: v1.CodeConflict, wantMsg: "execution p/d/n exists with another spec", is: IsConflict,
		},
		{
			name:     "not found",
			ans:      answer{status: 404, body: v1.ErrorBody{Error: v1.ErrorDetail{Code: v1.CodeNotFound, Message: "no cluster east"}}},
			wantCode: v1.CodeNotFound, wantMsg: "no cluster east", is: IsNotFound,
		},
		{
			name:     "unavailable with retry-after",
			ans:      answer{status: 503, body: v1.ErrorBody{Error: v1.ErrorDetail{Code: v1.CodeUnavailable, Message: "no leader"}}, header: map[string]string{"Retry-After": "2"}},
			wantCode: v1.CodeUnavailable, wantMsg: "no leader", wantRetry: 2 * time.Second, is: IsUnavailable,
		},
		{
			name:     "body that is not an error body",
			ans:      answer{status: 502, body: "bad gateway"},
			wantCode: "Bad Gateway", wantMsg: `"bad gateway"`,
			is: func(err error) bool { return StatusOf(err) == 502 },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := recorder(t, tc.ans)
			_, err := c.GetCluster(testCtx(t), "east")
			if err == nil {
				t.Fatal("want an error")
			}
			if !tc.is(err) {
				t.Errorf("error %v: predicate false", err)
			}
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v is not an *APIError", err)
			}
			if ae.Code != tc.wantCode || ae.Message != tc.wantMsg || ae.RetryAfter != tc.wantRetry {
				t.Errorf("APIError = %+v, want code %q message %q retry %v", ae, tc.wantCode, tc.wantMsg, tc.wantRetry)
			}
		})
	}
}

func TestTokenAndHeaders(t *testing.T) {
	c, reqs := recorder(t, answer{status: 200, body: v1.RaftStatus{ID: "a"}}, WithToken("s3cret"), WithUserAgent("fedctl/test"))
	if _, err := c.RaftStatus(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	r := reqs()[0]
	if got := r.Header.Get("Authorization"); got != "Bearer s3cret" {
		t.Errorf("Authorization = %q", got)
	}
	if got := r.Header.Get("User-Agent"); got != "fedctl/test" {
		t.Errorf("User-Agent = %q", got)
	}
}

func TestBaseURLWithPathPrefix(t *testing.T) {
	c, reqs := recorder(t, answer{status: 200, body: v1.ClusterList{}})
	c2, err := New(c.BaseURL() + "/fed/")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.ListClusters(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := reqs()[0].RawPath; got != "/fed/api/v1alpha1/clusters" {
		t.Errorf("path = %q", got)
	}
}
