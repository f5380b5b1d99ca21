package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// CacheLookup asks the federation-wide task cache for a key and, with
// req.Claim, claims it on a miss.
func (c *Client) CacheLookup(ctx context.Context, req v1.CacheLookupRequest) (v1.CacheLookupResponse, error) {
	var out v1.CacheLookupResponse
	if _, err := c.do(ctx, http.MethodPost, apiPath("cache", "lookup"), nil, req, &out); err != nil {
		return v1.CacheLookupResponse{}, fmt.Errorf("cache lookup %s: %w", req.Key, err)
	}
	return out, nil
}

// CachePut stores a node's outputs under their key. stored is false when
// the key was stored already; the entry returned is the one that stands.
func (c *Client) CachePut(ctx context.Context, req v1.CachePutRequest) (entry v1.CacheEntry, stored bool, err error) {
	status, err := c.do(ctx, http.MethodPost, apiPath("cache"), nil, req, &entry)
	if err != nil {
		return v1.CacheEntry{}, false, fmt.Errorf("cache put %s: %w", req.Key, err)
	}
	return entry, status == http.StatusCreated, nil
}

// CacheRelease gives up a claim that owner holds on key.
func (c *Client) CacheRelease(ctx context.Context, key string, req v1.CacheReleaseRequest) error {
	if _, err := c.do(ctx, http.MethodPost, apiPath("cache", key, "release"), nil, req, nil); err != nil {
		return fmt.Errorf("cache release %s: %w", key, err)
	}
	return nil
}

// ListCache returns a project's cache entries, least recently used first;
// project "" lists every project's.
func (c *Client) ListCache(ctx context.Context, project string) (v1.CacheList, error) {
	q := url.Values{}
	if project != "" {
		q.Set("project", project)
	}
	var out v1.CacheList
	if _, err := c.do(ctx, http.MethodGet, apiPath("cache"), q, nil, &out); err != nil {
		return v1.CacheList{}, fmt.Errorf("list cache: %w", err)
	}
	return out, nil
}

// GetCache returns a key's entry and claim in a project.
func (c *Client) GetCache(ctx context.Context, project, key string) (v1.CacheEntryStatus, error) {
	var out v1.CacheEntryStatus
	if _, err := c.do(ctx, http.MethodGet, apiPath("cache", key), url.Values{"project": {project}}, nil, &out); err != nil {
		return v1.CacheEntryStatus{}, fmt.Errorf("get cache key %s: %w", key, err)
	}
	return out, nil
}

// EvictCache removes a key's entry and claim from a project.
func (c *Client) EvictCache(ctx context.Context, project, key string) error {
	if _, err := c.do(ctx, http.MethodDelete, apiPath("cache", key), url.Values{"project": {project}}, nil, nil); err != nil {
		return fmt.Errorf("evict cache key %s: %w", key, err)
	}
	return nil
}
