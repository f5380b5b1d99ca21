package cli

import (
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

func TestCacheCommands(t *testing.T) {
	key := v1.CacheKey(v1.TaskNode{Image: "busybox", Cache: &v1.CacheSpec{Version: "v3"}}, map[string]string{"date": "2026-11-24"})
	owner := v1.CacheOwner{Execution: v1.ExecutionKey{Project: "flytesnacks", Domain: "development", Name: "run-1"}, Node: "train", Attempt: 1, Cluster: "east"}
	entry := v1.CacheEntry{Key: key, Project: "flytesnacks", Outputs: map[string]string{"model": "s3://m/1"}, Size: 13, Producer: owner,
		CreatedAt: now.Add(-2 * time.Hour), LastUsedAt: now.Add(-5 * time.Minute), Hits: 3}
	cases := []struct {
		name   string
		args   []string
		routes map[string][]reply
		want   want
	}{
		{
			name:   "list",
			args:   []string{"cache", "list", "--project", "flytesnacks"},
			routes: map[string][]reply{"GET /api/v1alpha1/cache": {{200, v1.CacheList{Items: []v1.CacheEntry{entry}}}}},
			want: want{
				requests: []request{{Method: "GET", Path: "/api/v1alpha1/cache", Query: "project=flytesnacks"}},
				has:      []string{"PROJECT", key[:12] + "…", "flytesnacks/development/run-1/train#1@east", "5m", "never"},
			},
		},
		{
			name:   "get",
			args:   []string{"cache", "get", key, "--project", "flytesnacks"},
			routes: map[string][]reply{"GET /api/v1alpha1/cache/" + key: {{200, v1.CacheEntryStatus{Entry: &entry}}}},
			want: want{
				requests: []request{{Method: "GET", Path: "/api/v1alpha1/cache/" + key, Query: "project=flytesnacks"}},
				has:      []string{"Hits:", "3", "Output model:", "s3://m/1"},
			},
		},
		{
			name: "get needs a project",
			args: []string{"cache", "get", key},
			want: want{code: 2, stderr: "--project is required"},
		},
		{
			name:   "evict",
			args:   []string{"cache", "evict", key, "--project", "flytesnacks"},
			routes: map[string][]reply{"DELETE /api/v1alpha1/cache/" + key: {{204, nil}}},
			want: want{
				requests: []request{{Method: "DELETE", Path: "/api/v1alpha1/cache/" + key, Query: "project=flytesnacks"}},
				stdout:   "cache key " + key + " of project flytesnacks evicted\n",
			},
		},
		{
			name:   "evict unknown",
			args:   []string{"cache", "evict", key, "--project", "flytesnacks"},
			routes: map[string][]reply{"DELETE /api/v1alpha1/cache/" + key: {apiError(404, v1.CodeNotFound, "not found: evict cache key")}},
			want: want{
				code:     1,
				requests: []request{{Method: "DELETE", Path: "/api/v1alpha1/cache/" + key, Query: "project=flytesnacks"}},
				stderr:   "not found",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check(t, run(t, runOpts{routes: tc.routes}, tc.args...), tc.want)
		})
	}
}
