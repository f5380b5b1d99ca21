package kube

import "k8s.io/client-go/rest"

// withoutDefaultRateLimit returns a copy of cfg whose client-side rate limit
// is off when cfg sets none. client-go's default (5 requests per second,
// bursts of 10) would cap the propeller at well under one workflow per
// second: every task node costs a pod create and a status write. Like
// controller-runtime's own config loader, an unset QPS defers to the API
// server's priority and fairness instead; a QPS or rate limiter set by the
// caller is kept.
func withoutDefaultRateLimit(cfg *rest.Config) *rest.Config {
	if cfg.QPS != 0 || cfg.RateLimiter != nil {
		return cfg
	}
	c := rest.CopyConfig(cfg)
	c.QPS = -1
	return c
}
