package placement

import (
	"strconv"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// ReasonRoundLimit explains executions left for the next round because
// Options.MaxDecisions placements were made.
const ReasonRoundLimit = "round placement limit reached"

// Decide places the queue on the snapshot's clusters: one Decision per
// queue entry, in the order the entries were considered (tier by tier,
// projects by fair share, each project by Seq). It neither reads nor
// changes anything but its arguments' values and is deterministic: the
// same inputs in any order of Clusters give the same decisions.
func Decide(s *Snapshot, queue []Pending, o Options) []Decision {
	r := newRound(s, &o)
	var tiers [4][]*entry
	entries := make([]entry, len(queue))
	for i := range queue {
		e := &entries[i]
		r.intake(e, &queue[i], i)
		tiers[e.tier.Rank()] = append(tiers[e.tier.Rank()], e)
	}
	defer func() {
		for _, g := range r.groups {
			g.release()
		}
	}()
	out := make([]Decision, 0, len(queue))
	for _, entries := range tiers {
		fq := newFairQueue(entries)
		for e := fq.next(); e != nil; e = fq.next() {
			out = append(out, r.decide(e))
			fq.done()
		}
	}
	return out
}

// decide places one entry, or says why it stays pending.
func (r *round) decide(e *entry) Decision {
	d := Decision{Key: e.p.Key, Attempt: e.p.Attempt}
	if r.opts.MaxDecisions > 0 && r.placed >= r.opts.MaxDecisions {
		d.Reasons = []string{ReasonRoundLimit}
		return d
	}
	if rs, over := e.project.overQuota(); over {
		d.Reasons = cloneReasons(rs)
		return d
	}
	g := e.group
	if rs, ok := g.knownNoFit(e.need); ok {
		d.Reasons = cloneReasons(rs)
		return d
	}
	c := g.pick(r, e.need)
	if c == nil {
		d.Reasons = cloneReasons(g.reasons(r, e.need))
		return d
	}
	d.Cluster = c.view.Name
	d.Reasons = r.placedReasons(c, g)
	c.place(e.need)
	e.project.add(e.need, r.total)
	r.placed++
	return d
}

// placedReasons says why c won, before the placement is booked.
func (r *round) placedReasons(c *cluster, g *group) []string {
	rs := make([]string, 1, 4)
	rs[0] = "lowest weighted load among feasible clusters: (" + strconv.Itoa(c.load) + "+1)/" + strconv.Itoa(c.view.Weight)
	if matched, n := labelsMatched(c.view.Labels, g.shape.preferred); n > 0 {
		rs = append(rs, "preferred labels: "+strconv.Itoa(matched)+" of "+strconv.Itoa(n))
	}
	if g.shape.tier == v1.TierBestEffort && c.spot {
		rs = append(rs, "spot cluster, preferred for best-effort")
	}
	if c.halfOpen() {
		rs = append(rs, "circuit breaker half-open: this is the probe")
	}
	return rs
}
