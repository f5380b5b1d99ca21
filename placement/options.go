package placement

import (
	"errors"
	"fmt"
	"strings"
)

// Options tune placement. The zero value is valid: no quotas, equal
// project weights, no spot preference, no best-effort headroom, no cap.
type Options struct {
	// ProjectWeights are DRF weights; absent or not positive means 1.
	ProjectWeights map[string]float64
	// ProjectQuota caps live executions per project; absent falls back to
	// DefaultQuota, 0 means unlimited.
	ProjectQuota map[string]int
	// DefaultQuota applies to projects absent from ProjectQuota; 0 means
	// unlimited.
	DefaultQuota int
	// SpotLabel marks spot clusters as "key=value", or "key" for any value.
	SpotLabel string
	// BestEffortHeadroom is the fraction of allocatable, in every resource,
	// a cluster must keep free after taking a best-effort execution.
	BestEffortHeadroom float64
	// MaxDecisions caps placements per round; 0 means unlimited.
	MaxDecisions int
}

// Validate reports options that cannot mean what the caller wants.
func (o *Options) Validate() error {
	var errs []error
	for p, w := range o.ProjectWeights {
		if w < 0 {
			errs = append(errs, fmt.Errorf("project weight %s=%g must not be negative", p, w))
		}
	}
	for p, q := range o.ProjectQuota {
		if q < 0 {
			errs = append(errs, fmt.Errorf("project quota %s=%d must not be negative", p, q))
		}
	}
	if o.DefaultQuota < 0 {
		errs = append(errs, fmt.Errorf("default quota %d must not be negative", o.DefaultQuota))
	}
	if o.BestEffortHeadroom < 0 || o.BestEffortHeadroom >= 1 {
		errs = append(errs, fmt.Errorf("best-effort headroom %g: want a fraction in [0,1)", o.BestEffortHeadroom))
	}
	if o.MaxDecisions < 0 {
		errs = append(errs, fmt.Errorf("max decisions %d must not be negative", o.MaxDecisions))
	}
	if k, _, _ := strings.Cut(o.SpotLabel, "="); o.SpotLabel != "" && k == "" {
		errs = append(errs, fmt.Errorf("spot label %q: want key=value or key", o.SpotLabel))
	}
	return errors.Join(errs...)
}

// projectWeight is the DRF weight of project p.
func (o *Options) projectWeight(p string) float64 {
	if w, ok := o.ProjectWeights[p]; ok && w > 0 {
		return w
	}
	return 1
}

// quota is the live-execution cap of project p, 0 for none.
func (o *Options) quota(p string) int {
	if q, ok := o.ProjectQuota[p]; ok {
		return max(q, 0)
	}
	return max(o.DefaultQuota, 0)
}

// spotMatcher tells spot clusters by their labels.
type spotMatcher struct {
	key, value string
	anyValue   bool
}

func newSpotMatcher(label string) spotMatcher {
	k, v, ok := strings.Cut(label, "=")
	return spotMatcher{key: k, value: v, anyValue: !ok}
}

// enabled reports whether a spot label was configured.
func (m spotMatcher) enabled() bool { return m.key != "" }

func (m spotMatcher) matches(labels map[string]string) bool {
	if m.key == "" {
		return false
	}
	v, ok := labels[m.key]
	return ok && (m.anyValue || v == m.value)
}
