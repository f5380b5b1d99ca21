package placement

import (
	"strings"
	"testing"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

func TestExplainVerdictsAndScores(t *testing.T) {
	cordoned := ready("b", 1, 10)
	cordoned.State = v1.ClusterCordoned
	full := ready("c", 1, 0)
	eu := ready("a", 2, 10)
	eu.Labels = map[string]string{"region": "eu"}
	eu.Load = 1
	s := &Snapshot{Clusters: []ClusterView{full, cordoned, eu}}
	p := pending("p", 0, v1.TierStandard)
	p.PreferredLabels = map[string]string{"region": "eu"}

	ex := Explain(s, p, Options{})
	if ex.Chosen != "a" || ex.Key != p.Key {
		t.Fatalf("Chosen = %q, key %v; want a", ex.Chosen, ex.Key)
	}
	want := []ClusterVerdict{
		{Cluster: "a", Feasible: true, Scores: map[string]float64{ScoreWeight: 1, ScoreHeadroom: 1, ScoreLabels: 1}, Total: (2 - 0.5 - 0.25) / 2},
		{Cluster: "b", Filter: FilterState, Reason: ReasonCordoned},
		{Cluster: "c", Filter: FilterCapacity, Reason: ReasonInsufficientCPU},
	}
	if len(ex.Clusters) != len(want) {
		t.Fatalf("%d verdicts, want %d", len(ex.Clusters), len(want))
	}
	for i, w := range want {
		g := ex.Clusters[i]
		if g.Cluster != w.Cluster || g.Feasible != w.Feasible || g.Filter != w.Filter || g.Reason != w.Reason || g.Total != w.Total || len(g.Scores) != len(w.Scores) {
			t.Errorf("verdict %d = %+v, want %+v", i, g, w)
			continue
		}
		for k, v := range w.Scores {
			if g.Scores[k] != v {
				t.Errorf("verdict %s score %s = %g, want %g", g.Cluster, k, g.Scores[k], v)
			}
		}
	}
	if !strings.HasPrefix(ex.Summary, "would place on a: ") {
		t.Errorf("Summary = %q", ex.Summary)
	}
}

func TestExplainPendingSummaries(t *testing.T) {
	for _, tc := range []struct {
		name    string
		s       *Snapshot
		o       Options
		summary string
	}{
		{
			name:    "nothing fits",
			s:       &Snapshot{Clusters: []ClusterView{ready("a", 1, 0), ready("b", 1, 0)}},
			summary: "stays pending, no cluster fits: 2 clusters: " + ReasonInsufficientCPU,
		},
		{
			name:    "quota",
			s:       &Snapshot{Clusters: []ClusterView{ready("a", 1, 10)}, ProjectRunning: map[string]int{"p": 3}},
			o:       Options{DefaultQuota: 3},
			summary: "stays pending: " + ReasonQuota + ": 3 of 3 live executions",
		},
		{
			name:    "no clusters",
			s:       &Snapshot{},
			summary: "stays pending, no cluster fits: " + ReasonNoClusters,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex := Explain(tc.s, pending("p", 0, v1.TierStandard), tc.o)
			if ex.Chosen != "" || ex.Summary != tc.summary {
				t.Fatalf("Chosen %q Summary %q, want \"\" and %q", ex.Chosen, ex.Summary, tc.summary)
			}
		})
	}
}

// TestExplainAgreesWithDecide: Explain's choice is what Decide does with
// the execution alone in the queue, and its verdicts agree with the
// reference filters.
func TestExplainAgreesWithDecide(t *testing.T) {
	o := Options{SpotLabel: "capacity=spot", BestEffortHeadroom: 0.1}
	for seed := range uint64(20) {
		rng := newRand(seed)
		s := randomSnapshot(rng, 1+rng.IntN(30))
		for _, p := range randomQueue(rng, 20, 3) {
			ex := Explain(s, p, o)
			d := Decide(s, []Pending{p}, o)[0]
			if ex.Chosen != d.Cluster {
				t.Fatalf("seed %d %s: Explain chose %q, Decide %q (%v)", seed, p.Key, ex.Chosen, d.Cluster, d.Reasons)
			}
			for i, cv := range ex.Clusters {
				rc := &refCluster{v: &s.Clusters[0]}
				for j := range s.Clusters {
					if s.Clusters[j].Name == cv.Cluster {
						rc = &refCluster{v: &s.Clusters[j], rem: s.Clusters[j].Free.Sub(s.Clusters[j].Reserved), load: s.Clusters[j].Load}
					}
				}
				if want := refFeasible(rc, &p, &o); cv.Feasible != want || cv.Feasible == (cv.Filter != "") {
					t.Fatalf("seed %d %s verdict %d %+v: feasible want %v", seed, p.Key, i, cv, want)
				}
			}
		}
	}
}
