package engine

import "time"

// Metrics receives the engine's measurements; the Prometheus adapter in
// cmd/perfect implements it.
type Metrics interface {
	// Step counts a step reaching a status.
	Step(flow, status string)
	// Attempt counts a provider call by outcome (sent or a failure kind).
	Attempt(flow, outcome string)
	// Lateness observes due time to first send attempt.
	Lateness(flow string, d time.Duration)
}

type nopMetrics struct{}

func (nopMetrics) Step(string, string)            {}
func (nopMetrics) Attempt(string, string)         {}
func (nopMetrics) Lateness(string, time.Duration) {}
