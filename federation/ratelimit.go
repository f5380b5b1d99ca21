package federation

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// submitLimiter bounds submissions per principal: one token bucket each,
// so that one tenant's script cannot flood the Raft log for everyone.
// Principals come from the token file, so the map is bounded by it.
type submitLimiter struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// newSubmitLimiter returns nil (no limit) when perSecond is not positive.
func newSubmitLimiter(perSecond float64, burst int) *submitLimiter {
	if perSecond <= 0 {
		return nil
	}
	return &submitLimiter{limit: rate.Limit(perSecond), burst: max(burst, 1), buckets: map[string]*rate.Limiter{}}
}

// allow takes one submission from key's bucket at now; when the bucket is
// empty it takes nothing and says how long until a submission would pass.
func (l *submitLimiter) allow(key string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	b, ok := l.buckets[key]
	if !ok {
		b = rate.NewLimiter(l.limit, l.burst)
		l.buckets[key] = b
	}
	l.mu.Unlock()
	r := b.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// retryAfterSeconds renders a wait as the whole seconds of Retry-After,
// rounded up so that a client that waits that long is let through.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
