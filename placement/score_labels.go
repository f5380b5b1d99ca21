package placement

// labelsScore prefers clusters carrying the execution's preferred labels:
// the fraction of them the cluster has with the same value. No preferred
// labels scores 0 everywhere, which changes nothing.
type labelsScore struct{}

func (labelsScore) Name() string { return ScoreLabels }

func (labelsScore) Bonus() float64 { return LabelsBonus }

func (labelsScore) Score(c *cluster, sh *shape) float64 {
	matched, n := labelsMatched(c.view.Labels, sh.preferred)
	if n == 0 {
		return 0
	}
	return float64(matched) / float64(n)
}

func labelsMatched(labels, preferred map[string]string) (matched, n int) {
	for k, v := range preferred {
		if got, ok := labels[k]; ok && got == v {
			matched++
		}
	}
	return matched, len(preferred)
}
