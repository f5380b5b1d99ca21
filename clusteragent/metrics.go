package clusteragent

import (
	"errors"
	"fmt"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/prometheus/client_golang/prometheus"
)

// Values of the call label of the session metrics.
const (
	callHeartbeat   = "heartbeat"
	callAssignments = "assignments"
	callReport      = "report"
	// callBackend counts failed calls into the member cluster's backend.
	callBackend = "backend"
)

// metrics are the session's Prometheus metrics.
type metrics struct {
	sessionErrors *prometheus.CounterVec
	breakerState  *prometheus.GaugeVec
	reports       *prometheus.CounterVec
	workflows     *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		sessionErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clusteragent_session_errors_total",
			Help: "Failed calls of the agent's session, by call (heartbeat, assignments, report, backend).",
		}, []string{"call"}),
		breakerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "clusteragent_breaker_state",
			Help: "State of the circuit breaker of each control-plane call: 0 closed, 1 half-open, 2 open.",
		}, []string{"call"}),
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clusteragent_reports_total",
			Help: "Status reports answered by the control plane, by verdict.",
		}, []string{"verdict"}),
		workflows: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "clusteragent_workflows",
			Help: "Workflows the member cluster holds, by phase.",
		}, []string{"phase"}),
	}
	var err error
	if m.sessionErrors, err = register(reg, m.sessionErrors); err != nil {
		return nil, err
	}
	if m.breakerState, err = register(reg, m.breakerState); err != nil {
		return nil, err
	}
	if m.reports, err = register(reg, m.reports); err != nil {
		return nil, err
	}
	if m.workflows, err = register(reg, m.workflows); err != nil {
		return nil, err
	}
	for _, c := range []string{callHeartbeat, callAssignments, callReport} {
		m.breakerState.WithLabelValues(c).Set(0)
		m.sessionErrors.WithLabelValues(c)
	}
	m.sessionErrors.WithLabelValues(callBackend)
	for _, v := range []v1.ReportVerdict{v1.VerdictAccepted, v1.VerdictStale, v1.VerdictUnknown} {
		m.reports.WithLabelValues(string(v))
	}
	return m, nil
}

// register registers c, or returns the collector already registered under
// its name: several agents in one process (tests, benchmarks) share them.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("register agent metrics: %w", err)
	}
	return c, nil
}

// setWorkflows sets the workflows gauge from the phases the backend holds.
func (m *metrics) setWorkflows(byPhase map[v1.ExecutionPhase]int) {
	for _, p := range v1.ExecutionPhases {
		m.workflows.WithLabelValues(string(p)).Set(float64(byPhase[p]))
	}
}
