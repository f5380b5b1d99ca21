package clusteragent

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/federation-dev/federation/federation/client"
)

// backoff is capped exponential backoff with full jitter: the n-th wait is
// uniform in [0, min(max, base·2ⁿ)], which spreads the retries of many
// agents after an outage of the control plane instead of synchronising them.
type backoff struct {
	base, max time.Duration
	n         int
}

func newBackoff(base, max time.Duration) *backoff { return &backoff{base: base, max: max} }

// next returns how long to wait before the next try. An answer that says
// when to retry (Retry-After) is honoured as a floor.
func (b *backoff) next(err error) time.Duration {
	ceil := b.max
	if b.n < 62 && b.base<<b.n > 0 && b.base<<b.n < b.max {
		ceil = b.base << b.n
	}
	b.n++
	d := time.Duration(rand.Int64N(int64(ceil) + 1))
	var ae *client.APIError
	if errors.As(err, &ae) && ae.RetryAfter > d {
		d = min(ae.RetryAfter, b.max)
	}
	return d
}

// reset starts over after a success.
func (b *backoff) reset() { b.n = 0 }

// sleep waits for d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
