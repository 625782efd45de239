// Package metrics exposes perfect's measurements in Prometheus format.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"perfect/store"
)

// Metrics implements engine.Metrics and measures HTTP answers.
type Metrics struct {
	reg      *prometheus.Registry
	steps    *prometheus.CounterVec
	attempts *prometheus.CounterVec
	lateness *prometheus.HistogramVec
	answers  *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// New registers every metric. db may be nil until the store is open; the
// queue gauges read it at scrape time through SetStore.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.steps = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "perfect_step_transitions_total", Help: "Steps reaching a status, by flow.",
	}, []string{"flow", "status"})
	m.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "perfect_send_attempts_total", Help: "Provider calls by outcome: sent or a failure kind.",
	}, []string{"flow", "outcome"})
	m.lateness = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "perfect_dispatch_lateness_seconds", Help: "Due time to first send attempt.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 3600},
	}, []string{"flow"})
	m.answers = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "perfect_http_responses_total", Help: "HTTP answers by route and status code.",
	}, []string{"route", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "perfect_http_request_duration_seconds", Help: "HTTP handling time by route.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	}, []string{"route"})
	m.reg.MustRegister(m.steps, m.attempts, m.lateness, m.answers, m.latency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// SetStore adds the queue gauges, read from the store's counters.
func (m *Metrics) SetStore(db *store.DB, now func() time.Time) {
	m.reg.MustRegister(&queueCollector{db: db, now: now})
}

// Step counts a transition.
func (m *Metrics) Step(flow, status string) { m.steps.WithLabelValues(flow, status).Inc() }

// Attempt counts a provider call.
func (m *Metrics) Attempt(flow, outcome string) { m.attempts.WithLabelValues(flow, outcome).Inc() }

// Lateness observes dispatch lateness.
func (m *Metrics) Lateness(flow string, d time.Duration) {
	m.lateness.WithLabelValues(flow).Observe(max(d, 0).Seconds())
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Middleware counts answers by route pattern and code.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		m.answers.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
		m.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

type recorder struct {
	http.ResponseWriter
	code    int
	written bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.written {
		r.code, r.written = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

var (
	stepsDesc = prometheus.NewDesc("perfect_steps", "Steps in the store by flow and status.",
		[]string{"flow", "status"}, nil)
	dueDesc    = prometheus.NewDesc("perfect_steps_due", "Planned steps whose time has come.", nil, nil)
	outboxDesc = prometheus.NewDesc("perfect_outbox_items", "Tracking writes waiting, by state.",
		[]string{"state"}, nil)
	suppressedDesc = prometheus.NewDesc("perfect_suppressed_addresses", "Addresses on the suppression list.", nil, nil)
)

type queueCollector struct {
	db  *store.DB
	now func() time.Time
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- stepsDesc
	ch <- dueDesc
	ch <- outboxDesc
	ch <- suppressedDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	st, err := c.db.Stats(c.now())
	if err != nil {
		return
	}
	for flow, byStatus := range st.ByFlow {
		for status, n := range byStatus {
			ch <- prometheus.MustNewConstMetric(stepsDesc, prometheus.GaugeValue, float64(n), flow, string(status))
		}
	}
	ch <- prometheus.MustNewConstMetric(dueDesc, prometheus.GaugeValue, float64(st.DueNow))
	ch <- prometheus.MustNewConstMetric(outboxDesc, prometheus.GaugeValue, float64(st.OutboxPending), "pending")
	ch <- prometheus.MustNewConstMetric(outboxDesc, prometheus.GaugeValue, float64(st.OutboxParked), "parked")
	ch <- prometheus.MustNewConstMetric(suppressedDesc, prometheus.GaugeValue, float64(st.Suppressed))
}
