package placement

// ReasonProjectNotAllowed rejects clusters reserved for other projects.
const ReasonProjectNotAllowed = "project not allowed"

// tenantFilter admits clusters whose AllowedProjects list the execution's
// project or "*"; an empty list admits all.
type tenantFilter struct{}

func (tenantFilter) Name() string { return FilterTenant }

func (tenantFilter) Filter(c *cluster, q *query) string {
	if allowsProject(c.view.AllowedProjects, q.shape.project) {
		return ""
	}
	return ReasonProjectNotAllowed
}

func allowsProject(allowed []string, p string) bool {
	if len(allowed) == 0 {
		return true
	}
	for _, a := range allowed {
		if a == p || a == "*" {
			return true
		}
	}
	return false
}
