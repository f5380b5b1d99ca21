package client

import (
	"context"
	"fmt"
	"net/http"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// clusterPath is the path of one cluster, plus optional sub-resources.
func clusterPath(name string, sub ...string) string {
	return apiPath(append([]string{"clusters", name}, sub...)...)
}

// RegisterCluster registers a member cluster. created is false when a cluster
// of that name was already registered with the same spec; another spec under
// the same name is a conflict (IsConflict).
func (c *Client) RegisterCluster(ctx context.Context, spec v1.ClusterSpec) (v1.Cluster, bool, error) {
	var cl v1.Cluster
	status, err := c.do(ctx, http.MethodPost, apiPath("clusters"), nil, spec, &cl)
	if err != nil {
		return v1.Cluster{}, false, fmt.Errorf("register cluster %s: %w", spec.Name, err)
	}
	return cl, status == http.StatusCreated, nil
}

// ListClusters returns every registered cluster.
func (c *Client) ListClusters(ctx context.Context) (v1.ClusterList, error) {
	var list v1.ClusterList
	if _, err := c.do(ctx, http.MethodGet, apiPath("clusters"), nil, nil, &list); err != nil {
		return v1.ClusterList{}, fmt.Errorf("list clusters: %w", err)
	}
	return list, nil
}

// GetCluster returns one cluster.
func (c *Client) GetCluster(ctx context.Context, name string) (v1.Cluster, error) {
	return c.clusterCall(ctx, http.MethodGet, "get", name, "", nil)
}

// UpdateCluster applies patch to a cluster; nil fields of patch stay as they are.
func (c *Client) UpdateCluster(ctx context.Context, name string, patch v1.ClusterPatch) (v1.Cluster, error) {
	return c.clusterCall(ctx, http.MethodPatch, "update", name, "", patch)
}

// RemoveCluster removes a cluster. The server refuses (IsConflict) while the
// cluster still runs executions: drain it first.
func (c *Client) RemoveCluster(ctx context.Context, name string) error {
	if _, err := c.do(ctx, http.MethodDelete, clusterPath(name), nil, nil, nil); err != nil {
		return fmt.Errorf("remove cluster %s: %w", name, err)
	}
	return nil
}

// Cordon stops new placements on a cluster; what runs there keeps running.
func (c *Client) Cordon(ctx context.Context, name string) (v1.Cluster, error) {
	return c.clusterCall(ctx, http.MethodPost, "cordon", name, "cordon", nil)
}

// Uncordon makes a cordoned or drained cluster schedulable again.
func (c *Client) Uncordon(ctx context.Context, name string) (v1.Cluster, error) {
	return c.clusterCall(ctx, http.MethodPost, "uncordon", name, "uncordon", nil)
}

// Drain cordons a cluster and lets its executions run until deadline from
// now; those still running then are requeued on other clusters.
func (c *Client) Drain(ctx context.Context, name string, deadline time.Duration) (v1.Cluster, error) {
	return c.clusterCall(ctx, http.MethodPost, "drain", name, "drain", v1.DrainRequest{Deadline: deadline.String()})
}

// clusterCall sends one request about a cluster whose answer is the cluster.
// what names the operation in errors; sub is the sub-resource, if any.
func (c *Client) clusterCall(ctx context.Context, method, what, name, sub string, in any) (v1.Cluster, error) {
	path := clusterPath(name)
	if sub != "" {
		path = clusterPath(name, sub)
	}
	var cl v1.Cluster
	if _, err := c.do(ctx, method, path, nil, in, &cl); err != nil {
		return v1.Cluster{}, fmt.Errorf("%s cluster %s: %w", what, name, err)
	}
	return cl, nil
}
