package client

import (
	"context"
	"fmt"
	"net/http"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// ExplainExecution returns each cluster's placement verdict and scores for a
// submitted execution.
func (c *Client) ExplainExecution(ctx context.Context, key v1.ExecutionKey) (v1.Explanation, error) {
	var ex v1.Explanation
	if _, err := c.do(ctx, http.MethodGet, executionPath(key, "explain"), nil, nil, &ex); err != nil {
		return v1.Explanation{}, fmt.Errorf("explain execution %s: %w", key, err)
	}
	return ex, nil
}

// DryRun returns where spec would be placed now, without submitting it.
func (c *Client) DryRun(ctx context.Context, spec v1.ExecutionSpec) (v1.Explanation, error) {
	var ex v1.Explanation
	if _, err := c.do(ctx, http.MethodPost, apiPath("placement", "dry-run"), nil, spec, &ex); err != nil {
		return v1.Explanation{}, fmt.Errorf("placement dry-run of %s: %w", spec.Key(), err)
	}
	return ex, nil
}
