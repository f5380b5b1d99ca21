package placement

import (
	"sort"
	"strconv"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// ReasonQuota prefixes the reason of an execution held back by its
// project's quota.
const ReasonQuota = "project quota reached"

// project is a tenant's usage as this round grows it.
type project struct {
	name   string
	usage  v1.Amounts
	live   int
	weight float64
	quota  int
	// share is the dominant share divided by weight, the DRF key.
	share float64
	// quotaReasons is built once the quota is hit; live stops growing then.
	quotaReasons []string
}

func (r *round) project(name string) *project {
	if p, ok := r.projects[name]; ok {
		return p
	}
	p := &project{
		name:   name,
		usage:  r.snap.ProjectUsage[name],
		live:   r.snap.ProjectRunning[name],
		weight: r.opts.projectWeight(name),
		quota:  r.opts.quota(name),
	}
	p.refresh(r.total)
	r.projects[name] = p
	return p
}

// refresh recomputes the dominant share: the largest fraction of the
// federation's allocatable cpu, memory or gpu the project uses, divided by
// its weight.
func (p *project) refresh(total v1.Amounts) {
	s := 0.0
	for _, d := range [3][2]int64{{p.usage.MilliCPU, total.MilliCPU}, {p.usage.MemoryBytes, total.MemoryBytes}, {p.usage.GPU, total.GPU}} {
		if d[1] > 0 {
			s = max(s, float64(d[0])/float64(d[1]))
		}
	}
	p.share = s / p.weight
}

func (p *project) add(need v1.Amounts, total v1.Amounts) {
	p.usage = p.usage.Add(need)
	p.live++
	p.refresh(total)
}

// overQuota returns the reasons when the project may place no more.
func (p *project) overQuota() ([]string, bool) {
	if p.quota <= 0 || p.live < p.quota {
		return nil, false
	}
	if p.quotaReasons == nil {
		p.quotaReasons = []string{ReasonQuota + ": " + strconv.Itoa(p.live) + " of " + strconv.Itoa(p.quota) + " live executions"}
	}
	return p.quotaReasons, true
}

// projectQueue is one project's executions of one tier, by Seq.
type projectQueue struct {
	p       *project
	entries []*entry
	next    int
}

// fairQueue hands out a tier's executions by dominant-resource fair
// share: the project with the lowest share goes next. Ties go to the
// project with fewer live executions per weight (so executions needing no
// cpu, memory or gpu still take turns), then by name.
type fairQueue []*projectQueue

func lessProject(a, b *projectQueue) bool {
	if a.p.share != b.p.share {
		return a.p.share < b.p.share
	}
	la, lb := float64(a.p.live)/a.p.weight, float64(b.p.live)/b.p.weight
	if la != lb {
		return la < lb
	}
	return a.p.name < b.p.name
}

// newFairQueue groups one tier's entries by project, each in Seq order.
func newFairQueue(entries []*entry) fairQueue {
	by := map[*project]*projectQueue{}
	var fq fairQueue
	for _, e := range entries {
		pq, ok := by[e.project]
		if !ok {
			pq = &projectQueue{p: e.project}
			by[e.project] = pq
			fq = append(fq, pq)
		}
		pq.entries = append(pq.entries, e)
	}
	for _, pq := range fq {
		sort.Slice(pq.entries, func(i, j int) bool { return pq.entries[i].before(pq.entries[j]) })
	}
	sort.Slice(fq, func(i, j int) bool { return fq[i].p.name < fq[j].p.name })
	for i := len(fq)/2 - 1; i >= 0; i-- {
		fq.down(i)
	}
	return fq
}

// next returns the next entry to consider, or nil when the tier is done.
func (fq *fairQueue) next() *entry {
	if len(*fq) == 0 {
		return nil
	}
	pq := (*fq)[0]
	e := pq.entries[pq.next]
	pq.next++
	return e
}

// done updates the queue after the entry from next was decided; the top
// project's share may have grown.
func (fq *fairQueue) done() {
	s := *fq
	if pq := s[0]; pq.next == len(pq.entries) {
		n := len(s) - 1
		s[0] = s[n]
		*fq = s[:n]
	}
	fq.down(0)
}

func (fq fairQueue) down(i int) {
	n := len(fq)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && lessProject(fq[r], fq[l]) {
			m = r
		}
		if !lessProject(fq[m], fq[i]) {
			return
		}
		fq[i], fq[m] = fq[m], fq[i]
		i = m
	}
}
