package placement

import (
	"reflect"
	"slices"
	"strconv"
	"testing"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// fuzzBytes reads small numbers from fuzz input, zero once it runs out.
type fuzzBytes []byte

func (b *fuzzBytes) next() int {
	if len(*b) == 0 {
		return 0
	}
	v := (*b)[0]
	*b = (*b)[1:]
	return int(v)
}

func (b *fuzzBytes) n(k int) int { return b.next() % k }

var (
	fuzzStates   = []v1.ClusterState{v1.ClusterReady, v1.ClusterReady, v1.ClusterReady, v1.ClusterCordoned, v1.ClusterDraining, v1.ClusterUnhealthy, v1.ClusterRegistered, ""}
	fuzzBreakers = []string{v1.BreakerClosed, "", v1.BreakerHalfOpen, v1.BreakerOpen}
	fuzzTiers    = []v1.Tier{v1.TierCritical, v1.TierStandard, v1.TierBestEffort, ""}
	fuzzLabels   = []map[string]string{nil, {"r": "x"}, {"r": "y", "capacity": "spot"}, {"r": "x", "gpu": "1"}}
)

func fuzzAmounts(b *fuzzBytes, scale int) v1.Amounts {
	return v1.Amounts{
		MilliCPU:    int64(b.n(16) * scale * 250),
		MemoryBytes: int64(b.n(16)*scale) << 28,
		GPU:         int64(b.n(3) * scale),
		Pods:        int64(b.n(8) * scale),
	}
}

// fuzzInput builds a snapshot, queue and options from fuzz bytes.
func fuzzInput(data []byte) (*Snapshot, []Pending, Options) {
	b := fuzzBytes(data)
	s := &Snapshot{ProjectUsage: map[string]v1.Amounts{}, ProjectRunning: map[string]int{}}
	for i := range b.n(9) {
		c := ClusterView{
			Name:        "c" + strconv.Itoa(b.n(12)) + "-" + strconv.Itoa(i),
			Labels:      fuzzLabels[b.n(len(fuzzLabels))],
			Weight:      b.n(5) - 1,
			State:       fuzzStates[b.n(len(fuzzStates))],
			Healthy:     b.n(8) != 0,
			Settled:     b.n(8) != 0,
			Breaker:     fuzzBreakers[b.n(len(fuzzBreakers))],
			HasCapacity: b.n(8) != 0,
			Load:        b.n(10),
		}
		if b.n(4) == 0 {
			c.Tiers = []v1.Tier{fuzzTiers[b.n(3)]}
		}
		if b.n(4) == 0 {
			c.AllowedProjects = []string{"p" + strconv.Itoa(b.n(3))}
		}
		c.Allocatable = fuzzAmounts(&b, 4)
		c.Free = c.Allocatable.Sub(fuzzAmounts(&b, 1))
		c.Reserved = fuzzAmounts(&b, 1)
		s.Clusters = append(s.Clusters, c)
	}
	for p := range 3 {
		name := "p" + strconv.Itoa(p)
		s.ProjectUsage[name] = fuzzAmounts(&b, 2)
		s.ProjectRunning[name] = b.n(4)
	}
	o := Options{
		ProjectWeights:     map[string]float64{"p0": float64(b.n(4))},
		ProjectQuota:       map[string]int{"p1": b.n(6)},
		DefaultQuota:       b.n(3) * 4,
		SpotLabel:          []string{"", "capacity=spot", "capacity", "r=x"}[b.n(4)],
		BestEffortHeadroom: float64(b.n(4)) / 8,
		MaxDecisions:       b.n(4) * 3,
	}
	q := make([]Pending, b.n(64))
	for i := range q {
		p := Pending{
			Key:     v1.ExecutionKey{Project: "p" + strconv.Itoa(b.n(3)), Domain: "d", Name: "e" + strconv.Itoa(i)},
			Attempt: b.n(3),
			Tier:    fuzzTiers[b.n(len(fuzzTiers))],
			Seq:     uint64(b.n(16)),
			Need:    fuzzAmounts(&b, 1),
		}
		switch b.n(5) {
		case 1:
			p.Selector = &v1.LabelSelector{MatchLabels: map[string]string{"r": "x"}}
		case 2:
			p.Selector = &v1.LabelSelector{MatchExpressions: []v1.LabelSelectorRequirement{{Key: "gpu", Operator: v1.OpDoesNotExist}}}
		case 3:
			p.Selector = &v1.LabelSelector{MatchExpressions: []v1.LabelSelectorRequirement{{Key: "r", Operator: v1.OpIn, Values: []string{"y", "x"}}}}
		}
		if b.n(3) == 0 {
			p.PreferredLabels = map[string]string{"r": "y"}
		}
		if b.n(8) == 0 {
			p.Need.MilliCPU = -p.Need.MilliCPU // negative needs count as zero
		}
		q[i] = p
	}
	return s, q, o
}

// FuzzDecide: random snapshots and queues never panic, every decision
// passes the reference checks, reordering the input changes nothing, and
// Explain agrees with Decide for the first execution.
func FuzzDecide(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, q, o := fuzzInput(data)
		ds := Decide(s, q, o)
		if err := checkDecisions(s, q, o, ds); err != nil {
			t.Fatal(err)
		}
		s2 := *s
		s2.Clusters = slices.Clone(s.Clusters)
		slices.Reverse(s2.Clusters)
		q2 := slices.Clone(q)
		slices.Reverse(q2)
		if again := Decide(&s2, q2, o); !reflect.DeepEqual(ds, again) {
			t.Fatal("reordered input gave different decisions")
		}
		if len(q) > 0 {
			ex := Explain(s, q[0], o)
			one := Decide(s, q[:1], o)[0]
			if ex.Chosen != one.Cluster {
				t.Fatalf("Explain chose %q, Decide %q", ex.Chosen, one.Cluster)
			}
		}
	})
}
