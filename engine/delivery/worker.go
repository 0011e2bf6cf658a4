package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/killpoint"
	"github.com/applink-dev/applink/engine/state"
	"github.com/applink-dev/applink/engine/state/pgstate"
)

// Config configures the delivery workers of one process.
type Config struct {
	DSN string // the PostgreSQL state (may hold a password: never printed)
	// Pool, when set, is used instead of connecting to DSN (benchmarks
	// count its round trips); Run does not close it.
	Pool *pgxpool.Pool
	// Schema is the state's PostgreSQL schema ("": the DSN's search_path,
	// else state.DefaultSchema); with Pool, its connections' search_path.
	Schema   string
	Registry engine.Registry // the sinks: a job's target names one, or the outbox
	// Concurrency is how many deliveries this process runs at once
	// (default 4).
	Concurrency int
	// JobTimeout bounds one delivery attempt (default 10 minutes).
	JobTimeout time.Duration
	// RescueAfter is how long a delivery may stay running before River
	// takes it for stuck (its worker was killed) and retries it elsewhere;
	// more than JobTimeout (default JobTimeout + 5 minutes).
	RescueAfter time.Duration
	// SweepEvery is how often a row whose job River discarded without
	// settling it (a worker killed on the last attempt) is marked failed
	// (default 1 minute).
	SweepEvery time.Duration
	// PollEvery is how often a worker polls for jobs besides PostgreSQL's
	// notifications (default 1 s).
	PollEvery time.Duration
	Log       *slog.Logger // one line per failure and retry; default discarded
	// Started, when set, is called once the workers run (tests).
	Started func()
}

func (c *Config) defaults() {
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = 10 * time.Minute
	}
	if c.RescueAfter <= c.JobTimeout {
		c.RescueAfter = c.JobTimeout + 5*time.Minute
	}
	if c.SweepEvery <= 0 {
		c.SweepEvery = time.Minute
	}
	if c.PollEvery <= 0 {
		c.PollEvery = time.Second
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// Run works delivery jobs until ctx is done, then finishes the deliveries
// in flight (up to JobTimeout) and returns nil.
func Run(ctx context.Context, cfg Config) error {
	cfg.defaults()
	var db *pgstate.DB
	var err error
	if cfg.Pool != nil {
		db, err = pgstate.FromPool(cfg.Pool, pgstate.Options{Schema: cfg.Schema, Jobs: Jobs})
	} else {
		db, err = pgstate.Connect(ctx, cfg.DSN, pgstate.Options{Schema: cfg.Schema, Jobs: Jobs})
		if err == nil {
			defer db.Close()
		}
	}
	if err != nil {
		return err
	}
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	pool := db.Pool()
	w := &Worker{db: db, reg: cfg.Registry, log: cfg.Log, timeout: cfg.JobTimeout}
	workers := river.NewWorkers()
	river.AddWorker(workers, w)
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Schema:               db.Schema(),
		Queues:               map[string]river.QueueConfig{Jobs.Queue: {MaxWorkers: cfg.Concurrency}},
		Workers:              workers,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		FetchPollInterval:    cfg.PollEvery,
		// River fetches at most once per cooldown (default 100 ms), which
		// caps a worker at Concurrency deliveries per cooldown: measured,
		// 40/s with 4 at once. A short cooldown fetches as slots free up.
		FetchCooldown: min(cfg.PollEvery, 5*time.Millisecond),
		Logger:        riverLogger(cfg.Log),
	})
	if err != nil {
		return fmt.Errorf("delivery: %w", err)
	}
	// River stops on its own context only by cancelling jobs mid-delivery:
	// give it one that outlives ctx, and stop it softly below.
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("delivery: %w", err)
	}
	if cfg.Started != nil {
		cfg.Started()
	}
	sweep := time.NewTicker(cfg.SweepEvery)
	defer sweep.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-sweep.C:
			if n, err := db.Sweep(ctx); err != nil {
				cfg.Log.Warn("sweep of discarded deliveries failed", "error", err.Error())
			} else if n > 0 {
				cfg.Log.Warn("deliveries discarded by the queue marked failed", "rows", n)
			}
		}
	}
	stop, cancel := context.WithTimeout(context.Background(), cfg.JobTimeout)
	defer cancel()
	if err := client.Stop(stop); err != nil {
		// Past the timeout, cancel what is left: River retries it.
		hard, cancelHard := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancelHard()
		_ = client.StopAndCancel(hard)
	}
	return nil
}

// riverLogger keeps River's own logging to warnings and errors.
func riverLogger(l *slog.Logger) *slog.Logger {
	return slog.New(levelHandler{Handler: l.Handler(), min: slog.LevelWarn})
}

type levelHandler struct {
	slog.Handler
	min slog.Level
}

func (h levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

// Worker is the River worker of delivery jobs.
type Worker struct {
	river.WorkerDefaults[Args]
	db      *pgstate.DB
	reg     engine.Registry
	log     *slog.Logger
	timeout time.Duration
	targets sync.Map // spec + "\x00" + run id -> *Target
	outbox  sync.Map // outbox folder -> *sync.Mutex
}

// NewWorker returns the worker on a state, for a River client of one's own
// (tests, benchmarks).
func NewWorker(db *pgstate.DB, reg engine.Registry, log *slog.Logger) *Worker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Worker{db: db, reg: reg, log: log}
}

// Timeout implements river.Worker.
func (w *Worker) Timeout(*river.Job[Args]) time.Duration { return w.timeout }

// outcome is what one delivery attempt came to.
type outcome struct {
	ok        bool
	code      string // the failure's reason code (http_422, encode, …)
	detail    string
	permanent bool              // no retry can help
	media     *engine.MediaSent // what the sink sent of the call's media
}

// Work implements river.Worker: deliver the call, then settle the job and
// the ledger row in one transaction. A failure that a retry may cure is
// returned to River (which retries with backoff) unless this was the last
// attempt; then, or when no retry can help, the row ends failed.
func (w *Worker) Work(ctx context.Context, job *river.Job[Args]) error {
	a := &job.Args
	pending, err := w.db.Pending(ctx, a.Spec, a.Key, a.FP)
	switch {
	case err != nil:
		return fmt.Errorf("ledger row of call %s: %w", a.Call.CallID, err)
	case !pending:
		// A later run queued a newer version of the call (or the row is
		// gone): that job delivers it; this one is done.
		return w.settle(ctx, job, nil)
	}
	out := w.deliver(ctx, job)
	if out.ok {
		killpoint.Hit(killpoint.DeliveryAnswered)
	}
	if out.ok || out.permanent || job.Attempt >= job.MaxAttempts {
		if !out.ok {
			w.log.Warn("delivery failed", "spec", a.Spec, "call", a.Call.CallID, "attempt", job.Attempt, "reason", out.code, "detail", out.detail)
		}
		return w.settle(ctx, job, &out)
	}
	w.log.Info("delivery will be retried", "spec", a.Spec, "call", a.Call.CallID, "attempt", job.Attempt, "of", job.MaxAttempts, "reason", out.code, "detail", out.detail)
	// The row shows the retry (River keeps the job); when it is due is
	// River's default backoff, attempt⁴ seconds.
	next := time.Now().Add(time.Duration(job.Attempt*job.Attempt*job.Attempt*job.Attempt) * time.Second)
	if _, err := w.db.Settle(ctx, []state.Outcome{{Spec: a.Spec, Key: a.Key, FP: a.FP, State: state.StateRetrying,
		Failure: &engine.Failure{Code: out.code, Detail: out.detail}, Attempt: job.Attempt, NextTry: next}}); err != nil {
		w.log.Warn("ledger row of a retried delivery not updated", "spec", a.Spec, "call", a.Call.CallID, "error", err.Error())
	}
	return fmt.Errorf("deliver call %s: %s: %s", a.Call.CallID, out.code, out.detail)
}

// settle completes the job and, when out says so, the ledger row, in one
// transaction. The row is touched only while it is still this delivery's.
func (w *Worker) settle(ctx context.Context, job *river.Job[Args], out *outcome) error {
	tx, err := w.db.Pool().Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	a := &job.Args
	if out != nil {
		o := state.Outcome{Spec: a.Spec, Key: a.Key, FP: a.FP, State: engine.StateImported, Reason: a.Reason, Media: out.media}
		if !out.ok {
			o.State, o.Failure, o.Attempt = engine.StateFailed, &engine.Failure{Code: out.code, Detail: out.detail, Permanent: out.permanent}, job.Attempt
		}
		if _, err := w.db.SettleTx(ctx, tx, []state.Outcome{o}); err != nil {
			return fmt.Errorf("settle call %s: %w", a.Call.CallID, err)
		}
		killpoint.Hit(killpoint.DeliveryLedgerUpdated)
	}
	if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job); err != nil {
		return fmt.Errorf("settle call %s: %w", a.Call.CallID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("settle call %s: %w", a.Call.CallID, err)
	}
	return nil
}

// target reads where a run's deliveries go (once per run and process).
func (w *Worker) target(ctx context.Context, spec, runID string) (*Target, error) {
	k := spec + "\x00" + runID
	if t, ok := w.targets.Load(k); ok {
		return t.(*Target), nil
	}
	raw, err := w.db.Target(ctx, spec, runID)
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("run %s of spec %s records no delivery target", runID, spec)
	}
	t := &Target{}
	if err := json.Unmarshal(raw, t); err != nil {
		return nil, fmt.Errorf("run %s of spec %s: delivery target: %w", runID, spec, err)
	}
	w.targets.Store(k, t)
	return t, nil
}

// deliver runs one delivery through the target's sink: open, the call's
// agent (so a sink that maps agents resolves it), the call and its ledger
// line, commit. Nothing counts as delivered until Commit returns nil and
// the sink reported no failure of the call.
func (w *Worker) deliver(ctx context.Context, job *river.Job[Args]) outcome {
	a := &job.Args
	t, err := w.target(ctx, a.Spec, a.RunID)
	if err != nil {
		if ctx.Err() != nil {
			return outcome{code: "delivery_error", detail: err.Error()}
		}
		return outcome{code: "no_target", detail: err.Error(), permanent: true}
	}
	sink, err := w.sink(t)
	if err != nil {
		return outcome{code: "sink_config", detail: err.Error(), permanent: true}
	}
	if t.Sink == nil {
		// The cumulative outbox merges each delivery into its files: one
		// at a time per folder (and one worker process per outbox: it is
		// the embedded sink for tests and demos, not for scale).
		mu, _ := w.outbox.LoadOrStore(t.Outbox, &sync.Mutex{})
		mu.(*sync.Mutex).Lock()
		defer mu.(*sync.Mutex).Unlock()
	}
	fields := t.fields()
	call, err := a.Call.outCall(fields)
	if err != nil {
		return outcome{code: "bad_job", detail: err.Error(), permanent: true}
	}
	var mu sync.Mutex
	var refused *engine.Failure
	var media *engine.MediaSent
	info := engine.RunInfo{RunID: fmt.Sprintf("%s.d%d", a.RunID, job.ID), PlanHash: t.PlanHash, Fields: fields,
		Fail: func(entity, id string, f engine.Failure) {
			if entity == "call" && id == a.Call.CallID {
				mu.Lock()
				refused = &f
				mu.Unlock()
			}
		},
		MediaSent: func(id string, m engine.MediaSent) {
			if id == a.Call.CallID {
				mu.Lock()
				media = &m
				mu.Unlock()
			}
		}}
	err = func() error {
		if err := sink.Open(ctx, info); err != nil {
			return err
		}
		// A spec's sink (CXone) maps the call's agent to the user it made
		// for it during the run: give it the agent again. The outbox holds
		// the agents the run wrote and keys them by their ledger rows, so it
		// gets none here.
		if a.Agent != nil && t.Sink != nil {
			if err := sink.Agent(ctx, a.Agent.outAgent()); err != nil {
				return err
			}
		}
		if err := sink.Call(ctx, call); err != nil {
			return err
		}
		if err := sink.Ledger(ctx, engine.LedgerRow{Entity: "call", ID: a.Call.CallID, State: engine.StateImported, Reason: a.Reason}); err != nil {
			return err
		}
		return sink.Commit(ctx)
	}()
	if err != nil {
		_ = sink.Abort()
		return outcome{code: "delivery_error", detail: err.Error()}
	}
	mu.Lock()
	defer mu.Unlock()
	if refused != nil {
		return outcome{code: refused.Code, detail: refused.Detail, permanent: refused.Permanent}
	}
	return outcome{ok: true, media: media}
}

func (w *Worker) sink(t *Target) (engine.Sink, error) {
	if t.Sink != nil {
		d := w.reg.Sink(t.Sink.Kind)
		if d == nil {
			return nil, fmt.Errorf("sink %q: no connector for it in this build", t.Sink.Kind)
		}
		return d.Open(*t.Sink, nil)
	}
	if w.reg.Outbox == nil || t.Outbox == "" {
		return nil, errors.New("no outbox connector in this build")
	}
	return w.reg.Outbox(t.Outbox), nil
}

// Sweep marks failed the open rows whose job River discarded or cancelled
// without the worker settling them (see pgstate.DB.Sweep).
func Sweep(ctx context.Context, db *pgstate.DB) (int64, error) { return db.Sweep(ctx) }
