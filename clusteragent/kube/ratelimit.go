package kube

import "k8s.io/client-go/rest"

// clientConfig returns a copy of cfg tuned for an agent that runs in the
// member cluster it drives, next to its API server.
//
// The client-side rate limit is off when cfg sets none. client-go's default
// (5 requests per second, bursts of 10) would cap the propeller at well
// under one workflow per second: every task node costs a pod create and a
// status write. Like controller-runtime's own config loader, an unset QPS
// defers to the API server's priority and fairness instead; a QPS or rate
// limiter set by the caller is kept.
//
// Responses are not compressed. client-go asks for gzip, and a 1.37 API
// server then compresses every watch it serves as a streaming list
// (WatchListCompression), event by event, for the watch's whole life: on
// a busy cluster a few percent of the API server's CPU, and as much again
// in the agent to inflate it, to save bandwidth inside one cluster network.
func clientConfig(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	if c.QPS == 0 && c.RateLimiter == nil {
		c.QPS = -1
	}
	c.DisableCompression = true
	return c
}
