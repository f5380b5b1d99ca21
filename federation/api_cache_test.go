package federation

import (
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/federation/client"
)

func cacheKeyOf(i int) string {
	return v1.CacheKey(v1.TaskNode{Image: "python:3.12", Cache: &v1.CacheSpec{Version: "v3"}}, map[string]string{"i": fmt.Sprint(i)})
}

func cacheOwner(cluster, exec string) v1.CacheOwner {
	return v1.CacheOwner{Execution: v1.ExecutionKey{Project: "ml", Domain: "production", Name: exec}, Attempt: 1, Node: "train", Cluster: cluster}
}

// TestCacheAPIAcrossReplicas drives the cache protocol through a follower
// (forwarded to the leader) and the leader: claim, wait, put, hit from
// another cluster, list, get, evict.
func TestCacheAPIAcrossReplicas(t *testing.T) {
	rs := startControlPlane(t, 3, func(c *Config) { c.Cache.WaitRetry = 300 * time.Millisecond })
	ctx := ctxT(t)
	f, l := followerOf(t, rs).client, leaderOf(t, rs).client
	k := cacheKeyOf(1)
	east, west := cacheOwner("east", "run-1"), cacheOwner("west", "run-2")

	got, err := f.CacheLookup(ctx, v1.CacheLookupRequest{Key: k, Project: "ml", Claim: true, Claimant: east})
	if err != nil || got.Result != v1.CacheClaimed {
		t.Fatalf("first lookup: %+v, %v; want claimed", got, err)
	}
	got, err = l.CacheLookup(ctx, v1.CacheLookupRequest{Key: k, Project: "ml", Claim: true, Claimant: west})
	if err != nil || got.Result != v1.CacheWait || *got.Owner != east || got.RetryAfter.Duration != 300*time.Millisecond {
		t.Fatalf("racing lookup: %+v, %v; want wait on east, retry in 300ms", got, err)
	}
	outputs := map[string]string{"model": "s3://models/1"}
	entry, stored, err := f.CachePut(ctx, v1.CachePutRequest{Key: k, Project: "ml", Outputs: outputs, Owner: east})
	if err != nil || !stored || entry.Producer != east {
		t.Fatalf("put: %+v, %v, %v", entry, stored, err)
	}
	if _, stored, err := l.CachePut(ctx, v1.CachePutRequest{Key: k, Project: "ml", Outputs: map[string]string{"model": "other"}, Owner: west}); err != nil || stored {
		t.Fatalf("second put: stored %v, %v; want the first to stand", stored, err)
	}
	got, err = f.CacheLookup(ctx, v1.CacheLookupRequest{Key: k, Project: "ml", Claim: true, Claimant: west})
	if err != nil || got.Result != v1.CacheHit || !reflect.DeepEqual(got.Outputs, outputs) {
		t.Fatalf("lookup from west after the put: %+v, %v; want a hit", got, err)
	}

	list, err := f.ListCache(ctx, "ml")
	if err != nil || len(list.Items) != 1 || list.Items[0].Hits != 1 {
		t.Fatalf("list: %+v, %v", list, err)
	}
	st, err := l.GetCache(ctx, "ml", k)
	if err != nil || st.Entry == nil || st.Entry.Key != k {
		t.Fatalf("get: %+v, %v", st, err)
	}
	if err := f.EvictCache(ctx, "ml", k); err != nil {
		t.Fatalf("evict: %v", err)
	}
	if _, err := l.GetCache(ctx, "ml", k); !client.IsNotFound(err) {
		t.Fatalf("get after evict: %v, want 404", err)
	}
	if err := l.EvictCache(ctx, "ml", k); !client.IsNotFound(err) {
		t.Fatalf("evict again: %v, want 404", err)
	}
	// The replicas agree: every one holds what the leader holds.
	waitUntil(t, 5*time.Second, "replicas to apply the eviction", func() bool {
		for _, r := range rs {
			if len(r.node.State().CacheEntries("ml", time.Now())) != 0 {
				return false
			}
		}
		return true
	})
}

func TestCacheReleaseLetsTheWaiterClaim(t *testing.T) {
	rs := startControlPlane(t, 1, nil)
	ctx := ctxT(t)
	c := rs[0].client
	k := cacheKeyOf(2)
	east, west := cacheOwner("east", "run-1"), cacheOwner("west", "run-2")
	if got, err := c.CacheLookup(ctx, v1.CacheLookupRequest{Key: k, Project: "ml", Claim: true, Claimant: east}); err != nil || got.Result != v1.CacheClaimed {
		t.Fatalf("claim: %+v, %v", got, err)
	}
	if err := c.CacheRelease(ctx, k, v1.CacheReleaseRequest{Project: "ml", Owner: east}); err != nil {
		t.Fatalf("release: %v", err)
	}
	if got, err := c.CacheLookup(ctx, v1.CacheLookupRequest{Key: k, Project: "ml", Claim: true, Claimant: west}); err != nil || got.Result != v1.CacheClaimed || *got.Owner != west {
		t.Fatalf("after release: %+v, %v; want claimed by west", got, err)
	}
}

func TestCacheAPIRefusesBadRequests(t *testing.T) {
	rs := startControlPlane(t, 1, func(c *Config) { c.Cache.MaxBytesPerProject = 8 })
	ctx := ctxT(t)
	c := rs[0].client
	tests := []struct {
		name string
		call func() error
	}{
		{"lookup with a key that is no digest", func() error {
			_, err := c.CacheLookup(ctx, v1.CacheLookupRequest{Key: "abc", Project: "ml", Claim: true, Claimant: cacheOwner("east", "x")})
			return err
		}},
		{"lookup without a project", func() error {
			_, err := c.CacheLookup(ctx, v1.CacheLookupRequest{Key: cacheKeyOf(1), Claim: true, Claimant: cacheOwner("east", "x")})
			return err
		}},
		{"put over the project's byte cap", func() error {
			_, _, err := c.CachePut(ctx, v1.CachePutRequest{Key: cacheKeyOf(1), Project: "ml", Outputs: map[string]string{"model": "s3://too/long"}})
			return err
		}},
		{"get without a project", func() error {
			_, err := c.GetCache(ctx, "", cacheKeyOf(1))
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); client.StatusOf(err) != http.StatusBadRequest {
				t.Fatalf("got %v, want 400", err)
			}
		})
	}
}

// TestCacheSweepAndMetrics: the leader sweeps expired entries, and the
// lookups, puts and evictions show in the metrics.
func TestCacheSweepAndMetrics(t *testing.T) {
	rs := startControlPlane(t, 1, func(c *Config) {
		c.Cache.TTL = 300 * time.Millisecond
		c.Cache.SweepInterval = 100 * time.Millisecond
	})
	ctx := ctxT(t)
	r := rs[0]
	k := cacheKeyOf(3)
	if _, err := r.client.CacheLookup(ctx, v1.CacheLookupRequest{Key: k, Project: "ml", Claim: true, Claimant: cacheOwner("east", "x")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.client.CachePut(ctx, v1.CachePutRequest{Key: k, Project: "ml", Outputs: map[string]string{"o": "1"}}); err != nil {
		t.Fatal(err)
	}
	if got, err := r.client.CacheLookup(ctx, v1.CacheLookupRequest{Key: k, Project: "ml"}); err != nil || got.Result != v1.CacheHit {
		t.Fatalf("lookup: %+v, %v", got, err)
	}
	waitUntil(t, 5*time.Second, "the sweep to remove the expired entry", func() bool {
		return len(r.node.State().CacheUsage()) == 0
	})
	resp, err := http.Get(r.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`federation_cache_lookups_total{result="claimed"} 1`,
		`federation_cache_lookups_total{result="hit"} 1`,
		`federation_cache_puts_total{result="stored"} 1`,
		`federation_cache_evictions_total{reason="expired"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
