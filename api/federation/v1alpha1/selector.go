package v1alpha1

import "fmt"

// LabelSelector picks clusters by label, as Kubernetes label selectors do.
type LabelSelector struct {
	MatchLabels      map[string]string          `json:"matchLabels,omitempty"`
	MatchExpressions []LabelSelectorRequirement `json:"matchExpressions,omitempty"`
}

// SelectorOperator is the operator of a selector requirement.
type SelectorOperator string

// Selector operators.
const (
	OpIn           SelectorOperator = "In"
	OpNotIn        SelectorOperator = "NotIn"
	OpExists       SelectorOperator = "Exists"
	OpDoesNotExist SelectorOperator = "DoesNotExist"
)

// LabelSelectorRequirement is one expression of a selector.
type LabelSelectorRequirement struct {
	Key      string           `json:"key"`
	Operator SelectorOperator `json:"operator"`
	Values   []string         `json:"values,omitempty"`
}

// Matches reports whether labels satisfy the selector. A nil selector
// matches everything.
func (s *LabelSelector) Matches(labels map[string]string) bool {
	if s == nil {
		return true
	}
	for k, v := range s.MatchLabels {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	for _, r := range s.MatchExpressions {
		if !r.Matches(labels) {
			return false
		}
	}
	return true
}

// Matches reports whether labels satisfy the requirement.
func (r LabelSelectorRequirement) Matches(labels map[string]string) bool {
	v, ok := labels[r.Key]
	switch r.Operator {
	case OpExists:
		return ok
	case OpDoesNotExist:
		return !ok
	case OpIn:
		return ok && contains(r.Values, v)
	case OpNotIn:
		return !ok || !contains(r.Values, v)
	}
	return false
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// Validate checks the selector's keys, values and operators.
func (s *LabelSelector) Validate() error {
	if s == nil {
		return nil
	}
	for k, v := range s.MatchLabels {
		if err := validateLabel(k, v); err != nil {
			return fmt.Errorf("matchLabels: %w", err)
		}
	}
	for i, r := range s.MatchExpressions {
		if err := validateLabelKey(r.Key); err != nil {
			return fmt.Errorf("matchExpressions[%d]: %w", i, err)
		}
		switch r.Operator {
		case OpIn, OpNotIn:
			if len(r.Values) == 0 {
				return fmt.Errorf("matchExpressions[%d]: operator %s needs values", i, r.Operator)
			}
			for _, v := range r.Values {
				if err := validateLabelValue(v); err != nil {
					return fmt.Errorf("matchExpressions[%d]: %w", i, err)
				}
			}
		case OpExists, OpDoesNotExist:
			if len(r.Values) != 0 {
				return fmt.Errorf("matchExpressions[%d]: operator %s takes no values", i, r.Operator)
			}
		default:
			return fmt.Errorf("matchExpressions[%d]: unknown operator %q (want In, NotIn, Exists, DoesNotExist)", i, r.Operator)
		}
	}
	return nil
}
