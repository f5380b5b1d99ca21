package v1alpha1

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// cacheKeyScheme is hashed into every cache key: a change to what the key
// covers bumps it, so keys of the old scheme can never be mistaken for new
// ones.
const cacheKeyScheme = "federation.dev/task-cache/v1"

// cacheKeyMaterial is what a cache key covers: the task's logic (image,
// command, args, environment), the cache version the author bumps when the
// logic changes behind the same image, and the resolved input values. It
// leaves out what does not change the outputs: the node's id and place in
// the DAG, its resources, retries and timeout.
type cacheKeyMaterial struct {
	Scheme  string            `json:"scheme"`
	Image   string            `json:"image"`
	Command []string          `json:"command"`
	Args    []string          `json:"args"`
	Env     map[string]string `json:"env"`
	Version string            `json:"version"`
	Inputs  map[string]string `json:"inputs"`
}

// CacheKey returns the cache key of one run of node with the given resolved
// input values (input name to value): a hex SHA-256. It is pure, so the
// agent (which resolves the inputs) and the control plane (which stores by
// key) agree on it. A node without Cache has no key: CacheKey returns "".
// encoding/json sorts map keys, so the rendering is canonical; nil and empty
// slices and maps hash alike.
func CacheKey(node TaskNode, resolvedInputs map[string]string) string {
	if node.Cache == nil {
		return ""
	}
	m := cacheKeyMaterial{
		Scheme:  cacheKeyScheme,
		Image:   node.Image,
		Command: nonNil(node.Command),
		Args:    nonNil(node.Args),
		Env:     nonNilMap(node.Env),
		Version: node.Cache.Version,
		Inputs:  nonNilMap(resolvedInputs),
	}
	b, err := json.Marshal(m)
	if err != nil {
		// Strings, slices and maps of strings always encode.
		panic("cache key: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// ValidCacheKey reports whether k has the shape CacheKey produces (64
// lower-case hex digits), so that nothing else reaches the replicated state.
func ValidCacheKey(k string) bool {
	if len(k) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// CacheOwner names the node run that claimed a cache key or produced its
// entry.
type CacheOwner struct {
	Execution ExecutionKey `json:"execution"`
	Attempt   int          `json:"attempt"`
	Node      string       `json:"node"`
	Cluster   string       `json:"cluster,omitempty"`
}

// CacheLookupRequest asks the federation-wide task cache for a key. Entries
// are scoped by project: one project never sees another's outputs.
type CacheLookupRequest struct {
	Key     string `json:"key"`
	Project string `json:"project"`
	// Claim asks, on a miss, for the right to compute the key: other
	// lookups of it are told to wait until the claimant puts its outputs,
	// releases the claim, or the claim runs out.
	Claim    bool       `json:"claim,omitempty"`
	Claimant CacheOwner `json:"claimant"`
}

// CacheLookupResult is the outcome of a lookup.
type CacheLookupResult string

// Lookup outcomes.
const (
	// CacheHit: the outputs are stored; the node need not run.
	CacheHit CacheLookupResult = "hit"
	// CacheClaimed: a miss, and the caller now holds the claim: it runs the
	// node and puts the outputs (or releases the claim if the node fails).
	CacheClaimed CacheLookupResult = "claimed"
	// CacheWait: another run holds the claim; ask again after RetryAfter.
	CacheWait CacheLookupResult = "wait"
	// CacheMiss: not stored, and no claim was asked for.
	CacheMiss CacheLookupResult = "miss"
)

// CacheLookupResponse answers a CacheLookupRequest.
type CacheLookupResponse struct {
	Result CacheLookupResult `json:"result"`
	// Outputs are the stored outputs of a hit.
	Outputs map[string]string `json:"outputs,omitempty"`
	// Owner holds the claim (claimed, wait).
	Owner *CacheOwner `json:"owner,omitempty"`
	// ClaimDeadline is when the claim runs out (claimed, wait).
	ClaimDeadline time.Time `json:"claimDeadline,omitempty"`
	// RetryAfter is how soon a waiting caller should ask again.
	RetryAfter Duration `json:"retryAfter,omitempty"`
}

// CachePutRequest stores a node's outputs under its key; it releases the
// key's claim, whoever holds it.
type CachePutRequest struct {
	Key     string            `json:"key"`
	Project string            `json:"project"`
	Outputs map[string]string `json:"outputs"`
	Owner   CacheOwner        `json:"owner"`
}

// CacheReleaseRequest gives up a claim without outputs (the node failed):
// waiting runs may then claim the key at once. It releases only a claim
// that Owner still holds. Sent to POST /cache/{key}/release.
type CacheReleaseRequest struct {
	Project string     `json:"project"`
	Owner   CacheOwner `json:"owner"`
}

// CacheEntry is one stored result of the task cache.
type CacheEntry struct {
	Key     string            `json:"key"`
	Project string            `json:"project"`
	Outputs map[string]string `json:"outputs"`
	// Size is what the entry counts against its project's byte cap: the
	// lengths of its output names and values.
	Size       int64      `json:"size"`
	Producer   CacheOwner `json:"producer"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt time.Time  `json:"lastUsedAt"`
	ExpiresAt  time.Time  `json:"expiresAt"`
	Hits       int64      `json:"hits"`
}

// CacheList is the cache entries of a project, least recently used first.
type CacheList struct {
	Items []CacheEntry `json:"items"`
}

// CacheClaim is a run's claim on a key it is computing.
type CacheClaim struct {
	Key      string     `json:"key"`
	Project  string     `json:"project"`
	Owner    CacheOwner `json:"owner"`
	Deadline time.Time  `json:"deadline"`
}

// CacheEntryStatus is one key's state: its stored entry and the claim on
// it, either or both.
type CacheEntryStatus struct {
	Entry *CacheEntry `json:"entry,omitempty"`
	Claim *CacheClaim `json:"claim,omitempty"`
}
