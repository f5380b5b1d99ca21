package placement

import (
	"fmt"
	"math"
	"reflect"
	"testing"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// TestWeightSplitMatchesWeights: weights 1:2:7 over 10,000 executions with
// ample capacity land within 1% of 10/20/70%, with preferred labels and
// uneven headroom pulling on the secondary scores.
func TestWeightSplitMatchesWeights(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := newRand(seed)
			a, b, c := ready("a", 1, 20000), ready("b", 2, 20000), ready("c", 7, 20000)
			a.Labels = map[string]string{"region": "us"}
			b.Free.MilliCPU /= 2 // less headroom
			s := &Snapshot{Clusters: []ClusterView{c, a, b}}
			q := randomQueue(rng, 10000, 5)
			for i := range q {
				q[i].Selector = nil
				q[i].Need.GPU = 0
			}
			o := Options{SpotLabel: "capacity=spot"}
			ds := Decide(s, q, o)
			if err := checkDecisions(s, q, o, ds); err != nil {
				t.Fatal(err)
			}
			got := placedOn(ds)
			if n := got["a"] + got["b"] + got["c"]; n != len(q) {
				t.Fatalf("placed %d of %d with ample capacity", n, len(q))
			}
			for name, want := range map[string]float64{"a": 0.1, "b": 0.2, "c": 0.7} {
				if share := float64(got[name]) / float64(len(q)); math.Abs(share-want) > 0.01 {
					t.Errorf("cluster %s got %.4f of executions, want %.2f ± 0.01", name, share, want)
				}
			}
		})
	}
}

// TestDecisionsPassFiltersAndRanking re-checks every decision of random
// rounds against the reference filters and ranking (checkDecisions).
func TestDecisionsPassFiltersAndRanking(t *testing.T) {
	for seed := range uint64(30) {
		rng := newRand(seed)
		s := randomSnapshot(rng, 1+rng.IntN(40))
		for p := range 4 {
			s.ProjectUsage[fmt.Sprint("p", p)] = v1.Amounts{MilliCPU: int64(rng.IntN(5000))}
			s.ProjectRunning[fmt.Sprint("p", p)] = rng.IntN(20)
		}
		q := randomQueue(rng, 1+rng.IntN(2000), 1+rng.IntN(6))
		o := Options{
			SpotLabel:          "capacity=spot",
			BestEffortHeadroom: []float64{0, 0.1, 0.3}[rng.IntN(3)],
			MaxDecisions:       []int{0, 0, 50}[rng.IntN(3)],
			DefaultQuota:       []int{0, 0, 30}[rng.IntN(3)],
			ProjectQuota:       map[string]int{"p1": 10},
			ProjectWeights:     map[string]float64{"p2": 3},
		}
		ds := Decide(s, q, o)
		if err := checkDecisions(s, q, o, ds); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if again := Decide(s, q, o); !reflect.DeepEqual(ds, again) {
			t.Fatalf("seed %d: same input gave different decisions", seed)
		}
	}
}

// TestHigherTierNeverWaitsBehindLower: no lower-tier execution is placed on
// a cluster where a pending higher-tier one would have fitted had the
// lower tiers' placements there been left free.
func TestHigherTierNeverWaitsBehindLower(t *testing.T) {
	for seed := range uint64(20) {
		rng := newRand(100 + seed)
		s := randomSnapshot(rng, 1+rng.IntN(15))
		q := randomQueue(rng, 300+rng.IntN(700), 3)
		o := Options{SpotLabel: "capacity=spot", BestEffortHeadroom: 0.1}
		ds := Decide(s, q, o)
		byKey := map[v1.ExecutionKey]*Pending{}
		for i := range q {
			byKey[q[i].Key] = &q[i]
		}
		// Replay to the final state.
		final := map[string]*refCluster{}
		for i := range s.Clusters {
			v := &s.Clusters[i]
			final[v.Name] = &refCluster{v: v, rem: v.Free.Sub(v.Reserved), load: v.Load}
		}
		for _, d := range ds {
			if d.Cluster != "" {
				c := final[d.Cluster]
				c.rem = c.rem.Sub(byKey[d.Key].Need)
				c.load++
				c.placed++
			}
		}
		for _, hd := range ds {
			h := byKey[hd.Key]
			if hd.Cluster != "" {
				continue
			}
			for name, c := range final {
				// Give back what lower tiers took on this cluster.
				back := *c
				lower := 0
				for _, ld := range ds {
					if l := byKey[ld.Key]; ld.Cluster == name && l.Tier.Rank() > h.Tier.Rank() {
						back.rem = back.rem.Add(l.Need)
						back.load--
						back.placed--
						lower++
					}
				}
				if lower > 0 && refFeasible(&back, h, &o) {
					t.Fatalf("seed %d: %s (%s) pending while %d lower-tier executions took %s where it fits", seed, h.Key, h.Tier, lower, name)
				}
			}
		}
	}
}

// TestSmallProjectNotStarvedByBurst: a project with 10 pending gets all of
// them placed although another has 10,000 queued first and capacity is
// scarce; the burst gets the rest.
func TestSmallProjectNotStarvedByBurst(t *testing.T) {
	s := &Snapshot{Clusters: []ClusterView{ready("a", 1, 60), ready("b", 1, 40)}}
	q := queueOf("big", 10000, v1.TierStandard)
	for i := range 10 {
		p := pending("small", 20000+i, v1.TierStandard)
		q = append(q, p)
	}
	ds := Decide(s, q, Options{})
	n := map[string]int{}
	for _, d := range ds {
		if d.Cluster != "" {
			n[d.Key.Project]++
		}
	}
	if n["small"] != 10 || n["big"] != 90 {
		t.Fatalf("placed small=%d big=%d, want 10 and 90", n["small"], n["big"])
	}
}

// TestFairShareUnderRandomQueues: with equal needs and scarce slots, every
// project gets at least its max-min fair share (water-filling over its
// weight), within one execution, whatever the queue order and usage.
func TestFairShareUnderRandomQueues(t *testing.T) {
	for seed := range uint64(30) {
		rng := newRand(500 + seed)
		slots := 50 + rng.IntN(200)
		s := &Snapshot{Clusters: []ClusterView{ready("a", 1, int64(slots/2)), ready("b", 2, int64(slots-slots/2))}}
		np := 2 + rng.IntN(6)
		demand := make([]int, np)
		weights := map[string]float64{}
		var q []Pending
		for p := range np {
			name := fmt.Sprint("p", p)
			demand[p] = 1 + rng.IntN(3*slots/np)
			if p == 0 {
				demand[p] = 5000 // the burst
			}
			weights[name] = float64(1 + rng.IntN(3))
			for range demand[p] {
				q = append(q, pending(name, len(q), v1.TierStandard))
			}
		}
		rng.Shuffle(len(q), func(i, j int) { q[i], q[j] = q[j], q[i] })
		o := Options{ProjectWeights: weights}
		ds := Decide(s, q, o)
		if err := checkDecisions(s, q, o, ds); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		got := map[string]int{}
		total := 0
		for _, d := range ds {
			if d.Cluster != "" {
				got[d.Key.Project]++
				total++
			}
		}
		if total != slots && total != len(q) {
			t.Fatalf("seed %d: placed %d, want all %d slots used", seed, total, slots)
		}
		fair := waterFill(slots, demand, func(p int) float64 { return weights[fmt.Sprint("p", p)] })
		for p := range np {
			if g := got[fmt.Sprint("p", p)]; g < fair[p]-1 {
				t.Errorf("seed %d: project p%d (weight %g, demand %d) placed %d, fair share %d", seed, p, weights[fmt.Sprint("p", p)], demand[p], g, fair[p])
			}
		}
	}
}

// waterFill is the max-min fair split of slots by weight, capped by demand.
func waterFill(slots int, demand []int, weight func(int) float64) []int {
	share := make([]int, len(demand))
	for left := slots; left > 0; {
		best := -1
		for p := range demand {
			if share[p] < demand[p] && (best < 0 || float64(share[p])/weight(p) < float64(share[best])/weight(best)) {
				best = p
			}
		}
		if best < 0 {
			break
		}
		share[best]++
		left--
	}
	return share
}
