package placement

import (
	"sort"
	"strconv"
)

// ReasonNoClusters explains a pending execution when no cluster exists.
const ReasonNoClusters = "no clusters registered"

// summarize counts rejections by reason, most frequent first:
// ["3 clusters: insufficient cpu", "1 cluster: cordoned"].
func summarize(vs []verdict) []string {
	if len(vs) == 0 {
		return []string{ReasonNoClusters}
	}
	counts := map[string]int{}
	for _, v := range vs {
		counts[v.reason]++
	}
	reasons := make([]string, 0, len(counts))
	for r := range counts {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool {
		ci, cj := counts[reasons[i]], counts[reasons[j]]
		if ci != cj {
			return ci > cj
		}
		return reasons[i] < reasons[j]
	})
	out := make([]string, len(reasons))
	for i, r := range reasons {
		n := counts[r]
		unit := " clusters: "
		if n == 1 {
			unit = " cluster: "
		}
		out[i] = strconv.Itoa(n) + unit + r
	}
	return out
}
