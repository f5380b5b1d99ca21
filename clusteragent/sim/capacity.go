package sim

import (
	"errors"
	"fmt"
	"strings"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// ParseCapacity parses a capacity such as "cpu=64,memory=256Gi,pods=500,gpu=0"
// into amounts. Values are Kubernetes quantities; dimensions that are left
// out are zero.
func ParseCapacity(s string) (v1.Amounts, error) {
	var a v1.Amounts
	if strings.TrimSpace(s) == "" {
		return a, errors.New("capacity is empty: want cpu=64,memory=256Gi,pods=500")
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, val, ok := strings.Cut(part, "=")
		k, val = strings.TrimSpace(k), strings.TrimSpace(val)
		if !ok || val == "" {
			return v1.Amounts{}, fmt.Errorf("capacity %q: %q is not name=quantity", s, part)
		}
		if seen[k] {
			return v1.Amounts{}, fmt.Errorf("capacity %q: %s given twice", s, k)
		}
		seen[k] = true
		q, err := resource.ParseQuantity(val)
		if err != nil {
			return v1.Amounts{}, fmt.Errorf("capacity %q: %s: %w", s, k, err)
		}
		if q.Sign() < 0 {
			return v1.Amounts{}, fmt.Errorf("capacity %q: %s must not be negative", s, k)
		}
		switch k {
		case "cpu":
			a.MilliCPU = q.MilliValue()
		case "memory":
			a.MemoryBytes = q.Value()
		case "gpu":
			a.GPU = q.Value()
		case "pods":
			a.Pods = q.Value()
		default:
			return v1.Amounts{}, fmt.Errorf("capacity %q: unknown resource %q (want cpu, memory, gpu, pods)", s, k)
		}
	}
	return a, nil
}
