package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// Heartbeat renews the lease of cluster and reports its capacity. A cluster
// that is not registered answers 404 (IsNotFound).
func (c *Client) Heartbeat(ctx context.Context, cluster string, hb v1.Heartbeat) (v1.HeartbeatResponse, error) {
	var out v1.HeartbeatResponse
	if _, err := c.do(ctx, http.MethodPost, clusterPath(cluster, "heartbeat"), nil, hb, &out); err != nil {
		return v1.HeartbeatResponse{}, fmt.Errorf("heartbeat of cluster %s: %w", cluster, err)
	}
	return out, nil
}

// Assignments returns the full set of executions cluster should hold. When
// its revision is not above after, the server holds the request for up to
// wait (it caps the wait) before it answers with the current set; the
// caller's context must allow for that.
func (c *Client) Assignments(ctx context.Context, cluster string, after uint64, wait time.Duration) (v1.AssignmentList, error) {
	q := url.Values{}
	q.Set("after", strconv.FormatUint(after, 10))
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	var out v1.AssignmentList
	if _, err := c.do(ctx, http.MethodGet, clusterPath(cluster, "assignments"), q, nil, &out); err != nil {
		return v1.AssignmentList{}, fmt.Errorf("assignments of cluster %s: %w", cluster, err)
	}
	return out, nil
}

// Report sends a batch of status reports of cluster's executions and returns
// a verdict per report.
func (c *Client) Report(ctx context.Context, cluster string, batch v1.ReportBatch) (v1.ReportBatchResponse, error) {
	var out v1.ReportBatchResponse
	if _, err := c.do(ctx, http.MethodPost, clusterPath(cluster, "reports"), nil, batch, &out); err != nil {
		return v1.ReportBatchResponse{}, fmt.Errorf("report %d statuses of cluster %s: %w", len(batch.Reports), cluster, err)
	}
	return out, nil
}
