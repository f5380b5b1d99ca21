package v1alpha1

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

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
	cpu, err := parseAmount("cpu", r.CPU, true)
	if err != nil {
		return Amounts{}, err
	}
	mem, err := parseAmount("memory", r.Memory, false)
	if err != nil {
		return Amounts{}, err
	}
	gpu, err := parseAmount("gpu", r.GPU, false)
	if err != nil {
		return Amounts{}, err
	}
	return Amounts{MilliCPU: cpu, MemoryBytes: mem, GPU: gpu, Pods: 1}, nil
}

// parseAmount parses the quantity v of the resource name, in thousandths
// of a unit if milli, else in units.
func parseAmount(name, v string, milli bool) (int64, error) {
	if v == "" {
		return 0, nil
	}
	q, ok := quantities.load(v)
	if !ok {
		parsed, err := resource.ParseQuantity(v)
		if err != nil {
			return 0, fmt.Errorf("%s %q: %w", name, v, err)
		}
		q = parsedQuantity{milli: parsed.MilliValue(), value: parsed.Value(), negative: parsed.Sign() < 0}
		quantities.store(v, q)
	}
	if q.negative {
		return 0, fmt.Errorf("%s %q: must not be negative", name, v)
	}
	if milli {
		return q.milli, nil
	}
	return q.value, nil
}

// parsedQuantity is what parseAmount needs of a resource.Quantity.
type parsedQuantity struct {
	milli, value int64
	negative     bool
}

// quantityCache remembers parsed quantities by their text. Every
// submission is validated, and nearly all of them ask for the same few
// quantities ("500m", "4Gi"), which resource.ParseQuantity would parse again
// each time. It holds plain values, so nothing handed out can be changed
// through it; it forgets everything when it reaches quantityCacheMax
// entries, so odd quantities cannot grow it without bound; and it keeps
// only what parsed, so errors are always those of resource.ParseQuantity.
type quantityCache struct {
	m sync.Map // string -> parsedQuantity
	n atomic.Int64
}

const (
	quantityCacheMax    = 4096
	quantityCacheKeyMax = 32 // bytes; longer quantities are parsed each time
)

var quantities quantityCache

func (c *quantityCache) load(s string) (parsedQuantity, bool) {
	v, ok := c.m.Load(s)
	if !ok {
		return parsedQuantity{}, false
	}
	return v.(parsedQuantity), true
}

func (c *quantityCache) store(s string, q parsedQuantity) {
	if len(s) > quantityCacheKeyMax {
		return
	}
	if c.n.Add(1) > quantityCacheMax {
		// Racing stores may land between Clear and Store, so the bound
		// is quantityCacheMax plus the number of concurrent callers.
		c.m.Clear()
		c.n.Store(1)
	}
	// The key is cloned: s may share memory with a larger buffer, or with
	// one its owner reuses.
	c.m.Store(strings.Clone(s), q)
}
