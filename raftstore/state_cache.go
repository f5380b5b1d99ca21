package raftstore

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// The federation-wide task cache: node outputs stored by cache key, scoped
// by project, and the claims of runs computing a key right now. Like the
// rest of the state it changes only through commands, and every time it
// looks at comes from Command.At: TTL expiry and LRU order are the same on
// every replica. Cache commands do not tick Changed: nothing the scheduler
// decides depends on the cache.

// CacheClaimCmd looks a key up and, on a miss, may claim it (CmdCacheClaim).
// It is a command rather than a read because a hit moves the entry in the
// LRU order and a claim must be decided by one leader for all clusters.
type CacheClaimCmd struct {
	Key     string        `json:"key"`
	Project string        `json:"project"`
	Claim   bool          `json:"claim,omitempty"`
	Owner   v1.CacheOwner `json:"owner"`
	// ClaimFor is how long a new claim lasts from Command.At.
	ClaimFor time.Duration `json:"claimFor,omitempty"`
}

// CachePutCmd stores a node's outputs (CmdCachePut). The limits travel with
// the command, so every replica evicts the same entries whatever its flags.
type CachePutCmd struct {
	Key     string            `json:"key"`
	Project string            `json:"project"`
	Outputs map[string]string `json:"outputs"`
	Owner   v1.CacheOwner     `json:"owner"`
	// TTL is how long the entry lives from Command.At; zero is forever.
	TTL time.Duration `json:"ttl,omitempty"`
	// MaxEntries and MaxBytes cap the project's entries; zero is no cap.
	// The least recently used entries go first.
	MaxEntries int   `json:"maxEntries,omitempty"`
	MaxBytes   int64 `json:"maxBytes,omitempty"`
}

// CacheEvictCmd removes cache state (CmdCacheEvict). With Sweep it removes
// every entry and claim expired by Command.At (the leader's expiry loop);
// with ReleaseBy only the claim that owner holds on Key; otherwise Key's
// entry and claim.
type CacheEvictCmd struct {
	Key       string         `json:"key,omitempty"`
	Project   string         `json:"project,omitempty"`
	ReleaseBy *v1.CacheOwner `json:"releaseBy,omitempty"`
	Sweep     bool           `json:"sweep,omitempty"`
}

// CacheOutcome is the result of a cache command. It is built fresh for the
// caller and shares nothing with the state.
type CacheOutcome struct {
	// Lookup answers CmdCacheClaim (RetryAfter is left to the caller).
	Lookup v1.CacheLookupResponse
	// Entry is the entry stored under the key after CmdCachePut.
	Entry *v1.CacheEntry
	// Stored is true when CmdCachePut stored a new entry, false when one
	// was there already (the first outputs stand).
	Stored bool
	// Expired counts the entries the command removed because their TTL
	// ran out (every cache command sweeps those first).
	Expired int
	// Evicted counts the entries it removed for room or by name.
	Evicted int
	// Released is true when a claim was dropped.
	Released bool
}

// cacheItem orders an index of the cache: by time, then id.
type cacheItem struct {
	at int64
	id string
}

func compareCacheItems(a, b cacheItem) int {
	if c := cmp.Compare(a.at, b.at); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}

// cacheState is the cache part of State. Stored entries and claims are
// never mutated: a change stores a new version, so snapshots may hold the
// pointers.
type cacheState struct {
	entries map[string]*v1.CacheEntry // by cacheID
	claims  map[string]*v1.CacheClaim // by cacheID
	// lru orders each project's entries by LastUsedAt.
	lru map[string]*sortedSet[cacheItem]
	// expiry orders the entries that have a TTL by ExpiresAt; claimExpiry
	// orders claims by Deadline.
	expiry      *sortedSet[cacheItem]
	claimExpiry *sortedSet[cacheItem]
	// bytes is each project's total entry Size.
	bytes map[string]int64
}

func newCacheState() cacheState {
	return cacheState{
		entries:     map[string]*v1.CacheEntry{},
		claims:      map[string]*v1.CacheClaim{},
		lru:         map[string]*sortedSet[cacheItem]{},
		expiry:      newSortedSet(compareCacheItems),
		claimExpiry: newSortedSet(compareCacheItems),
		bytes:       map[string]int64{},
	}
}

// cacheID is the identity of a key within its project. Project names are
// DNS labels and keys hex, so "/" cannot be part of either.
func cacheID(project, key string) string { return project + "/" + key }

// cacheEntrySize is what an entry counts against its project's byte cap.
func cacheEntrySize(outputs map[string]string) int64 {
	var n int64
	for k, v := range outputs {
		n += int64(len(k) + len(v))
	}
	return n
}

func (c *cacheState) putEntry(e *v1.CacheEntry) {
	id := cacheID(e.Project, e.Key)
	if old, ok := c.entries[id]; ok {
		c.unindexEntry(id, old)
	}
	c.entries[id] = e
	set, ok := c.lru[e.Project]
	if !ok {
		set = newSortedSet(compareCacheItems)
		c.lru[e.Project] = set
	}
	set.Insert(cacheItem{e.LastUsedAt.UnixNano(), id})
	if !e.ExpiresAt.IsZero() {
		c.expiry.Insert(cacheItem{e.ExpiresAt.UnixNano(), id})
	}
	c.bytes[e.Project] += e.Size
}

func (c *cacheState) unindexEntry(id string, e *v1.CacheEntry) {
	if set, ok := c.lru[e.Project]; ok {
		set.Delete(cacheItem{e.LastUsedAt.UnixNano(), id})
		if set.Len() == 0 {
			delete(c.lru, e.Project)
		}
	}
	if !e.ExpiresAt.IsZero() {
		c.expiry.Delete(cacheItem{e.ExpiresAt.UnixNano(), id})
	}
	if c.bytes[e.Project] -= e.Size; c.bytes[e.Project] == 0 {
		delete(c.bytes, e.Project)
	}
}

func (c *cacheState) removeEntry(id string) bool {
	e, ok := c.entries[id]
	if !ok {
		return false
	}
	c.unindexEntry(id, e)
	delete(c.entries, id)
	return true
}

func (c *cacheState) putClaim(cl *v1.CacheClaim) {
	id := cacheID(cl.Project, cl.Key)
	c.removeClaim(id)
	c.claims[id] = cl
	c.claimExpiry.Insert(cacheItem{cl.Deadline.UnixNano(), id})
}

func (c *cacheState) removeClaim(id string) bool {
	cl, ok := c.claims[id]
	if !ok {
		return false
	}
	c.claimExpiry.Delete(cacheItem{cl.Deadline.UnixNano(), id})
	delete(c.claims, id)
	return true
}

// expire removes the entries whose TTL ran out and the claims past their
// deadline, as of at. It returns how many entries it removed.
func (c *cacheState) expire(at time.Time) int {
	now := at.UnixNano()
	var ids []string
	c.expiry.Ascend(cacheItem{}, false, func(it cacheItem) bool {
		if it.at > now {
			return false
		}
		ids = append(ids, it.id)
		return true
	})
	for _, id := range ids {
		c.removeEntry(id)
	}
	var claims []string
	c.claimExpiry.Ascend(cacheItem{}, false, func(it cacheItem) bool {
		if it.at > now {
			return false
		}
		claims = append(claims, it.id)
		return true
	})
	for _, id := range claims {
		c.removeClaim(id)
	}
	return len(ids)
}

// validCacheRef checks the key and project of a cache command.
func validCacheRef(c *Command, key, project string) *Result {
	if !v1.ValidCacheKey(key) {
		r := invalidCmd(c, fmt.Sprintf("cache key %q is not a 64-digit hex digest", key))
		return &r
	}
	if err := v1.ValidateName("project", project); err != nil {
		r := invalidCmd(c, err.Error())
		return &r
	}
	return nil
}

func (s *State) applyCacheClaim(c *Command) Result {
	q := c.CacheClaim
	if q == nil {
		return invalidCmd(c, "no cache claim")
	}
	if r := validCacheRef(c, q.Key, q.Project); r != nil {
		return *r
	}
	if q.Claim && (q.ClaimFor <= 0 || q.Owner.Node == "") {
		return invalidCmd(c, "a claim needs an owner node and a positive duration")
	}
	out := &CacheOutcome{Expired: s.cache.expire(c.At)}
	id := cacheID(q.Project, q.Key)
	if e, ok := s.cache.entries[id]; ok {
		n := *e
		n.Hits++
		if c.At.After(n.LastUsedAt) {
			n.LastUsedAt = c.At
		}
		s.cache.putEntry(&n)
		out.Lookup = v1.CacheLookupResponse{Result: v1.CacheHit, Outputs: maps.Clone(n.Outputs)}
		return Result{Cache: out}
	}
	if !q.Claim {
		out.Lookup = v1.CacheLookupResponse{Result: v1.CacheMiss}
		return Result{Cache: out}
	}
	if cl, ok := s.cache.claims[id]; ok && cl.Owner != q.Owner {
		owner := cl.Owner
		out.Lookup = v1.CacheLookupResponse{Result: v1.CacheWait, Owner: &owner, ClaimDeadline: cl.Deadline}
		return Result{Cache: out}
	}
	// A new claim, or the owner renewing its own.
	cl := &v1.CacheClaim{Key: q.Key, Project: q.Project, Owner: q.Owner, Deadline: c.At.Add(q.ClaimFor)}
	s.cache.putClaim(cl)
	owner := cl.Owner
	out.Lookup = v1.CacheLookupResponse{Result: v1.CacheClaimed, Owner: &owner, ClaimDeadline: cl.Deadline}
	return Result{Cache: out}
}

func (s *State) applyCachePut(c *Command) Result {
	p := c.CachePut
	if p == nil {
		return invalidCmd(c, "no cache entry")
	}
	if r := validCacheRef(c, p.Key, p.Project); r != nil {
		return *r
	}
	if p.TTL < 0 || p.MaxEntries < 0 || p.MaxBytes < 0 {
		return invalidCmd(c, "negative ttl or cap")
	}
	size := cacheEntrySize(p.Outputs)
	if p.MaxBytes > 0 && size > p.MaxBytes {
		return refuse(v1.ErrInvalid, "cache put %s: outputs of %d bytes exceed the project's cap of %d", p.Key, size, p.MaxBytes)
	}
	out := &CacheOutcome{Expired: s.cache.expire(c.At)}
	id := cacheID(p.Project, p.Key)
	out.Released = s.cache.removeClaim(id)
	if e, ok := s.cache.entries[id]; ok {
		// The same key means the same logic and inputs: the first outputs
		// stand, so every consumer sees one answer.
		out.Entry = cloneCacheEntry(e)
		return Result{Cache: out}
	}
	e := &v1.CacheEntry{
		Key: p.Key, Project: p.Project, Outputs: p.Outputs, Size: size, Producer: p.Owner,
		CreatedAt: c.At, LastUsedAt: c.At,
	}
	if e.Outputs == nil {
		e.Outputs = map[string]string{}
	}
	if p.TTL > 0 {
		e.ExpiresAt = c.At.Add(p.TTL)
	}
	s.cache.putEntry(e)
	out.Stored = true
	out.Evicted += s.cache.evictOverCap(p.Project, id, p.MaxEntries, p.MaxBytes)
	out.Entry = cloneCacheEntry(e)
	return Result{Cache: out}
}

// evictOverCap removes the project's least recently used entries, sparing
// keep, until it is within the caps. It returns how many it removed.
func (c *cacheState) evictOverCap(project, keep string, maxEntries int, maxBytes int64) int {
	set := c.lru[project]
	over := func() bool {
		return (maxEntries > 0 && set.Len() > maxEntries) || (maxBytes > 0 && c.bytes[project] > maxBytes)
	}
	if !over() {
		return 0
	}
	var victims []string
	n, b := set.Len(), c.bytes[project]
	set.Ascend(cacheItem{}, false, func(it cacheItem) bool {
		if it.id == keep {
			return true
		}
		victims = append(victims, it.id)
		n--
		b -= c.entries[it.id].Size
		return (maxEntries > 0 && n > maxEntries) || (maxBytes > 0 && b > maxBytes)
	})
	for _, id := range victims {
		c.removeEntry(id)
	}
	return len(victims)
}

func (s *State) applyCacheEvict(c *Command) Result {
	q := c.CacheEvict
	if q == nil {
		return invalidCmd(c, "no cache eviction")
	}
	if q.Sweep {
		return Result{Cache: &CacheOutcome{Expired: s.cache.expire(c.At)}}
	}
	if r := validCacheRef(c, q.Key, q.Project); r != nil {
		return *r
	}
	id := cacheID(q.Project, q.Key)
	if q.ReleaseBy != nil {
		cl, ok := s.cache.claims[id]
		if !ok || cl.Owner != *q.ReleaseBy {
			// Released already, run out, or taken over: nothing to do.
			return Result{Cache: &CacheOutcome{}}
		}
		s.cache.removeClaim(id)
		return Result{Cache: &CacheOutcome{Released: true}}
	}
	out := &CacheOutcome{Released: s.cache.removeClaim(id)}
	if s.cache.removeEntry(id) {
		out.Evicted = 1
	}
	if out.Evicted == 0 && !out.Released {
		return refuse(ErrNotFound, "evict cache key %s of project %s: not stored", q.Key, q.Project)
	}
	return Result{Cache: out}
}

func cloneCacheEntry(e *v1.CacheEntry) *v1.CacheEntry {
	if e == nil {
		return nil
	}
	c := *e
	c.Outputs = maps.Clone(e.Outputs)
	return &c
}

// CacheEntries returns copies of the project's cache entries, least
// recently used first; with project "" every project's, by project. Entries
// past their TTL that no command has removed yet are left out.
func (s *State) CacheEntries(project string, at time.Time) []v1.CacheEntry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	projects := []string{project}
	if project == "" {
		projects = make([]string, 0, len(s.cache.lru))
		for p := range s.cache.lru {
			projects = append(projects, p)
		}
		slices.Sort(projects)
	}
	var out []v1.CacheEntry
	for _, p := range projects {
		s.cache.lru[p].Ascend(cacheItem{}, false, func(it cacheItem) bool {
			e := s.cache.entries[it.id]
			if !cacheExpired(e, at) {
				out = append(out, *cloneCacheEntry(e))
			}
			return true
		})
	}
	return out
}

// CacheKeyStatus returns the entry and claim of a key, as of at (an
// expired entry or claim counts as absent). ok is false when there is
// neither.
func (s *State) CacheKeyStatus(project, key string, at time.Time) (st v1.CacheEntryStatus, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id := cacheID(project, key)
	if e, found := s.cache.entries[id]; found && !cacheExpired(e, at) {
		st.Entry = cloneCacheEntry(e)
	}
	if cl, found := s.cache.claims[id]; found && at.Before(cl.Deadline) {
		c := *cl
		st.Claim = &c
	}
	return st, st.Entry != nil || st.Claim != nil
}

// CacheExpired counts the entries and claims that have run out as of at
// and are still stored: the leader sweeps them when there are any.
func (s *State) CacheExpired(at time.Time) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := at.UnixNano()
	n := 0
	for _, set := range []*sortedSet[cacheItem]{s.cache.expiry, s.cache.claimExpiry} {
		set.Ascend(cacheItem{}, false, func(it cacheItem) bool {
			if it.at > now {
				return false
			}
			n++
			return true
		})
	}
	return n
}

// CacheUsage is one project's share of the cache.
type CacheUsage struct {
	Entries int
	Bytes   int64
}

// CacheUsage returns each project's entry count and bytes.
func (s *State) CacheUsage() map[string]CacheUsage {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]CacheUsage, len(s.cache.lru))
	for p, set := range s.cache.lru {
		out[p] = CacheUsage{Entries: set.Len(), Bytes: s.cache.bytes[p]}
	}
	return out
}

func cacheExpired(e *v1.CacheEntry, at time.Time) bool {
	return !e.ExpiresAt.IsZero() && !at.Before(e.ExpiresAt)
}

// cacheSnapshot is the cache part of a snapshot: entries, then claims, each
// ordered by id so the bytes of a snapshot are a function of the state.
type cacheSnapshot struct {
	entries []*v1.CacheEntry
	claims  []*v1.CacheClaim
}

// snapshotCacheLocked captures the cache's pointers. Callers hold mu.
func (s *State) snapshotCacheLocked() cacheSnapshot {
	ids := make([]string, 0, len(s.cache.entries))
	for id := range s.cache.entries {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	snap := cacheSnapshot{entries: make([]*v1.CacheEntry, len(ids))}
	for i, id := range ids {
		snap.entries[i] = s.cache.entries[id]
	}
	ids = ids[:0]
	for id := range s.cache.claims {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	snap.claims = make([]*v1.CacheClaim, len(ids))
	for i, id := range ids {
		snap.claims[i] = s.cache.claims[id]
	}
	return snap
}

// write writes the cache records, one JSON document a line.
func (cs cacheSnapshot) write(enc *json.Encoder) error {
	for _, e := range cs.entries {
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("write snapshot cache entry %s/%s: %w", e.Project, e.Key, err)
		}
	}
	for _, cl := range cs.claims {
		if err := enc.Encode(cl); err != nil {
			return fmt.Errorf("write snapshot cache claim %s/%s: %w", cl.Project, cl.Key, err)
		}
	}
	return nil
}

// restoreCache reads the cache records that follow the executions and
// rebuilds the cache's indexes. s is a fresh state being restored.
func (s *State) restoreCache(entries, claims int, readLine func(what string, v any) error) error {
	for i := 0; i < entries; i++ {
		e := new(v1.CacheEntry)
		if err := readLine(fmt.Sprintf("cache entry %d of %d", i+1, entries), e); err != nil {
			return err
		}
		id := cacheID(e.Project, e.Key)
		if _, dup := s.cache.entries[id]; dup {
			return fmt.Errorf("restore snapshot: cache entry %s twice", id)
		}
		s.cache.putEntry(e)
	}
	for i := 0; i < claims; i++ {
		cl := new(v1.CacheClaim)
		if err := readLine(fmt.Sprintf("cache claim %d of %d", i+1, claims), cl); err != nil {
			return err
		}
		s.cache.putClaim(cl)
	}
	return nil
}
