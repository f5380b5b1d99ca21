package v1alpha1

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Amounts are resources as integers in base units, for arithmetic.
type Amounts struct {
	MilliCPU    int64 `json:"milliCPU"`
	MemoryBytes int64 `json:"memoryBytes"`
	GPU         int64 `json:"gpu"`
	Pods        int64 `json:"pods"`
}

// Add returns a+b.
func (a Amounts) Add(b Amounts) Amounts {
	return Amounts{a.MilliCPU + b.MilliCPU, a.MemoryBytes + b.MemoryBytes, a.GPU + b.GPU, a.Pods + b.Pods}
}

// Sub returns a-b.
func (a Amounts) Sub(b Amounts) Amounts {
	return Amounts{a.MilliCPU - b.MilliCPU, a.MemoryBytes - b.MemoryBytes, a.GPU - b.GPU, a.Pods - b.Pods}
}

// Max returns the element-wise maximum of a and b.
func (a Amounts) Max(b Amounts) Amounts {
	return Amounts{max(a.MilliCPU, b.MilliCPU), max(a.MemoryBytes, b.MemoryBytes), max(a.GPU, b.GPU), max(a.Pods, b.Pods)}
}

// Fits reports whether a fits within b in every dimension.
func (a Amounts) Fits(b Amounts) bool {
	return a.MilliCPU <= b.MilliCPU && a.MemoryBytes <= b.MemoryBytes && a.GPU <= b.GPU && a.Pods <= b.Pods
}

// Capacity is what an agent reports about its cluster: summed over
// schedulable nodes, free is allocatable net of the requests of non-terminal pods.
type Capacity struct {
	Allocatable      Amounts `json:"allocatable"`
	Free             Amounts `json:"free"`
	RunningWorkflows int     `json:"runningWorkflows"`
}

// Amounts parses r into integers. Empty fields are zero.
func (r Resources) Amounts() (Amounts, error) {
	var a Amounts
	for _, f := range []struct {
		name, v string
		dst     *int64
		milli   bool
	}{{"cpu", r.CPU, &a.MilliCPU, true}, {"memory", r.Memory, &a.MemoryBytes, false}, {"gpu", r.GPU, &a.GPU, false}} {
		if f.v == "" {
			continue
		}
		q, err := resource.ParseQuantity(f.v)
		if err != nil {
			return Amounts{}, fmt.Errorf("%s %q: %w", f.name, f.v, err)
		}
		if q.Sign() < 0 {
			return Amounts{}, fmt.Errorf("%s %q: must not be negative", f.name, f.v)
		}
		if f.milli {
			*f.dst = q.MilliValue()
		} else {
			*f.dst = q.Value()
		}
	}
	a.Pods = 1
	return a, nil
}
