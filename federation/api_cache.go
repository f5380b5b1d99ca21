package federation

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/raftstore"
)

// cacheAPI serves the federation-wide task cache: agents look keys up
// (claiming them on a miss) and put outputs; users list, inspect and evict.
// The cache lives in the replicated state; the leader sweeps expired
// entries.
type cacheAPI struct {
	s   *Server
	cfg CacheConfig

	lookups   *prometheus.CounterVec
	puts      *prometheus.CounterVec
	evictions *prometheus.CounterVec
}

func newCacheAPI(s *Server) *cacheAPI {
	c := &cacheAPI{
		s:   s,
		cfg: s.cfg.Cache,
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "federation_cache_lookups_total", Help: "Task cache lookups by result (hit, claimed, wait, miss).",
		}, []string{"result"}),
		puts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "federation_cache_puts_total", Help: "Task cache puts by result (stored, existing).",
		}, []string{"result"}),
		evictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "federation_cache_evictions_total", Help: "Task cache entries removed, by reason (capacity, expired, manual).",
		}, []string{"reason"}),
	}
	s.reg.MustRegister(c.lookups, c.puts, c.evictions, &cacheUsageCollector{node: s.node})
	return c
}

// lookup answers an agent's lookup: hit, claimed, wait or miss.
func (c *cacheAPI) lookup(w http.ResponseWriter, r *http.Request) {
	var req v1.CacheLookupRequest
	if err := c.s.decodeBody(w, r, &req); err != nil {
		c.s.writeError(w, r, err)
		return
	}
	res, err := c.s.apply(r.Context(), raftstore.Command{Type: raftstore.CmdCacheClaim, CacheClaim: &raftstore.CacheClaimCmd{
		Key: req.Key, Project: req.Project, Claim: req.Claim, Owner: req.Claimant, ClaimFor: c.cfg.ClaimTimeout,
	}})
	if err != nil {
		c.s.writeError(w, r, err)
		return
	}
	out := res.Cache.Lookup
	c.countExpired(res.Cache.Expired)
	if out.Result == v1.CacheWait {
		retry := c.cfg.WaitRetry
		if left := time.Until(out.ClaimDeadline); left > 0 && left < retry {
			retry = left
		}
		out.RetryAfter = v1.Duration{Duration: retry}
	}
	c.lookups.WithLabelValues(string(out.Result)).Inc()
	writeJSON(w, http.StatusOK, out)
}

// put stores a node's outputs; 201 when stored, 200 when the key was
// stored already (the first outputs stand).
func (c *cacheAPI) put(w http.ResponseWriter, r *http.Request) {
	var req v1.CachePutRequest
	if err := c.s.decodeBody(w, r, &req); err != nil {
		c.s.writeError(w, r, err)
		return
	}
	res, err := c.s.apply(r.Context(), raftstore.Command{Type: raftstore.CmdCachePut, CachePut: &raftstore.CachePutCmd{
		Key: req.Key, Project: req.Project, Outputs: req.Outputs, Owner: req.Owner,
		TTL: c.cfg.TTL, MaxEntries: c.cfg.MaxEntriesPerProject, MaxBytes: c.cfg.MaxBytesPerProject,
	}})
	if err != nil {
		c.s.writeError(w, r, err)
		return
	}
	status, result := http.StatusOK, "existing"
	if res.Cache.Stored {
		status, result = http.StatusCreated, "stored"
	}
	c.countExpired(res.Cache.Expired)
	if res.Cache.Evicted > 0 {
		c.evictions.WithLabelValues("capacity").Add(float64(res.Cache.Evicted))
	}
	c.puts.WithLabelValues(result).Inc()
	writeJSON(w, status, res.Cache.Entry)
}

// release drops a claim its owner gives up (its node failed).
func (c *cacheAPI) release(w http.ResponseWriter, r *http.Request) {
	var req v1.CacheReleaseRequest
	if err := c.s.decodeBody(w, r, &req); err != nil {
		c.s.writeError(w, r, err)
		return
	}
	owner := req.Owner
	_, err := c.s.apply(r.Context(), raftstore.Command{Type: raftstore.CmdCacheEvict, CacheEvict: &raftstore.CacheEvictCmd{
		Key: r.PathValue("key"), Project: req.Project, ReleaseBy: &owner,
	}})
	if err != nil {
		c.s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (c *cacheAPI) list(w http.ResponseWriter, r *http.Request) {
	project := r.URL.Query().Get("project")
	if project != "" {
		if err := v1.ValidateName("project", project); err != nil {
			c.s.writeError(w, r, err)
			return
		}
	}
	items := c.s.node.State().CacheEntries(project, now())
	if items == nil {
		items = []v1.CacheEntry{}
	}
	writeJSON(w, http.StatusOK, v1.CacheList{Items: items})
}

func (c *cacheAPI) get(w http.ResponseWriter, r *http.Request) {
	project, key, err := cacheRef(r)
	if err != nil {
		c.s.writeError(w, r, err)
		return
	}
	st, ok := c.s.node.State().CacheKeyStatus(project, key, now())
	if !ok {
		c.s.writeError(w, r, notFoundf("cache key %s in project %s", key, project))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (c *cacheAPI) evict(w http.ResponseWriter, r *http.Request) {
	project, key, err := cacheRef(r)
	if err != nil {
		c.s.writeError(w, r, err)
		return
	}
	res, err := c.s.apply(r.Context(), raftstore.Command{Type: raftstore.CmdCacheEvict, CacheEvict: &raftstore.CacheEvictCmd{Key: key, Project: project}})
	if err != nil {
		c.s.writeError(w, r, err)
		return
	}
	c.evictions.WithLabelValues("manual").Add(float64(res.Cache.Evicted))
	w.WriteHeader(http.StatusNoContent)
}

// cacheRef reads the key from the path and the project from the query; a
// key is only meaningful within its project.
func cacheRef(r *http.Request) (project, key string, err error) {
	project, key = r.URL.Query().Get("project"), r.PathValue("key")
	if project == "" {
		return "", "", badRequest("project is required: cache entries are scoped by project (?project=)")
	}
	if err := v1.ValidateName("project", project); err != nil {
		return "", "", err
	}
	if !v1.ValidCacheKey(key) {
		return "", "", badRequest("cache key %q: want the 64 hex digits of a cache key", key)
	}
	return project, key, nil
}

func (c *cacheAPI) countExpired(n int) {
	if n > 0 {
		c.evictions.WithLabelValues("expired").Add(float64(n))
	}
}

// sweep runs on the leader: it commits the removal of expired entries and
// claims, so that they stop taking room in the state and its snapshots.
// Lookups already ignore them, so a late sweep costs only memory.
func (c *cacheAPI) sweep(ctx context.Context) {
	t := time.NewTicker(c.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		at := now()
		if c.s.node.State().CacheExpired(at) == 0 {
			continue
		}
		res, err := c.s.apply(ctx, raftstore.Command{Type: raftstore.CmdCacheEvict, At: at, CacheEvict: &raftstore.CacheEvictCmd{Sweep: true}})
		if err != nil {
			if ctx.Err() == nil {
				c.s.log.Warn("sweep expired cache entries", "err", err)
			}
			continue
		}
		c.countExpired(res.Cache.Expired)
	}
}

// cacheUsageCollector reports each project's cache entries and bytes at
// scrape time, from the local replica's state.
type cacheUsageCollector struct {
	node *raftstore.Node
}

var (
	cacheEntriesDesc = prometheus.NewDesc("federation_cache_entries", "Task cache entries by project.", []string{"project"}, nil)
	cacheBytesDesc   = prometheus.NewDesc("federation_cache_bytes", "Task cache output bytes by project.", []string{"project"}, nil)
)

// Describe implements prometheus.Collector.
func (u *cacheUsageCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- cacheEntriesDesc
	ch <- cacheBytesDesc
}

// Collect implements prometheus.Collector.
func (u *cacheUsageCollector) Collect(ch chan<- prometheus.Metric) {
	for p, use := range u.node.State().CacheUsage() {
		ch <- prometheus.MustNewConstMetric(cacheEntriesDesc, prometheus.GaugeValue, float64(use.Entries), p)
		ch <- prometheus.MustNewConstMetric(cacheBytesDesc, prometheus.GaugeValue, float64(use.Bytes), p)
	}
}
