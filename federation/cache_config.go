package federation

import (
	"errors"
	"fmt"
	"time"
)

// CacheConfig tunes the federation-wide task cache. The limits travel in
// each put command, so replicas with other flags still agree on the state.
type CacheConfig struct {
	// TTL is how long an entry lives after it was stored; zero keeps
	// entries until they are evicted for room or by hand.
	TTL time.Duration
	// MaxEntriesPerProject and MaxBytesPerProject cap each project's share:
	// a put over either evicts the project's least recently used entries.
	// Zero is no cap.
	MaxEntriesPerProject int
	MaxBytesPerProject   int64
	// ClaimTimeout is how long a claim on a key holds other runs of it
	// back; past it they may claim the key and run themselves.
	ClaimTimeout time.Duration
	// WaitRetry is how soon a run told to wait should ask again.
	WaitRetry time.Duration
	// SweepInterval is how often the leader evicts expired entries and
	// claims.
	SweepInterval time.Duration
}

// DefaultCacheConfig returns the cache defaults.
func DefaultCacheConfig() CacheConfig {
	return CacheConfig{
		TTL:                  7 * 24 * time.Hour,
		MaxEntriesPerProject: 100_000,
		MaxBytesPerProject:   256 << 20,
		ClaimTimeout:         30 * time.Minute,
		WaitRetry:            2 * time.Second,
		SweepInterval:        time.Minute,
	}
}

// Validate checks the cache configuration.
func (c *CacheConfig) Validate() error {
	var errs []error
	if c.TTL < 0 {
		errs = append(errs, fmt.Errorf("cache ttl %s must not be negative", c.TTL))
	}
	if c.MaxEntriesPerProject < 0 || c.MaxBytesPerProject < 0 {
		errs = append(errs, errors.New("cache caps must not be negative"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"cache claim timeout", c.ClaimTimeout}, {"cache wait retry", c.WaitRetry}, {"cache sweep interval", c.SweepInterval}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s %s must be positive", d.name, d.v))
		}
	}
	return errors.Join(errs...)
}
