// Package placement is the placement engine: a pure function from an
// immutable Snapshot of the member clusters and a queue of pending
// executions to one Decision per execution. It does no I/O, reads no clock
// and uses no randomness, so a new Raft leader that replays the same
// snapshot reaches the same decisions.
//
// The engine follows Nomad's feasibility checkers and kube-scheduler's
// Filter and Score plugins. Each filter is a small type in its own file
// (filter_*.go) that says why it rejects a cluster with a named reason
// constant; each scorer likewise (score_*.go). Decide and Explain run the
// same filters and scorers and keep the verdicts where they are made, so an
// explanation is the record of the decision, not a reconstruction.
//
// # Filters
//
// A cluster is out for an execution if any filter rejects it, checked in
// this order (the first rejection is the one reported): state (only Ready),
// health (Healthy, Settled, breaker not open), weight (0 takes no new work),
// tier, tenant (AllowedProjects), selector, probe (a half-open breaker takes
// one placement per round) and capacity (the need fits Free - Reserved -
// this round's placements in cpu, memory, gpu and pods; best-effort must
// also leave Options.BestEffortHeadroom of allocatable free).
//
// # Scores
//
// Weight balance dominates: among feasible clusters the one with the lowest
// projected weighted load (load+1)/weight wins, where load counts live
// executions plus this round's placements. Secondary scores, each in [0,1],
// are worth a fraction of one execution of load:
//
//	Total = (load + 1 - LabelsBonus*labels - HeadroomBonus*headroom) / weight
//
// The lowest Total wins, ties go to the cluster whose name sorts first. As
// the bonuses sum to less than one execution, a secondary score only breaks
// near-ties of weighted load: every cluster stays within one execution of
// its weight-proportional share, so shares match weights exactly over many
// executions. Weight 0 (or less) means "takes no new executions": such a
// cluster is filtered out rather than used as a last resort, so an SRE can
// drain traffic off a cluster by weight alone.
//
// # Tiers and fairness
//
// Tiers are placed in order critical, standard, best-effort, so no tier
// ever waits behind a lower one. Best-effort prefers clusters carrying
// Options.SpotLabel (any spot cluster that fits wins over every other
// cluster) and is never placed where it would eat into the headroom.
// Inside a tier, projects take turns by dominant-resource fair share
// (DRF): the project whose usage, as its largest fraction of the
// federation's allocatable cpu, memory or gpu divided by its weight, is
// lowest goes next; inside a project, executions go by Seq. Quotas cap a
// project's live executions. An execution that fits nowhere stays pending
// without holding up the next one (backfill).
//
// # Performance
//
// Decide groups executions by shape (tier, tenant, selector, preferred
// labels); each shape caches its static filter verdicts and keeps its
// feasible clusters in a heap keyed by Total. Keys only grow within a
// round (load rises, headroom falls), so stale heap entries are refreshed
// lazily when they reach the top. A cluster that cannot fit the smallest
// need of a shape leaves that shape's heap for the round, and a need that
// fits no cluster of a shape is remembered, since capacity only shrinks
// within a round.
package placement
