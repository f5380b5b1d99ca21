package placement

import (
	"fmt"
	"strconv"
	"testing"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// benchInput is a synthetic federation of n clusters (three regions, a
// third spot, a quarter with GPUs, weights 1-5, a few cordoned or
// half-open) and a queue of 100,000 executions from 50 projects over all
// tiers, four selectors and six sizes. capacityFrac scales the clusters
// so that roughly that fraction of the queue's total need fits.
func benchInput(n int, capacityFrac float64) (*Snapshot, []Pending, Options) {
	const queued = 100_000
	rng := newRand(uint64(n))
	sizes := []v1.Amounts{
		{MilliCPU: 500, MemoryBytes: 1 << 30, Pods: 1},
		{MilliCPU: 1000, MemoryBytes: 2 << 30, Pods: 2},
		{MilliCPU: 2000, MemoryBytes: 4 << 30, Pods: 3},
		{MilliCPU: 4000, MemoryBytes: 8 << 30, Pods: 5},
		{MilliCPU: 8000, MemoryBytes: 32 << 30, Pods: 8},
		{MilliCPU: 250, MemoryBytes: 512 << 20, Pods: 1},
	}
	q := make([]Pending, queued)
	var need v1.Amounts
	for i := range q {
		p := Pending{
			Key:  v1.ExecutionKey{Project: "p" + strconv.Itoa(rng.IntN(50)), Domain: "prod", Name: "e" + strconv.Itoa(i)},
			Seq:  uint64(i),
			Need: sizes[rng.IntN(len(sizes))],
		}
		switch x := rng.IntN(10); {
		case x == 0:
			p.Tier = v1.TierCritical
		case x < 7:
			p.Tier = v1.TierStandard
		default:
			p.Tier = v1.TierBestEffort
		}
		p.Selector = selectors[rng.IntN(3)] // nil, eu, us|ap
		if rng.IntN(20) == 0 {
			p.Selector = selectors[3] // gpu
			p.Need.GPU = 1
		}
		if rng.IntN(5) == 0 {
			p.PreferredLabels = map[string]string{"region": "us"}
		}
		need = need.Add(p.Need)
		q[i] = p
	}
	per := int64(float64(need.MilliCPU) * capacityFrac / float64(n) / 1000)
	s := &Snapshot{ProjectUsage: map[string]v1.Amounts{}, ProjectRunning: map[string]int{}}
	for i := range n {
		c := ready(fmt.Sprintf("cluster-%04d", i), 1+rng.IntN(5), per+1)
		c.Labels = map[string]string{"region": []string{"eu", "us", "ap"}[i%3]}
		if i%3 == 1 {
			c.Labels["capacity"] = "spot"
		}
		if i%4 == 0 {
			c.Labels["gpu"] = "a100"
			c.Allocatable.GPU, c.Free.GPU = per/4+1, per/4+1
		}
		c.Allocatable.MemoryBytes *= 8
		c.Free.MemoryBytes *= 8
		switch i % 50 {
		case 7:
			c.State = v1.ClusterCordoned
		case 13:
			c.Breaker = v1.BreakerHalfOpen
		}
		s.Clusters = append(s.Clusters, c)
	}
	return s, q, Options{SpotLabel: "capacity=spot", BestEffortHeadroom: 0.1, DefaultQuota: 5000}
}

// BenchmarkDecide places 100,000 queued executions on 10, 100 and 1,000
// clusters, with room for about 60% of them (scarce) or all (ample).
func BenchmarkDecide(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		for _, c := range []struct {
			name string
			frac float64
		}{{"scarce", 0.6}, {"ample", 1.5}} {
			b.Run(fmt.Sprintf("clusters=%d/capacity=%s", n, c.name), func(b *testing.B) {
				s, q, o := benchInput(n, c.frac)
				b.ReportAllocs()
				placed := 0
				for b.Loop() {
					placed = 0
					for _, d := range Decide(s, q, o) {
						if d.Cluster != "" {
							placed++
						}
					}
				}
				b.ReportMetric(float64(len(q))*float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
				b.ReportMetric(float64(placed), "placed")
			})
		}
	}
}
