package raftstore

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// ckey is a real cache key, distinct per i.
func ckey(i int) string {
	return v1.CacheKey(v1.TaskNode{ID: "t", Image: "busybox", Cache: &v1.CacheSpec{Version: "v1"}}, map[string]string{"i": fmt.Sprint(i)})
}

func owner(exec string, attempt int) v1.CacheOwner {
	return v1.CacheOwner{Execution: key(exec), Attempt: attempt, Node: "t", Cluster: "c1"}
}

func claimCmd(project, k string, o v1.CacheOwner, at time.Time) Command {
	return Command{Type: CmdCacheClaim, At: at, CacheClaim: &CacheClaimCmd{Key: k, Project: project, Claim: true, Owner: o, ClaimFor: 10 * time.Second}}
}

func putCmd(project, k string, outputs map[string]string, at time.Time, ttl time.Duration, maxEntries int, maxBytes int64) Command {
	return Command{Type: CmdCachePut, At: at, CachePut: &CachePutCmd{Key: k, Project: project, Outputs: outputs, Owner: owner("producer", 1), TTL: ttl, MaxEntries: maxEntries, MaxBytes: maxBytes}}
}

// lookup claims k for o and returns the outcome.
func (h *fsmHarness) lookup(project, k string, o v1.CacheOwner, at time.Time) v1.CacheLookupResponse {
	h.t.Helper()
	return h.must(claimCmd(project, k, o, at)).Cache.Lookup
}

func TestCacheClaimPutHit(t *testing.T) {
	h := newHarness(t)
	t0 := h.now
	k := ckey(1)
	a, b := owner("a", 1), owner("b", 1)

	if got := h.lookup("p", k, a, t0); got.Result != v1.CacheClaimed || *got.Owner != a || !got.ClaimDeadline.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("first lookup: %+v, want claimed by a until t0+10s", got)
	}
	// A concurrent run of the same key waits for the claimant.
	if got := h.lookup("p", k, b, t0.Add(time.Second)); got.Result != v1.CacheWait || *got.Owner != a {
		t.Fatalf("racing lookup: %+v, want wait on a", got)
	}
	// The claimant asking again renews its claim.
	if got := h.lookup("p", k, a, t0.Add(2*time.Second)); got.Result != v1.CacheClaimed || !got.ClaimDeadline.Equal(t0.Add(12*time.Second)) {
		t.Fatalf("renewal: %+v", got)
	}
	out := map[string]string{"rows": "42"}
	put := h.must(putCmd("p", k, out, t0.Add(3*time.Second), 0, 0, 0)).Cache
	if !put.Stored || !put.Released || put.Entry.Size != int64(len("rows")+len("42")) {
		t.Fatalf("put: %+v", put)
	}
	got := h.lookup("p", k, b, t0.Add(4*time.Second))
	if got.Result != v1.CacheHit || !reflect.DeepEqual(got.Outputs, out) {
		t.Fatalf("lookup after put: %+v, want hit with %v", got, out)
	}
	// Another project never sees the entry.
	if got := h.lookup("other", k, b, t0.Add(5*time.Second)); got.Result != v1.CacheClaimed {
		t.Fatalf("other project: %+v, want a miss (claimed)", got)
	}
	// A second put of the same key keeps the first outputs.
	again := h.must(putCmd("p", k, map[string]string{"rows": "43"}, t0.Add(6*time.Second), 0, 0, 0)).Cache
	if again.Stored || again.Entry.Outputs["rows"] != "42" {
		t.Fatalf("second put: %+v, want the first outputs kept", again)
	}
	st, ok := h.s.CacheKeyStatus("p", k, t0.Add(7*time.Second))
	if !ok || st.Entry.Hits != 1 || !st.Entry.LastUsedAt.Equal(t0.Add(4*time.Second)) || st.Claim != nil {
		t.Fatalf("status: %+v", st)
	}
	// A plain lookup (no claim) of an unknown key is a miss and claims nothing.
	miss := h.must(Command{Type: CmdCacheClaim, CacheClaim: &CacheClaimCmd{Key: ckey(2), Project: "p", Owner: a}}).Cache.Lookup
	if miss.Result != v1.CacheMiss {
		t.Fatalf("plain lookup: %+v", miss)
	}
	if _, ok := h.s.CacheKeyStatus("p", ckey(2), h.now); ok {
		t.Fatal("a plain lookup left a claim")
	}
}

func TestCacheClaimRunsOutAndRelease(t *testing.T) {
	h := newHarness(t)
	t0 := h.now
	k := ckey(1)
	a, b := owner("a", 1), owner("b", 1)
	h.lookup("p", k, a, t0)
	// Past the deadline the claim is gone: the waiter takes over.
	if got := h.lookup("p", k, b, t0.Add(11*time.Second)); got.Result != v1.CacheClaimed || *got.Owner != b {
		t.Fatalf("after the deadline: %+v, want claimed by b", got)
	}
	// The old claimant releasing (its node failed late) must not drop b's claim.
	r := h.must(Command{Type: CmdCacheEvict, At: t0.Add(12 * time.Second), CacheEvict: &CacheEvictCmd{Key: k, Project: "p", ReleaseBy: &a}}).Cache
	if r.Released {
		t.Fatal("a released b's claim")
	}
	r = h.must(Command{Type: CmdCacheEvict, At: t0.Add(12 * time.Second), CacheEvict: &CacheEvictCmd{Key: k, Project: "p", ReleaseBy: &b}}).Cache
	if !r.Released {
		t.Fatal("b could not release its claim")
	}
	if got := h.lookup("p", k, a, t0.Add(13*time.Second)); got.Result != v1.CacheClaimed || *got.Owner != a {
		t.Fatalf("after release: %+v, want claimed by a", got)
	}
}

func TestCacheTTLExpiry(t *testing.T) {
	h := newHarness(t)
	t0 := h.now
	h.must(putCmd("p", ckey(1), map[string]string{"o": "1"}, t0, time.Minute, 0, 0))
	h.must(putCmd("p", ckey(2), map[string]string{"o": "2"}, t0, 0, 0, 0)) // no TTL
	if got := h.lookup("p", ckey(1), owner("a", 1), t0.Add(59*time.Second)); got.Result != v1.CacheHit {
		t.Fatalf("before the TTL: %+v", got)
	}
	if n := h.s.CacheExpired(t0.Add(time.Minute)); n != 1 {
		t.Fatalf("expired at the TTL: %d, want 1", n)
	}
	if got := h.s.CacheEntries("p", t0.Add(time.Minute)); len(got) != 1 || got[0].Key != ckey(2) {
		t.Fatalf("listed past the TTL: %+v", got)
	}
	// The leader's sweep removes it as of the command's time, not the clock.
	r := h.must(Command{Type: CmdCacheEvict, At: t0.Add(time.Minute), CacheEvict: &CacheEvictCmd{Sweep: true}}).Cache
	if r.Expired != 1 || h.s.CacheExpired(t0.Add(time.Hour)) != 0 {
		t.Fatalf("sweep expired %d; still expired: %d", r.Expired, h.s.CacheExpired(t0.Add(time.Hour)))
	}
	if got := h.lookup("p", ckey(1), owner("a", 1), t0.Add(61*time.Second)); got.Result != v1.CacheClaimed {
		t.Fatalf("after the TTL: %+v, want a miss", got)
	}
	// A lookup past the TTL misses even before any sweep.
	h.must(putCmd("p", ckey(3), map[string]string{"o": "3"}, t0.Add(2*time.Minute), time.Second, 0, 0))
	if got := h.lookup("p", ckey(3), owner("a", 1), t0.Add(2*time.Minute+time.Second)); got.Result != v1.CacheClaimed {
		t.Fatalf("lookup at the TTL: %+v, want a miss", got)
	}
}

func TestCacheEvictsLeastRecentlyUsedOverCap(t *testing.T) {
	tests := []struct {
		name       string
		maxEntries int
		maxBytes   int64
	}{
		// Every entry is 2 bytes ("o" + one digit).
		{"entries", 3, 0},
		{"bytes", 0, 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			t0 := h.now
			for i := 1; i <= 3; i++ {
				h.must(putCmd("p", ckey(i), map[string]string{"o": fmt.Sprint(i)}, t0.Add(time.Duration(i)*time.Second), 0, tc.maxEntries, tc.maxBytes))
			}
			// Another project's entries count against its own cap only.
			h.must(putCmd("q", ckey(9), map[string]string{"o": "9"}, t0, 0, tc.maxEntries, tc.maxBytes))
			// Using 1 makes 2 the least recently used.
			h.lookup("p", ckey(1), owner("a", 1), t0.Add(10*time.Second))
			r := h.must(putCmd("p", ckey(4), map[string]string{"o": "4"}, t0.Add(11*time.Second), 0, tc.maxEntries, tc.maxBytes)).Cache
			if r.Evicted != 1 {
				t.Fatalf("evicted %d, want 1", r.Evicted)
			}
			var keys []string
			for _, e := range h.s.CacheEntries("p", t0.Add(12*time.Second)) {
				keys = append(keys, e.Key)
			}
			if want := []string{ckey(3), ckey(1), ckey(4)}; !reflect.DeepEqual(keys, want) {
				t.Fatalf("entries (LRU first) %v, want %v", keys, want)
			}
			if u := h.s.CacheUsage(); u["p"] != (CacheUsage{Entries: 3, Bytes: 6}) || u["q"] != (CacheUsage{Entries: 1, Bytes: 2}) {
				t.Fatalf("usage %+v", u)
			}
		})
	}
}

func TestCacheCommandsRefuseBadInput(t *testing.T) {
	h := newHarness(t)
	k := ckey(1)
	tests := []struct {
		name string
		cmd  Command
		want error
	}{
		{"no payload", Command{Type: CmdCacheClaim}, v1.ErrInvalid},
		{"key not a digest", claimCmd("p", "../etc", owner("a", 1), h.now), v1.ErrInvalid},
		{"bad project", claimCmd("P_x", k, owner("a", 1), h.now), v1.ErrInvalid},
		{"claim without node", Command{Type: CmdCacheClaim, CacheClaim: &CacheClaimCmd{Key: k, Project: "p", Claim: true, ClaimFor: time.Second}}, v1.ErrInvalid},
		{"entry over the byte cap", putCmd("p", k, map[string]string{"o": "123456"}, h.now, 0, 0, 4), v1.ErrInvalid},
		{"evict unknown", Command{Type: CmdCacheEvict, CacheEvict: &CacheEvictCmd{Key: k, Project: "p"}}, ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r := h.apply(tc.cmd); !errors.Is(r.Err, tc.want) {
				t.Fatalf("got %v, want %v", r.Err, tc.want)
			}
			if u := h.s.CacheUsage(); len(u) != 0 {
				t.Fatalf("a refused command changed the cache: %+v", u)
			}
		})
	}
}

func TestCacheEvictByName(t *testing.T) {
	h := newHarness(t)
	h.must(putCmd("p", ckey(1), map[string]string{"o": "1"}, h.now, 0, 0, 0))
	r := h.must(Command{Type: CmdCacheEvict, CacheEvict: &CacheEvictCmd{Key: ckey(1), Project: "p"}}).Cache
	if r.Evicted != 1 {
		t.Fatalf("evicted %d", r.Evicted)
	}
	if _, ok := h.s.CacheKeyStatus("p", ckey(1), h.now); ok {
		t.Fatal("entry still there")
	}
}

// cacheDump is the cache part of a state, indexes included.
type cacheDump struct {
	Entries     map[string]v1.CacheEntry
	Claims      map[string]v1.CacheClaim
	LRU         map[string][]cacheItem
	Expiry      []cacheItem
	ClaimExpiry []cacheItem
	Bytes       map[string]int64
}

func dumpCache(s *State) cacheDump {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := cacheDump{Entries: map[string]v1.CacheEntry{}, Claims: map[string]v1.CacheClaim{}, LRU: map[string][]cacheItem{},
		Expiry: s.cache.expiry.All(), ClaimExpiry: s.cache.claimExpiry.All(), Bytes: s.cache.bytes}
	for id, e := range s.cache.entries {
		d.Entries[id] = *cloneCacheEntry(e)
	}
	for id, c := range s.cache.claims {
		d.Claims[id] = *c
	}
	for p, set := range s.cache.lru {
		d.LRU[p] = set.All()
	}
	return d
}

// addCache fills a harness's cache with entries (some with a TTL, in two
// projects, some used) and claims.
func addCache(h *fsmHarness, n int) {
	t0 := h.now
	for i := 0; i < n; i++ {
		ttl := time.Duration(0)
		if i%2 == 0 {
			ttl = time.Hour
		}
		h.must(putCmd(fmt.Sprintf("proj%d", i%2), ckey(i), map[string]string{"o": fmt.Sprint(i)}, t0.Add(time.Duration(i)*time.Second), ttl, 0, 0))
	}
	h.lookup("proj0", ckey(0), owner("a", 1), t0.Add(time.Duration(n)*time.Second))
	h.lookup("proj1", ckey(n+1), owner("b", 2), t0.Add(time.Duration(n)*time.Second))
}

func TestCacheSurvivesSnapshot(t *testing.T) {
	h := newHarness(t)
	addCache(h, 20)
	data := snapshotBytes(t, h.s)
	restored := NewState()
	if err := restored.restore(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if a, b := dumpCache(h.s), dumpCache(restored); !reflect.DeepEqual(a, b) {
		t.Fatalf("cache differs after restore:\n%+v\n%+v", a, b)
	}
}
