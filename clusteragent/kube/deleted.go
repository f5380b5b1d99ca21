package kube

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// deletedTTL is how long the backend remembers a workflow it deleted: long
// enough for the session's second Delete of it (once for the accepted final
// report, once when the assignment list drops it), short enough to bound
// memory.
const deletedTTL = 5 * time.Minute

// recentDeletes remembers the workflows this backend deleted a moment ago,
// so that a repeated Delete whose target its cache no longer shows costs the
// API server nothing. A name deleted longer ago than deletedTTL is
// forgotten and a Delete of it writes again: always safe, since Delete is
// idempotent on the API server.
type recentDeletes struct {
	mu    sync.Mutex
	at    map[types.NamespacedName]time.Time
	queue []types.NamespacedName // in deletion order, for expiry
}

func (r *recentDeletes) add(nn types.NamespacedName, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.at == nil {
		r.at = map[types.NamespacedName]time.Time{}
	}
	r.expire(now)
	if _, ok := r.at[nn]; !ok {
		r.queue = append(r.queue, nn)
	}
	r.at[nn] = now
}

// has reports whether nn was deleted within deletedTTL.
func (r *recentDeletes) has(nn types.NamespacedName, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expire(now)
	_, ok := r.at[nn]
	return ok
}

// forget drops nn: a workflow of that name was created again.
func (r *recentDeletes) forget(nn types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.at, nn)
}

func (r *recentDeletes) expire(now time.Time) {
	n := 0
	for _, nn := range r.queue {
		at, ok := r.at[nn]
		if ok && now.Sub(at) < deletedTTL {
			break
		}
		if ok {
			delete(r.at, nn)
		}
		n++
	}
	r.queue = r.queue[n:]
}
