package placement

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

func TestDecideScenarios(t *testing.T) {
	spot := func(c ClusterView) ClusterView {
		c.Labels = map[string]string{"capacity": "spot"}
		return c
	}
	with := func(c ClusterView, f func(*ClusterView)) ClusterView { f(&c); return c }
	for _, tc := range []struct {
		name     string
		clusters []ClusterView
		usage    map[string]v1.Amounts
		running  map[string]int
		queue    []Pending
		opts     Options
		// want is the cluster of each queue entry by key name ("" pending).
		want map[string]string
		// wantReason must appear in the reasons of the entry named e0.
		wantReason string
	}{
		{
			name:     "lowest weighted load wins",
			clusters: []ClusterView{with(ready("a", 1, 10), func(v *ClusterView) { v.Load = 2 }), ready("b", 1, 10)},
			queue:    queueOf("p", 1, v1.TierStandard),
			want:     map[string]string{"e0": "b"},
		},
		{
			name:     "tie goes to the name that sorts first",
			clusters: []ClusterView{ready("b", 1, 10), ready("a", 1, 10)},
			queue:    queueOf("p", 1, v1.TierStandard),
			want:     map[string]string{"e0": "a"},
		},
		{
			name:     "preferred labels break near-ties",
			clusters: []ClusterView{ready("a", 1, 10), with(ready("b", 1, 10), func(v *ClusterView) { v.Labels = map[string]string{"region": "us"} })},
			queue: func() []Pending {
				p := pending("p", 0, v1.TierStandard)
				p.PreferredLabels = map[string]string{"region": "us"}
				return []Pending{p}
			}(),
			want: map[string]string{"e0": "b"},
		},
		{
			name: "preferred labels do not beat a full execution of load",
			clusters: []ClusterView{ready("a", 1, 10), with(ready("b", 1, 10), func(v *ClusterView) {
				v.Labels = map[string]string{"region": "us"}
				v.Load = 1
			})},
			queue: func() []Pending {
				p := pending("p", 0, v1.TierStandard)
				p.PreferredLabels = map[string]string{"region": "us"}
				return []Pending{p}
			}(),
			want: map[string]string{"e0": "a"},
		},
		{
			name:     "headroom breaks near-ties",
			clusters: []ClusterView{with(ready("a", 1, 10), func(v *ClusterView) { v.Free.MilliCPU = 5000 }), ready("b", 1, 10)},
			queue:    queueOf("p", 1, v1.TierStandard),
			want:     map[string]string{"e0": "b"},
		},
		{
			name:       "weight 0 takes nothing",
			clusters:   []ClusterView{ready("a", 0, 10)},
			queue:      queueOf("p", 1, v1.TierStandard),
			want:       map[string]string{"e0": ""},
			wantReason: "1 cluster: " + ReasonZeroWeight,
		},
		{
			name: "reasons summarised per reason, most first",
			clusters: []ClusterView{
				ready("a", 1, 0), ready("b", 1, 0), ready("c", 1, 0),
				with(ready("d", 1, 10), func(v *ClusterView) { v.State = v1.ClusterCordoned }),
			},
			queue:      queueOf("p", 1, v1.TierStandard),
			want:       map[string]string{"e0": ""},
			wantReason: "3 clusters: " + ReasonInsufficientCPU + "|1 cluster: " + ReasonCordoned,
		},
		{
			name:       "no clusters",
			queue:      queueOf("p", 1, v1.TierStandard),
			want:       map[string]string{"e0": ""},
			wantReason: ReasonNoClusters,
		},
		{
			name:     "critical placed before standard takes the room",
			clusters: []ClusterView{ready("a", 1, 1)},
			queue:    []Pending{pending("p", 0, v1.TierStandard), pending("q", 1, v1.TierCritical)},
			want:     map[string]string{"e0": "", "e1": "a"},
		},
		{
			name:     "best-effort prefers spot even when more loaded",
			clusters: []ClusterView{ready("a", 1, 10), spot(with(ready("s", 1, 10), func(v *ClusterView) { v.Load = 5 }))},
			queue:    queueOf("p", 1, v1.TierBestEffort),
			opts:     Options{SpotLabel: "capacity=spot"},
			want:     map[string]string{"e0": "s"},
		},
		{
			name:     "best-effort falls back to non-spot",
			clusters: []ClusterView{ready("a", 1, 10), spot(ready("s", 1, 0))},
			queue:    queueOf("p", 1, v1.TierBestEffort),
			opts:     Options{SpotLabel: "capacity"},
			want:     map[string]string{"e0": "a"},
		},
		{
			name:     "standard ignores spot",
			clusters: []ClusterView{ready("a", 1, 10), spot(with(ready("s", 1, 10), func(v *ClusterView) { v.Load = 5 }))},
			queue:    queueOf("p", 1, v1.TierStandard),
			opts:     Options{SpotLabel: "capacity=spot"},
			want:     map[string]string{"e0": "a"},
		},
		{
			name:     "best-effort waits rather than eat headroom",
			clusters: []ClusterView{ready("a", 1, 10)},
			queue:    queueOf("p", 10, v1.TierBestEffort),
			opts:     Options{BestEffortHeadroom: 0.2},
			want:     map[string]string{"e0": "a", "e7": "a", "e8": "", "e9": ""},
		},
		{
			name:     "half-open takes one probe per round",
			clusters: []ClusterView{with(ready("a", 1, 10), func(v *ClusterView) { v.Breaker = v1.BreakerHalfOpen })},
			queue:    queueOf("p", 3, v1.TierStandard),
			want:     map[string]string{"e0": "a", "e1": "", "e2": ""},
		},
		{
			name:       "quota counts running executions",
			clusters:   []ClusterView{ready("a", 1, 10)},
			running:    map[string]int{"p": 1},
			queue:      queueOf("p", 3, v1.TierStandard),
			opts:       Options{ProjectQuota: map[string]int{"p": 2}},
			want:       map[string]string{"e0": "a", "e1": "", "e2": ""},
			wantReason: "",
		},
		{
			name:     "default quota applies to unlisted projects",
			clusters: []ClusterView{ready("a", 1, 10)},
			queue:    append(queueOf("p", 2, v1.TierStandard), pending("q", 5, v1.TierStandard)),
			opts:     Options{DefaultQuota: 1, ProjectQuota: map[string]int{"q": 0}},
			want:     map[string]string{"e0": "a", "e1": "", "e5": "a"},
		},
		{
			name:     "max decisions caps the round",
			clusters: []ClusterView{ready("a", 1, 10)},
			queue:    queueOf("p", 3, v1.TierStandard),
			opts:     Options{MaxDecisions: 2},
			want:     map[string]string{"e0": "a", "e1": "a", "e2": ""},
		},
		{
			name:     "a big need does not block smaller ones behind it",
			clusters: []ClusterView{ready("a", 1, 2)},
			queue: func() []Pending {
				q := queueOf("p", 2, v1.TierStandard)
				q[0].Need.MilliCPU = 5000
				return q
			}(),
			want: map[string]string{"e0": "", "e1": "a"},
		},
		{
			name:     "fair share: usage so far makes a project wait",
			clusters: []ClusterView{ready("a", 1, 1)},
			usage:    map[string]v1.Amounts{"p": {MilliCPU: 500}},
			queue:    []Pending{pending("p", 0, v1.TierStandard), pending("q", 1, v1.TierStandard)},
			want:     map[string]string{"e0": "", "e1": "a"},
		},
		{
			name:     "reserved capacity is not double-booked",
			clusters: []ClusterView{with(ready("a", 1, 2), func(v *ClusterView) { v.Reserved = unit })},
			queue:    queueOf("p", 2, v1.TierStandard),
			want:     map[string]string{"e0": "a", "e1": ""},
		},
		{
			name:       "cluster without reported capacity fits nothing",
			clusters:   []ClusterView{with(ready("a", 1, 2), func(v *ClusterView) { v.HasCapacity = false })},
			queue:      queueOf("p", 1, v1.TierStandard),
			want:       map[string]string{"e0": ""},
			wantReason: "1 cluster: " + ReasonNoCapacity,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Snapshot{Clusters: tc.clusters, ProjectUsage: tc.usage, ProjectRunning: tc.running}
			ds := Decide(s, tc.queue, tc.opts)
			if err := checkDecisions(s, tc.queue, tc.opts, ds); err != nil {
				t.Fatal(err)
			}
			got := map[string]Decision{}
			for _, d := range ds {
				got[d.Key.Name] = d
			}
			for name, want := range tc.want {
				if got[name].Cluster != want {
					t.Errorf("%s: cluster %q (reasons %q), want %q", name, got[name].Cluster, got[name].Reasons, want)
				}
			}
			if tc.wantReason != "" {
				if r := strings.Join(got["e0"].Reasons, "|"); r != tc.wantReason {
					t.Errorf("e0 reasons %q, want %q", r, tc.wantReason)
				}
			}
		})
	}
}

func TestDecideIgnoresInputOrder(t *testing.T) {
	s := randomSnapshot(newRand(1), 20)
	q := randomQueue(newRand(2), 500, 4)
	o := Options{SpotLabel: "capacity=spot", BestEffortHeadroom: 0.1}
	want := Decide(s, q, o)

	s2 := *s
	s2.Clusters = slices.Clone(s.Clusters)
	slices.Reverse(s2.Clusters)
	q2 := slices.Clone(q)
	slices.Reverse(q2)
	if got := Decide(&s2, q2, o); !reflect.DeepEqual(got, want) {
		t.Fatal("reversing clusters and queue changed the decisions")
	}
}

func TestDecideLeavesInputsAlone(t *testing.T) {
	s := randomSnapshot(newRand(3), 10)
	q := randomQueue(newRand(4), 200, 3)
	before := *s
	before.Clusters = slices.Clone(s.Clusters)
	qBefore := slices.Clone(q)
	Decide(s, q, Options{})
	if !reflect.DeepEqual(s.Clusters, before.Clusters) || !reflect.DeepEqual(q, qBefore) {
		t.Fatal("Decide modified its inputs")
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		o       Options
		wantErr string
	}{
		{name: "zero", o: Options{}},
		{name: "defaults", o: Options{SpotLabel: "capacity=spot", BestEffortHeadroom: 0.1}},
		{name: "headroom 1", o: Options{BestEffortHeadroom: 1}, wantErr: "best-effort headroom"},
		{name: "negative quota", o: Options{ProjectQuota: map[string]int{"p": -1}}, wantErr: "project quota"},
		{name: "negative default quota", o: Options{DefaultQuota: -1}, wantErr: "default quota"},
		{name: "negative weight", o: Options{ProjectWeights: map[string]float64{"p": -1}}, wantErr: "project weight"},
		{name: "negative max", o: Options{MaxDecisions: -1}, wantErr: "max decisions"},
		{name: "spot without key", o: Options{SpotLabel: "=spot"}, wantErr: "spot label"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.Validate()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
}
