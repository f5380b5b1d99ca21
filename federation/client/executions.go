package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// ErrRepeatedContinue is returned by ListAllExecutions when the server hands
// back a continue token it already gave, which would otherwise loop forever.
var ErrRepeatedContinue = errors.New("server repeated a continue token")

// ListOptions filter and page GET /executions. Empty fields do not filter.
type ListOptions struct {
	Project string
	Domain  string
	Phase   v1.ExecutionPhase
	Cluster string
	Tier    v1.Tier
	// Limit is the page size; zero leaves it to the server.
	Limit int
	// Continue is the token of the page to fetch, from the previous page.
	Continue string
	// Stale reads the answering replica's local state instead of going
	// through the leader: faster, possibly behind.
	Stale bool
}

// query renders the options as URL parameters.
func (o ListOptions) query() url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("project", o.Project)
	set("domain", o.Domain)
	set("phase", string(o.Phase))
	set("cluster", o.Cluster)
	set("tier", string(o.Tier))
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	set("continue", o.Continue)
	if o.Stale {
		q.Set("stale", "true")
	}
	return q
}

// executionPath is the path of one execution, plus optional sub-resources.
func executionPath(key v1.ExecutionKey, sub ...string) string {
	return apiPath(append([]string{"executions", key.Project, key.Domain, key.Name}, sub...)...)
}

// SubmitExecution submits spec. The answer comes once the submission is
// committed on a Raft quorum. created is false when an execution with the
// same key and the same spec already existed (submission is idempotent); a
// different spec under the same key is a conflict (IsConflict).
func (c *Client) SubmitExecution(ctx context.Context, spec v1.ExecutionSpec) (v1.Execution, bool, error) {
	var ex v1.Execution
	status, err := c.do(ctx, http.MethodPost, apiPath("executions"), nil, spec, &ex)
	if err != nil {
		return v1.Execution{}, false, fmt.Errorf("submit execution %s: %w", spec.Key(), err)
	}
	return ex, status == http.StatusCreated, nil
}

// GetExecution returns one execution. With stale, the answering replica reads
// its local state, which may lag the leader.
func (c *Client) GetExecution(ctx context.Context, key v1.ExecutionKey, stale bool) (v1.Execution, error) {
	var q url.Values
	if stale {
		q = url.Values{"stale": {"true"}}
	}
	var ex v1.Execution
	if _, err := c.do(ctx, http.MethodGet, executionPath(key), q, nil, &ex); err != nil {
		return v1.Execution{}, fmt.Errorf("get execution %s: %w", key, err)
	}
	return ex, nil
}

// ListExecutions returns one page of executions matching opts; the list's
// Continue, when set, fetches the next page.
func (c *Client) ListExecutions(ctx context.Context, opts ListOptions) (v1.ExecutionList, error) {
	var list v1.ExecutionList
	if _, err := c.do(ctx, http.MethodGet, apiPath("executions"), opts.query(), nil, &list); err != nil {
		return v1.ExecutionList{}, fmt.Errorf("list executions: %w", err)
	}
	return list, nil
}

// ListAllExecutions follows continue tokens from opts.Continue to the last
// page and returns every execution matching opts; opts.Limit is the page size.
func (c *Client) ListAllExecutions(ctx context.Context, opts ListOptions) ([]v1.Execution, error) {
	var all []v1.Execution
	seen := map[string]bool{}
	for {
		page, err := c.ListExecutions(ctx, opts)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.Continue == "" {
			return all, nil
		}
		if seen[page.Continue] {
			return nil, fmt.Errorf("list executions: %w: %q", ErrRepeatedContinue, page.Continue)
		}
		seen[page.Continue] = true
		opts.Continue = page.Continue
	}
}

// CancelExecution asks for an execution to be aborted. It returns the
// execution as it is after the request: Aborting until the agent confirms,
// or already terminal.
func (c *Client) CancelExecution(ctx context.Context, key v1.ExecutionKey) (v1.Execution, error) {
	var ex v1.Execution
	if _, err := c.do(ctx, http.MethodPost, executionPath(key, "cancel"), nil, nil, &ex); err != nil {
		return v1.Execution{}, fmt.Errorf("cancel execution %s: %w", key, err)
	}
	return ex, nil
}
