package client

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// pager serves GET /executions from pages keyed by continue token ("" is the
// first page) and records the queries it saw.
func pager(t *testing.T, pages map[string]v1.ExecutionList) (*Client, func() []string) {
	t.Helper()
	var (
		mu      sync.Mutex
		queries []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.URL.RawQuery)
		mu.Unlock()
		page, ok := pages[r.URL.Query().Get("continue")]
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(v1.ErrorBody{Error: v1.ErrorDetail{Code: v1.CodeInvalid, Message: "bad continue token"}})
			return
		}
		_ = json.NewEncoder(w).Encode(page)
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return c, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), queries...)
	}
}

func execNamed(name string) v1.Execution {
	return v1.Execution{ExecutionSpec: v1.ExecutionSpec{Project: "p", Domain: "d", Name: name}}
}

func TestListAllExecutions(t *testing.T) {
	cases := []struct {
		name        string
		pages       map[string]v1.ExecutionList
		opts        ListOptions
		wantNames   []string
		wantQueries []string
		wantErr     error
	}{
		{
			name: "follows continue to the last page",
			pages: map[string]v1.ExecutionList{
				"":   {Items: []v1.Execution{execNamed("a"), execNamed("b")}, Continue: "t1"},
				"t1": {Items: []v1.Execution{execNamed("c")}, Continue: "t2"},
				"t2": {Items: []v1.Execution{execNamed("d")}},
			},
			opts:        ListOptions{Project: "p", Limit: 2},
			wantNames:   []string{"a", "b", "c", "d"},
			wantQueries: []string{"limit=2&project=p", "continue=t1&limit=2&project=p", "continue=t2&limit=2&project=p"},
		},
		{
			name:        "single page",
			pages:       map[string]v1.ExecutionList{"": {Items: []v1.Execution{execNamed("a")}}},
			wantNames:   []string{"a"},
			wantQueries: []string{""},
		},
		{
			name: "repeated token is an error, not a loop",
			pages: map[string]v1.ExecutionList{
				"":   {Items: []v1.Execution{execNamed("a")}, Continue: "t1"},
				"t1": {Items: []v1.Execution{execNamed("b")}, Continue: "t1"},
			},
			wantErr: ErrRepeatedContinue,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, queries := pager(t, tc.pages)
			got, err := c.ListAllExecutions(testCtx(t), tc.opts)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range got {
				names = append(names, e.Name)
			}
			if !reflect.DeepEqual(names, tc.wantNames) {
				t.Errorf("names = %v, want %v", names, tc.wantNames)
			}
			if got := queries(); !reflect.DeepEqual(got, tc.wantQueries) {
				t.Errorf("queries = %q, want %q", got, tc.wantQueries)
			}
		})
	}
}
