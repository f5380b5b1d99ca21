package client

import (
	"context"
	"fmt"
	"net/http"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// RaftStatus returns the answering replica's view of the Raft cluster.
func (c *Client) RaftStatus(ctx context.Context) (v1.RaftStatus, error) {
	var st v1.RaftStatus
	if _, err := c.do(ctx, http.MethodGet, apiPath("raft"), nil, nil, &st); err != nil {
		return v1.RaftStatus{}, fmt.Errorf("raft status: %w", err)
	}
	return st, nil
}

// RaftJoin adds a voter to the control plane's Raft configuration.
func (c *Client) RaftJoin(ctx context.Context, req v1.JoinRequest) error {
	if _, err := c.do(ctx, http.MethodPost, apiPath("raft", "join"), nil, req, nil); err != nil {
		return fmt.Errorf("raft join %s at %s: %w", req.ID, req.Address, err)
	}
	return nil
}

// RaftRemove removes a member from the control plane's Raft configuration.
func (c *Client) RaftRemove(ctx context.Context, id string) error {
	if _, err := c.do(ctx, http.MethodDelete, apiPath("raft", "members", id), nil, nil, nil); err != nil {
		return fmt.Errorf("raft remove %s: %w", id, err)
	}
	return nil
}
