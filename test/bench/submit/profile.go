package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"sync"
	"time"
)

// profiler fetches CPU profiles from federation replicas started with
// --pprof, over the measured phase of one point: it waits out the warm-up,
// then asks every replica for a profile as long as the measurement. The
// files are named <dir>/fed-c<clients>-<role>-<id>.pprof, role being leader
// or follower, for `go tool pprof`. The benchmark's own process (the
// clients) is profiled too, into <dir>/fed-c<clients>-client.pprof. The
// leader also gives a 2-second execution trace, <dir>/fed-c<clients>-leader.trace,
// for `go tool trace`: where a submission waits when no CPU is busy. Each
// replica's allocations over the phase go to <...>-<id>.allocs.pprof.
type profiler struct {
	self *os.File // the client's own profile, open while it runs
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
}

// startProfiles begins fetching; wait returns once every profile is written.
func startProfiles(ctx context.Context, dir string, clients int, leaderID string, urls map[string]string, warmup, d time.Duration) *profiler {
	p := &profiler{}
	if f, err := os.Create(filepath.Join(dir, fmt.Sprintf("fed-c%d-client.pprof", clients))); err != nil {
		p.errs = append(p.errs, fmt.Errorf("client profile: %w", err))
	} else if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		p.errs = append(p.errs, fmt.Errorf("client profile: %w", err))
	} else {
		p.self = f
	}
	ids := make([]string, 0, len(urls))
	for id := range urls {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	secs := max(1, int(d.Round(time.Second)/time.Second))
	for _, id := range ids {
		role := "follower"
		if id == leaderID {
			role = "leader"
		}
		path := filepath.Join(dir, fmt.Sprintf("fed-c%d-%s-%s.pprof", clients, role, id))
		url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", urls[id], secs)
		p.fetch(ctx, url, path, warmup, time.Duration(secs)*time.Second)
		// What the replica allocated over the same window (a delta profile).
		p.fetch(ctx, fmt.Sprintf("%s/debug/pprof/allocs?seconds=%d", urls[id], secs),
			filepath.Join(dir, fmt.Sprintf("fed-c%d-%s-%s.allocs.pprof", clients, role, id)), warmup, time.Duration(secs)*time.Second)
		if id == leaderID {
			// Halfway through, so the trace sees steady load.
			p.fetch(ctx, urls[id]+"/debug/pprof/trace?seconds=2",
				filepath.Join(dir, fmt.Sprintf("fed-c%d-leader.trace", clients)), warmup+d/2, 2*time.Second)
		}
	}
	return p
}

func (p *profiler) fetch(ctx context.Context, url, path string, after, d time.Duration) {
	p.wg.Go(func() {
		if err := fetchProfile(ctx, url, path, after, d); err != nil {
			p.mu.Lock()
			p.errs = append(p.errs, err)
			p.mu.Unlock()
		}
	})
}

// wait waits for the profiles and returns the first error.
func (p *profiler) wait() error {
	p.wg.Wait()
	if p.self != nil {
		pprof.StopCPUProfile()
		if err := p.self.Close(); err != nil {
			p.errs = append(p.errs, fmt.Errorf("client profile: %w", err))
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.errs) > 0 {
		return p.errs[0]
	}
	return nil
}

func fetchProfile(ctx context.Context, url, path string, warmup, d time.Duration) error {
	select {
	case <-time.After(warmup):
	case <-ctx.Done():
		return ctx.Err()
	}
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("profile %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile %s: HTTP %d (was the server started with --pprof?)", url, resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("profile %s: %w", url, err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("profile %s: write %s: %w", url, path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("profile %s: write %s: %w", url, path, err)
	}
	return nil
}
