package placement

// weightScore is the dominant score: the projected weighted load
// (load+1)/weight, lower wins. Picking the minimum every time keeps each
// cluster's load within one execution of its weight-proportional share,
// whatever the order of rounds or leaders.
type weightScore struct{}

func (weightScore) Name() string { return ScoreWeight }

func (weightScore) score(c *cluster) float64 {
	return (float64(c.load) + 1) / float64(c.view.Weight)
}
