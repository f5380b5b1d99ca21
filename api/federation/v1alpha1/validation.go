package v1alpha1

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Limits bound what one request may carry. They keep a single submission
// from bloating the replicated state.
type Limits struct {
	MaxNodes       int
	MaxLabels      int
	MaxInputs      int
	MaxInputBytes  int
	MaxDependsOn   int
	MaxRetries     int
	MaxAttempts    int
	MaxCommandArgs int
}

// DefaultLimits are the limits used when a server sets none.
var DefaultLimits = Limits{
	MaxNodes:       500,
	MaxLabels:      64,
	MaxInputs:      128,
	MaxInputBytes:  64 << 10,
	MaxDependsOn:   500,
	MaxRetries:     10,
	MaxAttempts:    20,
	MaxCommandArgs: 256,
}

// ErrInvalid is wrapped by every validation error, so callers can map it to 400.
var ErrInvalid = errors.New("invalid")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Default fills in defaults that are part of the spec's identity, so that
// the same submission with and without them hashes the same.
func (s *ExecutionSpec) Default() {
	if s.Tier == "" {
		s.Tier = TierStandard
	}
	if s.MaxAttempts == 0 {
		s.MaxAttempts = DefaultMaxAttempts
	}
}

// Hash returns a stable digest of the spec; equal specs hash equal.
// encoding/json sorts map keys, so the rendering is canonical.
func (s *ExecutionSpec) Hash() string { return HashCanonical(s.Canonical()) }

// Canonical returns the spec's canonical JSON: the bytes Hash digests. A
// caller that needs both the JSON and the hash (the submit path, which
// puts the spec in the Raft log) renders it once with Canonical and hashes
// it with HashCanonical. The bytes are json.Marshal's, rendered by hand
// (canonical.go) in a fraction of its time.
func (s *ExecutionSpec) Canonical() []byte {
	return s.AppendCanonical(make([]byte, 0, s.canonicalSize()))
}

// HashCanonical is the hash of a spec's canonical JSON, as Canonical
// renders it: HashCanonical(s.Canonical()) == s.Hash().
func HashCanonical(canonical []byte) string {
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:16])
}

// ValidateName checks a project, domain, execution or cluster name: a
// DNS-1123 label.
func ValidateName(field, v string) error {
	if v == "" {
		return invalid("%s is required", field)
	}
	if errs := dns1123LabelErrors(v); len(errs) > 0 {
		return invalid("%s %q: %s", field, v, strings.Join(errs, "; "))
	}
	return nil
}

// Validate checks a defaulted spec against the limits.
func (s *ExecutionSpec) Validate(l Limits) error {
	for _, f := range []struct{ name, v string }{{"project", s.Project}, {"domain", s.Domain}, {"name", s.Name}} {
		if err := ValidateName(f.name, f.v); err != nil {
			return err
		}
	}
	if !s.Tier.Valid() {
		return invalid("tier %q: want critical, standard or best-effort", s.Tier)
	}
	if s.MaxAttempts < 0 || s.MaxAttempts > l.MaxAttempts {
		return invalid("maxAttempts %d: want 1..%d", s.MaxAttempts, l.MaxAttempts)
	}
	if err := s.ClusterSelector.Validate(); err != nil {
		return invalid("clusterSelector: %v", err)
	}
	if len(s.PreferredLabels) > l.MaxLabels {
		return invalid("preferredLabels: %d labels, at most %d", len(s.PreferredLabels), l.MaxLabels)
	}
	for k, v := range s.PreferredLabels {
		if err := validateLabel(k, v); err != nil {
			return invalid("preferredLabels: %v", err)
		}
	}
	if len(s.Inputs) > l.MaxInputs {
		return invalid("inputs: %d inputs, at most %d", len(s.Inputs), l.MaxInputs)
	}
	size := 0
	for k, v := range s.Inputs {
		if k == "" {
			return invalid("inputs: empty input name")
		}
		size += len(k) + len(v)
	}
	if size > l.MaxInputBytes {
		return invalid("inputs: %d bytes, at most %d", size, l.MaxInputBytes)
	}
	return s.Workflow.Validate(s.Inputs, l)
}

// Validate checks the DAG: unique ids, known dependencies, no cycles,
// bindings that name a workflow input or an upstream node, sane resources.
func (w *WorkflowSpec) Validate(inputs map[string]string, l Limits) error {
	if len(w.Nodes) == 0 {
		return invalid("workflow: at least one node is required")
	}
	if len(w.Nodes) > l.MaxNodes {
		return invalid("workflow: %d nodes, at most %d", len(w.Nodes), l.MaxNodes)
	}
	index := newNodeIndex(w.Nodes)
	for i := range w.Nodes {
		n := &w.Nodes[i]
		if errs := dns1123LabelErrors(n.ID); n.ID == "" || len(errs) > 0 {
			return invalid("workflow.nodes[%d]: id %q must be a DNS-1123 label", i, n.ID)
		}
		if index.add(i) {
			return invalid("workflow.nodes[%d]: duplicate id %q", i, n.ID)
		}
	}
	for i := range w.Nodes {
		if err := w.Nodes[i].validate(&index, inputs, l); err != nil {
			return err
		}
	}
	var colors [smallDAG]uint8
	var scratch [2 * smallDAG]int
	walk := newDAGWalk(w.Nodes, &index, colors[:], scratch[:])
	if cycle := walk.findCycle(); cycle != nil {
		return invalid("workflow: dependency cycle %s", strings.Join(cycle, " -> "))
	}
	// A binding from a node that is not an ancestor would read an output
	// that may not exist yet. The ancestors are worked out at the first
	// such binding, as many workflows have none.
	var bits [smallDAG]uint64
	var anc ancestorSets
	for i := range w.Nodes {
		n := &w.Nodes[i]
		for name, b := range n.Inputs {
			if b.FromNode == "" {
				continue
			}
			if anc.bits == nil {
				anc = newAncestorSets(w.Nodes, &index, walk.order(), bits[:])
			}
			if j, _ := index.lookup(b.FromNode); !anc.has(i, j) {
				return invalid("node %q: input %q reads node %q, which is not upstream (add it to dependsOn)", n.ID, name, b.FromNode)
			}
		}
	}
	return nil
}

func (n *TaskNode) validate(index *nodeIndex, inputs map[string]string, l Limits) error {
	if n.Image == "" {
		return invalid("node %q: image is required", n.ID)
	}
	if len(n.Command)+len(n.Args) > l.MaxCommandArgs {
		return invalid("node %q: %d command and args, at most %d", n.ID, len(n.Command)+len(n.Args), l.MaxCommandArgs)
	}
	if len(n.DependsOn) > l.MaxDependsOn {
		return invalid("node %q: %d dependencies, at most %d", n.ID, len(n.DependsOn), l.MaxDependsOn)
	}
	var seen map[string]bool // only for many dependencies; few are scanned
	if len(n.DependsOn) > smallDAG {
		seen = make(map[string]bool, len(n.DependsOn))
	}
	for k, d := range n.DependsOn {
		if _, ok := index.lookup(d); !ok {
			return invalid("node %q: dependsOn %q, which is not a node of the workflow", n.ID, d)
		}
		if d == n.ID {
			return invalid("node %q: depends on itself", n.ID)
		}
		repeated := seen[d]
		if seen == nil {
			repeated = slices.Contains(n.DependsOn[:k], d)
		} else {
			seen[d] = true
		}
		if repeated {
			return invalid("node %q: dependsOn %q twice", n.ID, d)
		}
	}
	if _, err := n.Resources.Amounts(); err != nil {
		return invalid("node %q: resources: %v", n.ID, err)
	}
	if n.Retries < 0 || n.Retries > l.MaxRetries {
		return invalid("node %q: retries %d: want 0..%d", n.ID, n.Retries, l.MaxRetries)
	}
	if n.Timeout != "" {
		d, err := time.ParseDuration(n.Timeout)
		if err != nil || d <= 0 {
			return invalid("node %q: timeout %q: want a positive Go duration such as 30m", n.ID, n.Timeout)
		}
	}
	if n.Cache != nil && n.Cache.Version == "" {
		return invalid("node %q: cache.version is required", n.ID)
	}
	for name, b := range n.Inputs {
		set := 0
		if b.FromInput != "" {
			set++
			if _, ok := inputs[b.FromInput]; !ok {
				return invalid("node %q: input %q reads workflow input %q, which is not given", n.ID, name, b.FromInput)
			}
		}
		if b.FromNode != "" {
			set++
			if _, ok := index.lookup(b.FromNode); !ok {
				return invalid("node %q: input %q reads node %q, which is not a node of the workflow", n.ID, name, b.FromNode)
			}
			if b.Output == "" {
				return invalid("node %q: input %q reads node %q without naming an output", n.ID, name, b.FromNode)
			}
		}
		if b.Value != nil {
			set++
		}
		if set != 1 {
			return invalid("node %q: input %q needs exactly one of fromInput, fromNode, value", n.ID, name)
		}
	}
	return nil
}

// Ancestors maps each node to the set of nodes upstream of it. The
// workflow must be acyclic.
func (w *WorkflowSpec) Ancestors() map[string]map[string]bool {
	deps := make(map[string][]string, len(w.Nodes))
	for _, n := range w.Nodes {
		deps[n.ID] = n.DependsOn
	}
	out := make(map[string]map[string]bool, len(w.Nodes))
	var walk func(id string) map[string]bool
	walk = func(id string) map[string]bool {
		if a, ok := out[id]; ok {
			return a
		}
		a := map[string]bool{}
		out[id] = a
		for _, d := range deps[id] {
			a[d] = true
			for x := range walk(d) {
				a[x] = true
			}
		}
		return a
	}
	for _, n := range w.Nodes {
		walk(n.ID)
	}
	return out
}

// PeakResources is the most the workflow can need at once: the largest sum
// over an antichain is expensive to compute, so this bounds it by the sum of
// each topological level's nodes, which is what runs concurrently when every
// node takes as long as the others.
func (w *WorkflowSpec) PeakResources() Amounts {
	level := map[string]int{}
	var depth func(id string, n *TaskNode) int
	byID := make(map[string]*TaskNode, len(w.Nodes))
	for i := range w.Nodes {
		byID[w.Nodes[i].ID] = &w.Nodes[i]
	}
	depth = func(id string, n *TaskNode) int {
		if d, ok := level[id]; ok {
			return d
		}
		level[id] = 0 // guards against cycles in unvalidated specs
		d := 0
		for _, p := range n.DependsOn {
			if up, ok := byID[p]; ok {
				d = max(d, depth(p, up)+1)
			}
		}
		level[id] = d
		return d
	}
	sums := map[int]Amounts{}
	for i := range w.Nodes {
		n := &w.Nodes[i]
		a, _ := n.Resources.Amounts()
		d := depth(n.ID, n)
		sums[d] = sums[d].Add(a)
	}
	var peak Amounts
	for _, a := range sums {
		peak = peak.Max(a)
	}
	return peak
}

// Default fills in a cluster spec's defaults.
func (c *ClusterSpec) Default() {
	if c.Weight == 0 {
		c.Weight = 1
	}
}

// Validate checks a defaulted cluster spec.
func (c *ClusterSpec) Validate(l Limits) error {
	if err := ValidateName("name", c.Name); err != nil {
		return err
	}
	if c.Weight < 0 || c.Weight > 1_000_000 {
		return invalid("weight %d: want 0..1000000", c.Weight)
	}
	if len(c.Labels) > l.MaxLabels {
		return invalid("labels: %d labels, at most %d", len(c.Labels), l.MaxLabels)
	}
	for k, v := range c.Labels {
		if err := validateLabel(k, v); err != nil {
			return invalid("labels: %v", err)
		}
	}
	for _, t := range c.Tiers {
		if !t.Valid() {
			return invalid("tiers: unknown tier %q", t)
		}
	}
	for _, p := range c.AllowedProjects {
		if p == "*" {
			continue
		}
		if err := ValidateName("allowedProjects", p); err != nil {
			return err
		}
	}
	if p := c.Prices; p != nil && (p.CPUHour < 0 || p.GiBHour < 0 || p.GPUHour < 0) {
		return invalid("prices must not be negative")
	}
	return nil
}

// ParseDrainDeadline parses a drain request's deadline.
func (r *DrainRequest) ParseDrainDeadline() (time.Duration, error) {
	if r.Deadline == "" {
		return 0, invalid("deadline is required, as a Go duration such as 30m")
	}
	d, err := time.ParseDuration(r.Deadline)
	if err != nil || d < 0 {
		return 0, invalid("deadline %q: want a non-negative Go duration such as 30m", r.Deadline)
	}
	return d, nil
}

func validateLabel(k, v string) error {
	if err := validateLabelKey(k); err != nil {
		return err
	}
	return validateLabelValue(v)
}

func validateLabelKey(k string) error {
	if errs := qualifiedNameErrors(k); len(errs) > 0 {
		return fmt.Errorf("label key %q: %s", k, strings.Join(errs, "; "))
	}
	return nil
}

func validateLabelValue(v string) error {
	if errs := labelValueErrors(v); len(errs) > 0 {
		return fmt.Errorf("label value %q: %s", v, strings.Join(errs, "; "))
	}
	return nil
}

// SortedKeys returns a map's keys in order, for deterministic output.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
