package placement

// Score names, as keys of ClusterVerdict.Scores.
const (
	ScoreWeight   = "weight"
	ScoreHeadroom = "headroom"
	ScoreLabels   = "labels"
	ScoreSpot     = "spot"
)

// Bonuses: how many executions of load a perfect secondary score offsets.
// They sum to less than one so weight balance stays within one execution
// of exact; preferred labels count for more than headroom.
const (
	LabelsBonus   = 0.5
	HeadroomBonus = 0.25
)

// A scorer rates a feasible cluster for a shape in [0,1], higher better.
// Scores only fall within a round, which keeps the heaps' keys valid lower
// bounds.
type scorer interface {
	// Name identifies the score in ClusterVerdict.Scores.
	Name() string
	// Bonus is the load, in executions, a score of 1 offsets.
	Bonus() float64
	Score(c *cluster, sh *shape) float64
}

// scorerSet holds the secondary scorers. Static ones depend only on the
// cluster's labels and the shape, so a shape computes them once per round;
// dynamic ones are recomputed whenever a cluster's key is refreshed.
type scorerSet struct {
	static, dynamic []scorer
}

func newScorerSet() scorerSet {
	return scorerSet{
		static:  []scorer{labelsScore{}},
		dynamic: []scorer{headroomScore{}},
	}
}

// all lists every secondary scorer, static first.
func (ss scorerSet) all() []scorer {
	return append(append([]scorer(nil), ss.static...), ss.dynamic...)
}

func bonusOf(scorers []scorer, c *cluster, sh *shape) float64 {
	b := 0.0
	for _, s := range scorers {
		b += s.Bonus() * s.Score(c, sh)
	}
	return b
}

// total is the value a cluster is ranked by, lower wins: its weighted
// load after taking one more execution, less the secondary bonus (which is
// below one execution). Callers filter out clusters of weight 0 first.
func total(c *cluster, bonus float64) float64 {
	return (float64(c.load) + 1 - bonus) / float64(c.view.Weight)
}

// better reports whether a (with key ka) ranks before b (with key kb).
func better(ka float64, a *cluster, kb float64, b *cluster) bool {
	if ka != kb {
		return ka < kb
	}
	return a.idx < b.idx
}
