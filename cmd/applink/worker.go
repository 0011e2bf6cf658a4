package main

import (
	"context"
	"slices"
	"sync"

	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/applink-dev/applink/connectors/cxone"

	"github.com/applink-dev/applink/connectors/outbox"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/delivery"
	"github.com/applink-dev/applink/engine/state"
	"github.com/applink-dev/applink/engine/state/pgstate"
	"github.com/applink-dev/applink/serve"
)

// envStateDSN is where a worker (and a spec's state block, by convention)
// finds the PostgreSQL state when --state is not given: a DSN holding a
// password is better kept off the command line, which `ps` shows.
const envStateDSN = "APPLINK_STATE_DSN"

func cmdWorker(ctx context.Context, args []string, std stdio) int {
	c := newCommand("worker", "", std)
	dsn := c.fs.String("state", "", "the PostgreSQL state `DSN` whose queued calls to deliver (default $"+envStateDSN+")")
	concurrency := c.fs.Int("concurrency", 4, "run `N` deliveries at once in this process")
	jobTimeout := c.fs.Duration("job-timeout", 10*time.Minute, "give up one delivery attempt after `DURATION` (it is retried)")
	rescueAfter := c.fs.Duration("rescue-after", 15*time.Minute, "hand a delivery still running after `DURATION` (its worker died) to another worker; more than --job-timeout")
	pollEvery := c.fs.Duration("poll-every", time.Second, "look for jobs every `DURATION` besides PostgreSQL's notifications")
	format := c.withFormat("text", []string{"text", "json"}, "log format on stderr")
	listen := c.fs.String("listen", "", "serve /healthz, /readyz and /metrics on `ADDR` (host:port; default: none)")
	progressEvery := c.fs.Duration("progress-every", 30*time.Second, "log a progress line (delivered, failed, rate) every `DURATION`; 0: never")
	pos, code, ok := c.parse(args)
	if !ok {
		return code
	}
	if len(pos) != 0 {
		fmt.Fprintf(std.err, "applink worker: takes no arguments, got %d\n", len(pos))
		c.usageLine(std.err)
		return exitUsage
	}
	if *dsn == "" {
		*dsn = os.Getenv(envStateDSN)
	}
	if !state.IsDSN(*dsn) {
		fmt.Fprintf(std.err, "applink worker: needs a PostgreSQL state: --state postgres://user@host:5432/db or $%s\n", envStateDSN)
		c.usageLine(std.err)
		return exitUsage
	}
	if *rescueAfter <= *jobTimeout {
		fmt.Fprintln(std.err, "applink worker: --rescue-after must be more than --job-timeout (a delivery still in time would be run twice)")
		return exitUsage
	}
	if *concurrency < 1 {
		fmt.Fprintln(std.err, "applink worker: --concurrency must be at least 1")
		return exitUsage
	}
	var h slog.Handler = slog.NewTextHandler(std.err, nil)
	if *format == "json" {
		h = slog.NewJSONHandler(std.err, nil)
	}
	log := slog.New(h)
	name := delivery.WorkerName()
	log.Info("worker starting", "state", state.RedactDSN(*dsn), "concurrency", *concurrency, "pid", os.Getpid(), "name", name)
	// One pool for the deliveries, the queue's metrics and /readyz.
	db, err := pgstate.Connect(ctx, *dsn, pgstate.Options{Jobs: delivery.Jobs})
	if err == nil {
		if err = db.Migrate(ctx); err != nil {
			db.Close()
		}
	}
	if err != nil {
		log.Error("worker stopped", "error", err.Error())
		return exitFindings
	}
	defer db.Close()
	pool := db.Pool()
	metrics := serve.NewWorkerMetrics(queueReader(db))
	clients := newWorkerCXone(metrics)
	if *listen != "" {
		ep := &serve.WorkerEndpoint{Listen: *listen, Metrics: metrics, Log: log, Ready: func(ctx context.Context) error {
			if err := pool.Ping(ctx); err != nil {
				return fmt.Errorf("state not reachable: %w", err)
			}
			return clients.ready(ctx)
		}}
		addr, err := ep.Start(ctx)
		if err != nil {
			log.Error("worker stopped", "error", err.Error())
			return exitFindings
		}
		log.Info("worker endpoint listening", "addr", addr)
	}
	err = delivery.Run(ctx, delivery.Config{
		DSN: *dsn, Pool: pool, Schema: db.Schema(), Name: name, Registry: registry(), Concurrency: *concurrency, JobTimeout: *jobTimeout, RescueAfter: *rescueAfter,
		PollEvery: *pollEvery, Log: log, Observer: metrics, ProgressEvery: *progressEvery, Clients: clients.client,
		Segments: func(dir, name string) (delivery.SegmentAppender, error) { return outbox.OpenSegmentWriter(dir, name) },
		Started:  func() { log.Info("worker ready: delivering queued calls") },
	})
	if err != nil {
		log.Error("worker stopped", "error", err.Error())
		return exitFindings
	}
	log.Info("worker stopped")
	return exitOK
}

// queueReader reads every spec's delivery queue for /metrics.
func queueReader(db *pgstate.DB) serve.QueueReader {
	return func(ctx context.Context) (map[string]serve.QueueView, error) {
		qs, err := db.QueueBySpec(ctx)
		if err != nil {
			return nil, err
		}
		out := make(map[string]serve.QueueView, len(qs))
		for spec, q := range qs {
			out[spec] = queueView(q)
		}
		return out, nil
	}
}

// queueView is the state's queue as serve shows it.
func queueView(q state.QueueStats) serve.QueueView {
	return serve.QueueView{Queued: q.Queued, Delivering: q.Delivering, Retrying: q.Retrying, Failed: q.Failed, Oldest: q.Oldest}
}

// workerClients returns the long-lived sink clients of one worker process
// (one per target, for its life); m, when set, counts their requests,
// retries and token refreshes.
func workerClients(m *serve.WorkerMetrics) func(dsl.Sink) (delivery.CallClient, error) {
	return newWorkerCXone(m).client
}

// workerCXone is a worker's CXone clients: cxone.Pool keeps one per target.
type workerCXone struct {
	pool *cxone.Pool
	mu   sync.Mutex
	used []*cxone.Client
}

func newWorkerCXone(m *serve.WorkerMetrics) *workerCXone {
	opts := cxone.Options{}
	if m != nil {
		opts.Observer = cxoneObserver{m}
	}
	return &workerCXone{pool: cxone.NewPool(opts)}
}

func (w *workerCXone) client(cfg dsl.Sink) (delivery.CallClient, error) {
	if cfg.Kind != "cxone" {
		return nil, fmt.Errorf("sink %q: no connector for it in this build", cfg.Kind)
	}
	c, err := w.pool.Client(cfg)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	if !slices.Contains(w.used, c) {
		w.used = append(w.used, c)
	}
	w.mu.Unlock()
	return cxoneCallClient{c}, nil
}

// ready says whether every client this worker used is authenticated
// (Connect: discovery and a token; it does nothing once connected).
func (w *workerCXone) ready(ctx context.Context) error {
	w.mu.Lock()
	used := slices.Clone(w.used)
	w.mu.Unlock()
	for _, c := range used {
		if err := c.Connect(ctx); err != nil {
			return fmt.Errorf("CXone client not authenticated: %w", err)
		}
	}
	return nil
}

// cxoneCallClient is a cxone.Client as the delivery workers use it.
type cxoneCallClient struct{ *cxone.Client }

func (c cxoneCallClient) ResolveAgent(ctx context.Context, a *connector.OutAgent) (string, error) {
	id, _, err := c.SyncAgent(ctx, a)
	return id, err
}

// cxoneObserver feeds a CXone client's requests, retries and token
// refreshes to the worker's metrics.
type cxoneObserver struct{ m *serve.WorkerMetrics }

func (o cxoneObserver) Request(f cxone.Family, status int)  { o.m.Request(string(f), status) }
func (o cxoneObserver) Retry(f cxone.Family, reason string) { o.m.Retry(string(f), reason) }
func (o cxoneObserver) TokenRefresh(ok bool)                { o.m.TokenRefresh(ok) }
