package placement

import (
	"strings"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// Explain gives each cluster's filter verdict and scores for p against the
// snapshot at the start of a round, and where Decide would place p if it
// were alone in the queue. Clusters are listed in name order.
func Explain(s *Snapshot, p Pending, o Options) Explanation {
	r := newRound(s, &o)
	e := &entry{}
	r.intake(e, &p, 0)
	sh := &e.group.shape
	q := &query{shape: sh, need: e.need}
	ex := Explanation{Key: p.Key, Clusters: make([]ClusterVerdict, len(r.clusters))}
	var (
		best      *cluster
		bestKey   float64
		bestClass int
		vs        = make([]verdict, len(r.clusters))
	)
	spotFirst := sh.tier == v1.TierBestEffort && r.spot.enabled()
	for _, c := range r.clusters {
		cv := ClusterVerdict{Cluster: c.view.Name}
		v := r.filters.check(c, q)
		vs[c.idx] = v
		if !v.ok() {
			cv.Filter, cv.Reason = v.filter, v.reason
			ex.Clusters[c.idx] = cv
			continue
		}
		cv.Feasible = true
		cv.Scores = map[string]float64{ScoreWeight: weightScore{}.score(c)}
		for _, sc := range r.scorers.all() {
			cv.Scores[sc.Name()] = sc.Score(c, sh)
		}
		// The same sums, in the same order, as group.key.
		cv.Total = total(c, bonusOf(r.scorers.static, c, sh)+bonusOf(r.scorers.dynamic, c, sh))
		class := 0
		if spotFirst {
			if c.spot {
				cv.Scores[ScoreSpot] = 1
			} else {
				cv.Scores[ScoreSpot] = 0
				class = 1
			}
		}
		if best == nil || class < bestClass || class == bestClass && better(cv.Total, c, bestKey, best) {
			best, bestKey, bestClass = c, cv.Total, class
		}
		ex.Clusters[c.idx] = cv
	}
	if rs, over := e.project.overQuota(); over {
		ex.Summary = "stays pending: " + strings.Join(rs, "; ")
		return ex
	}
	if best == nil {
		ex.Summary = "stays pending, no cluster fits: " + strings.Join(summarize(vs), "; ")
		return ex
	}
	ex.Chosen = best.view.Name
	ex.Summary = "would place on " + best.view.Name + ": " + strings.Join(r.placedReasons(best, e.group), "; ")
	return ex
}
