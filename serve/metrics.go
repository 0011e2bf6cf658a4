package serve

import (
	"context"
	"github.com/applink-dev/applink/engine/state"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// SinkCounters is what a sink may implement to report its traffic since it
// was opened: requests made, retries (a request sent again after a
// retryable answer or a network error) and failures (rows it refused or
// gave up on). serve reads it during and after each run and adds to its
// counters; cmd gives the CXone sink these counters. The outbox makes no
// requests.
type SinkCounters interface {
	SinkCounters() (requests, retries, failures int64)
}

// QueueDepth reports a spec's delivery queue: calls queued and being
// delivered. The PostgreSQL state with River workers implements it; with
// the DuckDB state there is no queue and no metric.
type QueueDepth interface {
	QueueDepth(ctx context.Context) (queued, inFlight int64, err error)
}

// StateQueue is the QueueDepth of a state with a delivery queue (PostgreSQL).
func StateQueue(st interface {
	Queue(ctx context.Context) (state.QueueStats, error)
}) QueueDepth {
	return stateQueue{st}
}

type stateQueue struct {
	st interface {
		Queue(ctx context.Context) (state.QueueStats, error)
	}
}

func (q stateQueue) QueueDepth(ctx context.Context) (queued, inFlight int64, err error) {
	s, err := q.st.Queue(ctx)
	return s.Queued, s.InFlight, err
}

// metrics are serve's Prometheus metrics, on a registry of its own (the
// process's global registry stays untouched, so tests can run servers side
// by side).
type metrics struct {
	reg *prometheus.Registry

	rows       *prometheus.GaugeVec     // last committed run: spec, entity, state, reason
	problems   *prometheus.GaugeVec     // last committed run: spec, kind
	runs       *prometheus.CounterVec   // spec, outcome
	duration   *prometheus.HistogramVec // spec
	sent       *prometheus.CounterVec   // spec, entity
	lastCommit *prometheus.GaugeVec     // spec
	running    *prometheus.GaugeVec     // spec
	holder     *prometheus.GaugeVec     // spec
	sinkReq    *prometheus.CounterVec   // spec
	sinkRetry  *prometheus.CounterVec   // spec
	sinkFail   *prometheus.CounterVec   // spec
}

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	spec := []string{"spec"}
	m.rows = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "applink_rows",
		Help: "Source rows of the spec's last committed run by entity (agent, call), ledger state and reason (empty for plain imported)."},
		[]string{"spec", "entity", "state", "reason"})
	m.problems = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "applink_last_run_problems",
		Help: "Rows of the last committed run that need attention: failed, unreadable (no id) and business data without a call."},
		[]string{"spec", "kind"})
	m.runs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "applink_runs_total",
		Help: "Runs attempted by this process, by outcome: ok, attention (committed with failed or unreadable rows), failed, interrupted, busy (state in use)."},
		[]string{"spec", "outcome"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "applink_run_duration_seconds",
		Help:    "Duration of the runs this process attempted (busy attempts excluded).",
		Buckets: prometheus.ExponentialBuckets(0.05, 3, 12)}, spec) // 50 ms … ~2.5 h
	m.sent = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "applink_sent_total",
		Help: "Rows handed to the sink by committed runs (new or changed), by entity."},
		[]string{"spec", "entity"})
	m.lastCommit = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "applink_last_commit_timestamp_seconds",
		Help: "End of the spec's last committed run, by any process (Unix time)."}, spec)
	m.running = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "applink_run_in_progress",
		Help: "1 while this process runs the spec."}, spec)
	m.holder = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "applink_lock_held",
		Help: "1 when this process holds the spec's lock (runs it), 0 on a standby."}, spec)
	m.sinkReq = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "applink_sink_requests_total",
		Help: "Requests the spec's sink made (sinks that report them)."}, spec)
	m.sinkRetry = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "applink_sink_retries_total",
		Help: "Requests the spec's sink sent again after a retryable answer or error."}, spec)
	m.sinkFail = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "applink_sink_failures_total",
		Help: "Requests the spec's sink gave up on."}, spec)
	m.reg.MustRegister(m.rows, m.problems, m.runs, m.duration, m.sent, m.lastCommit, m.running, m.holder,
		m.sinkReq, m.sinkRetry, m.sinkFail,
		&scrapeCollector{s: s},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// setLastCommitted replaces the spec's row gauges with a committed run's.
func (m *metrics) setLastCommitted(spec string, v *runView) {
	m.rows.DeletePartialMatch(prometheus.Labels{"spec": spec})
	for _, r := range v.Rows {
		m.rows.WithLabelValues(spec, r.Entity, r.State, r.Reason).Set(float64(r.N))
	}
	m.problems.WithLabelValues(spec, "failed").Set(float64(v.Problems.Failed))
	m.problems.WithLabelValues(spec, "unreadable").Set(float64(v.Problems.Unreadable))
	m.problems.WithLabelValues(spec, "bd_without_call").Set(float64(v.Problems.BDWithoutCall))
	m.lastCommit.WithLabelValues(spec).Set(float64(v.Ended.UnixNano()) / 1e9)
}

// scrapeCollector computes at scrape time what depends on the clock or on
// another system: the lag and the queue depth.
type scrapeCollector struct{ s *Server }

var (
	lagDesc = prometheus.NewDesc("applink_lag_seconds",
		"Now minus the start of the newest imported call of the spec's last committed run.", []string{"spec"}, nil)
	queueDesc = prometheus.NewDesc("applink_queue_depth",
		"Deliveries in the spec's queue (PostgreSQL state): state is queued or in_flight.", []string{"spec", "state"}, nil)
)

func (c *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- lagDesc
	ch <- queueDesc
	ch <- queueStateDesc
	ch <- queueOldestDesc
}

func (c *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.s.now()
	for _, r := range c.s.specs {
		if newest := r.newestImported(); !newest.IsZero() {
			ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, now.Sub(newest).Seconds(), r.name)
		}
		if r.queue == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		queued, inFlight, err := r.queue.QueueDepth(ctx)
		cancel()
		if err != nil {
			ch <- prometheus.NewInvalidMetric(queueDesc, err)
			continue
		}
		ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(queued), r.name, "queued")
		ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(inFlight), r.name, "in_flight")
		if dr, ok := r.queue.(DeliveryReader); ok {
			collectDeliveries(ch, r.name, dr, now)
		}
	}
}
