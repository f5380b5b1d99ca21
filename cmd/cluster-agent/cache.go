package main

import (
	"log/slog"

	"github.com/federation-dev/federation/clusteragent"
	"github.com/prometheus/client_golang/prometheus"
)

// newTaskCache returns the federation-wide task cache the backend consults
// before running a node marked cache, or nil (no cache) with --task-cache=false.
func newTaskCache(cfg *config, cp clusteragent.CacheControlPlane, reg prometheus.Registerer, log *slog.Logger) (clusteragent.Cache, error) {
	if !cfg.taskCache {
		return nil, nil
	}
	c, err := clusteragent.NewCache(cp, cfg.cluster, clusteragent.CacheOptions{Registry: reg, Logger: log})
	if err != nil {
		return nil, err
	}
	return c, nil
}
