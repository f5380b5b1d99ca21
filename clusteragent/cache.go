package clusteragent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// Cache is the federation-wide task cache as the backends use it: before
// starting a node marked cache they look its key up (a hit skips the node,
// a claim makes other clusters wait for this run), and after it succeeded
// they put its outputs. Any error means "run the node": a workflow never
// blocks on the cache.
type Cache interface {
	// Lookup asks for key in project and, on a miss, claims it for
	// claimant.
	Lookup(ctx context.Context, key, project string, claimant v1.CacheOwner) (v1.CacheLookupResponse, error)
	// Put stores the outputs of a node run under key, releasing its claim.
	Put(ctx context.Context, key, project string, owner v1.CacheOwner, outputs map[string]string) error
	// Release gives up owner's claim on key (its node failed).
	Release(ctx context.Context, key, project string, owner v1.CacheOwner) error
}

// CacheControlPlane is the control plane's side of the cache.
// *client.Client implements it.
type CacheControlPlane interface {
	CacheLookup(ctx context.Context, req v1.CacheLookupRequest) (v1.CacheLookupResponse, error)
	CachePut(ctx context.Context, req v1.CachePutRequest) (v1.CacheEntry, bool, error)
	CacheRelease(ctx context.Context, key string, req v1.CacheReleaseRequest) error
}

// Defaults of CacheOptions.
const (
	DefaultCacheCallTimeout = 3 * time.Second
	DefaultCacheMaxWait     = 10 * time.Minute
)

// CacheOptions configure a RemoteCache. Zero values take the defaults.
type CacheOptions struct {
	// CallTimeout bounds one call; a lookup that takes longer runs the node.
	CallTimeout time.Duration
	// BreakerFailures consecutive failures stop calling for BreakerTimeout:
	// with the control plane away, nodes start at once instead of each
	// waiting out a timeout.
	BreakerFailures uint32
	BreakerTimeout  time.Duration
	// Registry receives the cache metrics; nil means the default registerer.
	Registry prometheus.Registerer
	Logger   *slog.Logger
}

// RemoteCache is the agent's Cache: calls to the control plane on behalf of
// the agent's cluster, bounded in time, behind a circuit breaker, counted
// in clusteragent_cache_lookups_total and clusteragent_cache_puts_total.
type RemoteCache struct {
	cp      CacheControlPlane
	cluster string
	opts    CacheOptions
	breaker *gobreaker.CircuitBreaker[any]
	lookups *prometheus.CounterVec
	puts    *prometheus.CounterVec
}

var _ Cache = (*RemoteCache)(nil)

// NewCache returns the cache of cluster over cp.
func NewCache(cp CacheControlPlane, cluster string, opts CacheOptions) (*RemoteCache, error) {
	if cp == nil {
		return nil, errors.New("new cache: control plane is required")
	}
	setDefault(&opts.CallTimeout, DefaultCacheCallTimeout)
	setDefault(&opts.BreakerTimeout, DefaultBreakerTimeout)
	if opts.BreakerFailures == 0 {
		opts.BreakerFailures = DefaultBreakerFailures
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.DefaultRegisterer
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &RemoteCache{cp: cp, cluster: cluster, opts: opts}
	var err error
	if c.lookups, err = register(opts.Registry, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "clusteragent_cache_lookups_total",
		Help: "Task cache lookups by result (hit, claimed, wait, miss, error).",
	}, []string{"result"})); err != nil {
		return nil, err
	}
	if c.puts, err = register(opts.Registry, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "clusteragent_cache_puts_total",
		Help: "Task cache puts by result (stored, existing, error).",
	}, []string{"result"})); err != nil {
		return nil, err
	}
	failures := opts.BreakerFailures
	c.breaker = gobreaker.NewCircuitBreaker[any](gobreaker.Settings{
		Name:        "cache",
		Timeout:     opts.BreakerTimeout,
		ReadyToTrip: func(cn gobreaker.Counts) bool { return cn.ConsecutiveFailures >= failures },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			opts.Logger.Info("cache breaker", "from", from.String(), "to", to.String())
		},
	})
	return c, nil
}

func (c *RemoteCache) call(ctx context.Context, f func(context.Context) (any, error)) (any, error) {
	return c.breaker.Execute(func() (any, error) {
		cctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
		defer cancel()
		return f(cctx)
	})
}

// Lookup implements Cache; the claimant is stamped with the agent's cluster.
func (c *RemoteCache) Lookup(ctx context.Context, key, project string, claimant v1.CacheOwner) (v1.CacheLookupResponse, error) {
	claimant.Cluster = c.cluster
	out, err := c.call(ctx, func(ctx context.Context) (any, error) {
		return c.cp.CacheLookup(ctx, v1.CacheLookupRequest{Key: key, Project: project, Claim: true, Claimant: claimant})
	})
	if err != nil {
		c.lookups.WithLabelValues("error").Inc()
		return v1.CacheLookupResponse{}, fmt.Errorf("cache lookup of node %s of %s: %w", claimant.Node, claimant.Execution, err)
	}
	resp := out.(v1.CacheLookupResponse)
	c.lookups.WithLabelValues(string(resp.Result)).Inc()
	return resp, nil
}

// Put implements Cache.
func (c *RemoteCache) Put(ctx context.Context, key, project string, owner v1.CacheOwner, outputs map[string]string) error {
	owner.Cluster = c.cluster
	out, err := c.call(ctx, func(ctx context.Context) (any, error) {
		_, stored, err := c.cp.CachePut(ctx, v1.CachePutRequest{Key: key, Project: project, Outputs: outputs, Owner: owner})
		return stored, err
	})
	if err != nil {
		c.puts.WithLabelValues("error").Inc()
		return fmt.Errorf("cache put of node %s of %s: %w", owner.Node, owner.Execution, err)
	}
	if out.(bool) {
		c.puts.WithLabelValues("stored").Inc()
	} else {
		c.puts.WithLabelValues("existing").Inc()
	}
	return nil
}

// Release implements Cache.
func (c *RemoteCache) Release(ctx context.Context, key, project string, owner v1.CacheOwner) error {
	owner.Cluster = c.cluster
	_, err := c.call(ctx, func(ctx context.Context) (any, error) {
		return nil, c.cp.CacheRelease(ctx, key, v1.CacheReleaseRequest{Project: project, Owner: owner})
	})
	if err != nil {
		return fmt.Errorf("cache release of node %s of %s: %w", owner.Node, owner.Execution, err)
	}
	return nil
}

// AwaitCache looks key up, and while another run holds its claim asks
// again as the control plane advises, for up to maxWait. It returns the
// last answer: a hit (use its outputs), claimed (run and put), or anything
// else, an error included (run without a claim). It returns early only
// when ctx ends.
func AwaitCache(ctx context.Context, c Cache, key, project string, claimant v1.CacheOwner, maxWait time.Duration) (v1.CacheLookupResponse, error) {
	deadline := time.Now().Add(maxWait)
	for {
		resp, err := c.Lookup(ctx, key, project, claimant)
		if err != nil || resp.Result != v1.CacheWait {
			return resp, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return resp, nil
		}
		retry := resp.RetryAfter.Duration
		if retry <= 0 {
			retry = time.Second
		}
		if !sleep(ctx, min(retry, left)) {
			return resp, ctx.Err()
		}
	}
}
