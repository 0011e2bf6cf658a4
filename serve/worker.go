package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// WorkerMetrics are a delivery worker's Prometheus metrics: deliveries by
// spec, outcome and reason, their duration, the sink's requests by
// endpoint family and status, its retries and token refreshes, and (at
// scrape time) the queue. It implements delivery.Observer; cmd adapts the
// CXone client's observer to Request, Retry and TokenRefresh.
type WorkerMetrics struct {
	reg        *prometheus.Registry
	deliveries *prometheus.CounterVec   // spec, outcome, reason
	duration   *prometheus.HistogramVec // spec, outcome
	requests   *prometheus.CounterVec   // endpoint, status
	retries    *prometheus.CounterVec   // endpoint, reason
	tokens     *prometheus.CounterVec   // outcome
}

// Delivery metric help texts, shared by serve's and the worker's /metrics.
const (
	deliveriesHelp = "Delivery attempts ended by this process, by spec, outcome (imported, failed, retrying, stale) and reason (the failure's code)."
	durationHelp   = "Duration of delivery attempts by this process, by spec and outcome."
)

// NewWorkerMetrics returns a worker's metrics; queue, when set, is read at
// each scrape (the queue by spec and state, the oldest queued call's age).
func NewWorkerMetrics(queue QueueReader) *WorkerMetrics {
	m := &WorkerMetrics{reg: prometheus.NewRegistry()}
	m.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "applink_deliveries_total", Help: deliveriesHelp},
		[]string{"spec", "outcome", "reason"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "applink_delivery_duration_seconds", Help: durationHelp,
		Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 12)}, []string{"spec", "outcome"}) // 5 ms … ~5 min
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "applink_sink_requests_total",
		Help: "Requests the sink made, by endpoint family and HTTP status (0: no answer)."}, []string{"endpoint", "status"})
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "applink_sink_retries_total",
		Help: "Requests the sink sent again, by endpoint family and reason."}, []string{"endpoint", "reason"})
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "applink_sink_token_refreshes_total",
		Help: "Token requests of the sink's client, by outcome (ok, failed)."}, []string{"outcome"})
	m.reg.MustRegister(m.deliveries, m.duration, m.requests, m.retries, m.tokens,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if queue != nil {
		m.reg.MustRegister(&queueCollector{read: queue})
	}
	return m
}

// Delivered implements delivery.Observer.
func (m *WorkerMetrics) Delivered(spec, outcome, reason string, took time.Duration) {
	m.deliveries.WithLabelValues(spec, outcome, reason).Inc()
	m.duration.WithLabelValues(spec, outcome).Observe(took.Seconds())
}

// Request counts one sink request.
func (m *WorkerMetrics) Request(endpoint string, status int) {
	m.requests.WithLabelValues(endpoint, strconv.Itoa(status)).Inc()
}

// Retry counts one request sent again.
func (m *WorkerMetrics) Retry(endpoint, reason string) {
	m.retries.WithLabelValues(endpoint, reason).Inc()
}

// TokenRefresh counts one token request.
func (m *WorkerMetrics) TokenRefresh(ok bool) {
	o := "ok"
	if !ok {
		o = "failed"
	}
	m.tokens.WithLabelValues(o).Inc()
}

// Handler serves the metrics.
func (m *WorkerMetrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// QueueReader reads the delivery queue of every spec in the state.
type QueueReader func(ctx context.Context) (map[string]QueueView, error)

// QueueView is one spec's delivery queue as the metrics, the status page
// and the worker show it.
type QueueView struct {
	Queued, Delivering, Retrying, Failed int64
	Oldest                               time.Time // enqueue time of the oldest open row; zero if none
}

var (
	queueStateDesc = prometheus.NewDesc("applink_queue",
		"Calls in the spec's delivery queue (PostgreSQL state) by state: queued, delivering, retrying, failed.", []string{"spec", "state"}, nil)
	queueOldestDesc = prometheus.NewDesc("applink_queue_oldest_age_seconds",
		"Age of the spec's oldest call still waiting for its delivery (0 when none).", []string{"spec"}, nil)
)

// queueCollector reads the queue at scrape time.
type queueCollector struct{ read QueueReader }

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueStateDesc
	ch <- queueOldestDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	qs, err := c.read(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(queueStateDesc, err)
		return
	}
	now := time.Now()
	for spec, q := range qs {
		collectQueue(ch, spec, q, now)
	}
}

func collectQueue(ch chan<- prometheus.Metric, spec string, q QueueView, now time.Time) {
	for _, s := range []struct {
		state string
		n     int64
	}{{"queued", q.Queued}, {"delivering", q.Delivering}, {"retrying", q.Retrying}, {"failed", q.Failed}} {
		ch <- prometheus.MustNewConstMetric(queueStateDesc, prometheus.GaugeValue, float64(s.n), spec, s.state)
	}
	age := 0.0
	if !q.Oldest.IsZero() {
		age = max(0, now.Sub(q.Oldest).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(queueOldestDesc, prometheus.GaugeValue, age, spec)
}

// WorkerEndpoint is a worker's HTTP: /healthz (the process answers),
// /readyz (ready says what is not: the state unreachable, the sink's
// client not authenticated) and /metrics.
type WorkerEndpoint struct {
	Listen  string
	Metrics *WorkerMetrics
	Ready   func(ctx context.Context) error
	Log     *slog.Logger
}

// Start listens and serves until ctx is done; it returns the address it
// listens on.
func (e *WorkerEndpoint) Start(ctx context.Context) (string, error) {
	ln, err := net.Listen("tcp", e.Listen)
	if err != nil {
		return "", fmt.Errorf("worker: listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if e.Ready != nil {
			if err := e.Ready(rctx); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintf(w, "not ready: %v\n", err)
				return
			}
		}
		fmt.Fprintln(w, "ready")
	})
	if e.Metrics != nil {
		mux.Handle("/metrics", e.Metrics.Handler())
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && e.Log != nil {
			e.Log.Error("worker endpoint stopped", "error", err.Error())
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	return ln.Addr().String(), nil
}
