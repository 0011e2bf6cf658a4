package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/applink-dev/applink/dsl"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
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
	// Segments opens this process's segment writer in an outbox folder
	// (connectors/outbox.OpenSegmentWriter); nil: deliveries into an
	// outbox merge into its files one at a time (slow, one process).
	Segments func(dir, name string) (SegmentAppender, error)
	// Name names this process's segment folders (default: host, pid and
	// start time).
	Name string
	// Clients returns the long-lived client of a sink block (the same one
	// for the same target); nil: each delivery opens the sink anew.
	Clients func(sink dsl.Sink) (CallClient, error)
	// ShareEvery is how often the worker counts the live workers (those
	// running deliveries, from River's jobs) and scales its clients' rate
	// limits to its share of the tenant's rate (default 10 s).
	ShareEvery time.Duration
	// FetchCooldown is the shortest time between two fetches of jobs
	// (default 20 ms).
	FetchCooldown time.Duration
	// Linger is how long the ledger checks and settles of deliveries
	// ending together wait for more before their PostgreSQL round trip
	// (default 10 ms; negative: none): a delivery that takes a network
	// round trip ends apart from the others, and gathering them keeps the
	// cost below one round trip per delivery.
	Linger time.Duration
	// Observer hears every delivery's end (metrics); may be nil.
	Observer Observer
	// ProgressEvery logs a progress line (delivered, failed, rate) this
	// often; 0: never.
	ProgressEvery time.Duration
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
	if c.FetchCooldown <= 0 {
		c.FetchCooldown = 20 * time.Millisecond
	}
	if c.Linger == 0 {
		c.Linger = 10 * time.Millisecond
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
		schema := cfg.Schema
		if schema == "" {
			// The pool's own search_path (a DSN's search_path=…) names it.
			sp := cfg.Pool.Config().ConnConfig.RuntimeParams["search_path"]
			schema = strings.Trim(strings.TrimSpace(strings.Split(sp, ",")[0]), `"`)
		}
		db, err = pgstate.FromPool(cfg.Pool, pgstate.Options{Schema: schema, Jobs: Jobs})
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
	prog := &progress{next: cfg.Observer}
	cfg.Observer = prog
	w := newWorker(db, cfg)
	defer w.Close()
	workers := river.NewWorkers()
	river.AddWorker(workers, w)
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		// The job's attempted_by names this process: its segment folder too.
		ID:                   w.name,
		Schema:               db.Schema(),
		Queues:               map[string]river.QueueConfig{Jobs.Queue: {MaxWorkers: cfg.Concurrency}},
		Workers:              workers,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		FetchPollInterval:    cfg.PollEvery,
		// River fetches at most once per cooldown (default 100 ms), which
		// caps a worker at Concurrency deliveries per cooldown: measured,
		// 40/s with 4 at once. A shorter one fetches as slots free up; not
		// much shorter than the deliveries' own cycle, so that one fetch
		// brings several jobs.
		FetchCooldown: min(cfg.PollEvery, cfg.FetchCooldown),
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
	if cfg.ShareEvery <= 0 {
		cfg.ShareEvery = 10 * time.Second
	}
	shareT := time.NewTicker(cfg.ShareEvery)
	defer shareT.Stop()
	var progC <-chan time.Time
	if cfg.ProgressEvery > 0 {
		t := time.NewTicker(cfg.ProgressEvery)
		defer t.Stop()
		progC = t.C
	}
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-progC:
			prog.log(cfg.Log)
		case <-shareT.C:
			w.share(ctx)
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

// SegmentAppender is a worker's own segment files in an outbox folder
// (connectors/outbox.SegmentWriter): a delivered call is appended, and Sync
// makes a batch durable before its ledger rows are settled.
type SegmentAppender interface {
	Append(run string, seq int64, fieldsKey string, fields []dsl.Field, c *connector.OutCall, r connector.LedgerRow) error
	Sync() error
	Close() error
}

// CallClient is a sink's long-lived client (connectors/cxone.Client behind
// an adapter in cmd): one per target for the worker's life, shared by all
// its deliveries, so discovery, the token and the connections are paid
// once. DeliverCall sends only the requests that carry the call; a refusal
// is a connector.Failure (errors.As), anything else is retried later.
type CallClient interface {
	Connect(ctx context.Context) error
	DeliverCall(ctx context.Context, call *connector.OutCall, fields []dsl.Field, sinkUserID string) (*connector.MediaSent, error)
	// ResolveAgent finds (or creates) the sink's user of an agent the run
	// did not send (unchanged since an earlier run).
	ResolveAgent(ctx context.Context, a *connector.OutAgent) (string, error)
	// SetShare scales the client's rate limits to a share of the tenant's.
	SetShare(share float64)
}

// Observer is told of every delivery attempt's end (metrics, progress).
// outcome is imported, failed, retrying or stale (a newer version of the
// call was queued since: nothing sent); reason is the failure's code.
type Observer interface {
	Delivered(spec, outcome, reason string, took time.Duration)
}

// Outcomes of a delivery attempt, as Observer hears them.
const (
	OutcomeImported = "imported"
	OutcomeFailed   = "failed"
	OutcomeRetrying = "retrying"
	OutcomeStale    = "stale"
)

// Worker is the River worker of delivery jobs. It keeps, for its life, one
// segment writer per outbox folder and the targets of the runs it served;
// the ledger checks and updates of concurrent deliveries go to PostgreSQL
// in batches (group commit), and River's completer completes the jobs in
// batches after Work returns.
type Worker struct {
	river.WorkerDefaults[Args]
	db       *pgstate.DB
	pool     *pgxpool.Pool
	reg      engine.Registry
	log      *slog.Logger
	timeout  time.Duration
	name     string // this process's segment folder name
	segOpen  func(dir, name string) (SegmentAppender, error)
	obs      Observer
	targets  sync.Map // spec + "\x00" + run id -> *Target
	targetMu sync.Mutex
	outbox   sync.Map // outbox folder -> *sync.Mutex (the per-delivery path)
	clients  func(dsl.Sink) (CallClient, error)
	used     sync.Map // CallClient -> struct{}: clients this worker used, for SetShare
	agents   sync.Map // sink api url + "\x00" + Engage user id -> the sink's user id
	segMu    sync.Mutex
	segs     map[string]SegmentAppender // outbox folder -> this worker's writer
	check    *group[rowRef, bool]
	settler  *group[settlement, struct{}]
	stopOnce sync.Once
	stop     context.CancelFunc
}

// rowRef is a job's ledger row as enqueued.
type rowRef struct {
	spec    string
	key, fp int64
}

// settlement is a delivery's end for its ledger row; seg, when set, is the
// segment the call was appended to, synced before the row is settled.
type settlement struct {
	row    rowRef
	reason string // an imported row's reason (agent_unmapped or none)
	out    outcome
	seg    SegmentAppender
}

// NewWorker returns the worker on a state, for a River client of one's
// own (tests, benchmarks). Its batch writers run until Close.
func NewWorker(db *pgstate.DB, reg engine.Registry, log *slog.Logger) *Worker {
	return newWorker(db, Config{Registry: reg, Log: log})
}

func newWorker(db *pgstate.DB, cfg Config) *Worker {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	w := &Worker{db: db, pool: db.Pool(), reg: cfg.Registry, log: cfg.Log, timeout: cfg.JobTimeout, name: cfg.Name,
		segOpen: cfg.Segments, obs: cfg.Observer, segs: map[string]SegmentAppender{}, clients: cfg.Clients}
	if w.name == "" {
		w.name = WorkerName()
	}
	batch := max(cfg.Concurrency, 16)
	w.check = newGroup(batch, cfg.Linger, w.checkBatch)
	w.settler = newGroup(batch, cfg.Linger, w.settleBatch)
	ctx, cancel := context.WithCancel(context.Background())
	w.stop = cancel
	go w.check.run(ctx)
	go w.settler.run(ctx)
	return w
}

// Close stops the batch writers and closes the segment writers; call it
// after River stopped working jobs.
func (w *Worker) Close() error {
	w.stopOnce.Do(w.stop)
	w.segMu.Lock()
	defer w.segMu.Unlock()
	var errs []error
	for _, s := range w.segs {
		errs = append(errs, s.Close())
	}
	w.segs = map[string]SegmentAppender{}
	return errors.Join(errs...)
}

// WorkerName names a worker process (its River client and its segment
// folders): host, pid and start, so no two processes (nor two lives of
// one pid) share one.
func WorkerName() string {
	h, _ := os.Hostname()
	return fmt.Sprintf("w-%s-%d-%s", h, os.Getpid(), strconv.FormatInt(time.Now().UnixNano(), 36))
}

// Timeout implements river.Worker.
func (w *Worker) Timeout(*river.Job[Args]) time.Duration { return w.timeout }

// outcome is what one delivery attempt came to.
type outcome struct {
	ok        bool
	code      string // the failure's reason code (http_422, encode, …)
	detail    string
	permanent bool                 // no retry can help
	retry     bool                 // settled as retrying (not the last attempt)
	media     *connector.MediaSent // what the sink sent of the call's media
	attempt   int                  // the job's attempt

}

// Work implements river.Worker: check the row is still this delivery's,
// deliver the call, then settle the row (with the other deliveries ending
// at the same time). A failure that a retry may cure is returned to River
// (which retries with backoff) unless this was the last attempt; then, or
// when no retry can help, the row ends failed. The job itself is completed
// by River after Work returns nil.
func (w *Worker) Work(ctx context.Context, job *river.Job[Args]) error {
	began := time.Now()
	a := &job.Args
	ref := rowRef{spec: a.Spec, key: a.Key, fp: a.FP}
	current, err := w.check.do(ctx, ref)
	if err != nil {
		return fmt.Errorf("ledger row of call %s: %w", a.Call.CallID, err)
	}
	if !current {
		// A later run queued a newer version of the call (or the row is
		// settled already: a redelivery after a kill): that job delivers it.
		w.observe(a.Spec, OutcomeStale, "", began)
		return nil
	}
	out, seg := w.deliver(ctx, job)
	if out.ok {
		killpoint.Hit(killpoint.DeliveryAnswered)
	}
	final := out.ok || out.permanent || job.Attempt >= job.MaxAttempts
	out.retry, out.attempt = !final, job.Attempt
	if _, err := w.settler.do(ctx, settlement{row: ref, reason: a.Reason, out: out, seg: seg}); err != nil {
		w.observe(a.Spec, OutcomeRetrying, "settle", began)
		return fmt.Errorf("settle call %s: %w", a.Call.CallID, err)
	}
	if out.ok {
		killpoint.Hit(killpoint.DeliveryLedgerUpdated) // River completes the job once Work returns
	}
	switch {
	case out.ok:
		w.observe(a.Spec, OutcomeImported, "", began)
		return nil
	case final:
		w.log.Warn("delivery failed", "spec", a.Spec, "call", a.Call.CallID, "attempt", job.Attempt, "reason", out.code, "detail", out.detail)
		w.observe(a.Spec, OutcomeFailed, out.code, began)
		return nil
	}
	w.log.Info("delivery will be retried", "spec", a.Spec, "call", a.Call.CallID, "attempt", job.Attempt, "of", job.MaxAttempts, "reason", out.code, "detail", out.detail)
	w.observe(a.Spec, OutcomeRetrying, out.code, began)
	return fmt.Errorf("deliver call %s: %s: %s", a.Call.CallID, out.code, out.detail)
}

func (w *Worker) observe(spec, outcome, reason string, began time.Time) {
	if w.obs != nil {
		w.obs.Delivered(spec, outcome, reason, time.Since(began))
	}
}

// checkBatch says for each row whether it is still this delivery's
// (queued or retrying with the job's fingerprint): one query for the batch.
func (w *Worker) checkBatch(ctx context.Context, refs []rowRef) ([]bool, []error) {
	jobs := make([]state.JobRef, len(refs))
	for i, r := range refs {
		jobs[i] = state.JobRef{Spec: r.spec, Key: r.key, FP: r.fp}
	}
	out, err := w.db.PendingMany(ctx, jobs)
	if err != nil {
		return nil, errsFor(len(refs), err)
	}
	return out, nil
}

// settleBatch makes the batch's segment appends durable (one fsync per
// segment writer), then settles the rows in one statement: imported (with
// the media sent), failed with the failure, or retrying with the attempt
// and when the next is due. A row is changed only while it is still this
// delivery's, so a repeat (a redelivery after a kill) changes nothing.
func (w *Worker) settleBatch(ctx context.Context, items []settlement) ([]struct{}, []error) {
	errs := make([]error, len(items))
	synced := map[SegmentAppender]error{}
	for i, it := range items {
		if it.seg == nil {
			continue
		}
		err, done := synced[it.seg]
		if !done {
			err = it.seg.Sync()
			synced[it.seg] = err
		}
		errs[i] = err
	}
	var outs []state.Outcome
	for i, it := range items {
		if errs[i] != nil {
			continue
		}
		o := state.Outcome{Spec: it.row.spec, Key: it.row.key, FP: it.row.fp, State: connector.StateImported, Reason: it.reason, Media: it.out.media}
		if !it.out.ok {
			o.State, o.Attempt = connector.StateFailed, it.out.attempt
			o.Failure = &connector.Failure{Code: it.out.code, Detail: it.out.detail, Permanent: it.out.permanent}
			if it.out.retry {
				// When it is due is River's default backoff, attempt⁴ s.
				o.State = state.StateRetrying
				o.NextTry = time.Now().Add(time.Duration(it.out.attempt*it.out.attempt*it.out.attempt*it.out.attempt) * time.Second)
			}
		}
		outs = append(outs, o)
	}
	if len(outs) == 0 {
		return nil, errs
	}
	// The settle is one statement, atomic on its own: run on the pool it
	// costs one round trip instead of three (begin, it, commit).
	if _, err := w.db.SettleTx(ctx, poolTx{pool: w.pool}, outs); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	return nil, errs
}

// poolTx runs SettleTx's one statement on the pool (see settleBatch); it
// is a pgx.Tx for that statement only.
type poolTx struct {
	pgx.Tx
	pool *pgxpool.Pool
}

func (t poolTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return t.pool.Query(ctx, sql, args...)
}

func (t poolTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return t.pool.QueryRow(ctx, sql, args...)
}

func (t poolTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return t.pool.Exec(ctx, sql, args...)
}

// target reads where a run's deliveries go (once per run and process).
func (w *Worker) target(ctx context.Context, spec, runID string) (*Target, error) {
	k := spec + "\x00" + runID
	if t, ok := w.targets.Load(k); ok {
		return t.(*Target), nil
	}
	// One read per run: deliveries of a new run start together.
	w.targetMu.Lock()
	defer w.targetMu.Unlock()
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

// segment is this worker's segment writer in an outbox folder, opened once.
func (w *Worker) segment(dir string) (SegmentAppender, error) {
	w.segMu.Lock()
	defer w.segMu.Unlock()
	if s := w.segs[dir]; s != nil {
		return s, nil
	}
	s, err := w.segOpen(dir, w.name)
	if err != nil {
		return nil, err
	}
	w.segs[dir] = s
	return s, nil
}

// deliver runs one delivery. Into an outbox with segments, the call is
// appended to this worker's segment (made durable with the batch it is
// settled with); to a sink, through the sink: open, the call's agent (so a
// sink that maps agents resolves it), the call and its ledger line,
// commit. Nothing counts as delivered until the sink committed and
// reported no failure of the call.
func (w *Worker) deliver(ctx context.Context, job *river.Job[Args]) (outcome, SegmentAppender) {
	a := &job.Args
	t, err := w.target(ctx, a.Spec, a.RunID)
	if err != nil {
		if ctx.Err() != nil {
			return outcome{code: "delivery_error", detail: err.Error()}, nil
		}
		return outcome{code: "no_target", detail: err.Error(), permanent: true}, nil
	}
	fields := t.fields()
	call, err := a.Call.outCall(fields)
	if err != nil {
		return outcome{code: "bad_job", detail: err.Error(), permanent: true}, nil
	}
	row := connector.LedgerRow{Entity: "call", ID: a.Call.CallID, State: connector.StateImported, Reason: a.Reason}
	if t.Sink == nil && w.segOpen != nil {
		seg, err := w.segment(t.Outbox)
		if err == nil {
			err = seg.Append(a.RunID, a.Seq, t.PlanHash, fields, call, row)
		}
		if err != nil {
			return outcome{code: "delivery_error", detail: err.Error()}, nil
		}
		return outcome{ok: true}, seg
	}
	if t.Sink != nil && w.clients != nil {
		return w.deliverClient(ctx, t, a, call, fields), nil
	}
	sink, err := w.sink(t)
	if err != nil {
		return outcome{code: "sink_config", detail: err.Error(), permanent: true}, nil
	}
	if t.Sink == nil {
		// The cumulative outbox merges each delivery into its files: one
		// at a time per folder (a build without segment writers).
		mu, _ := w.outbox.LoadOrStore(t.Outbox, &sync.Mutex{})
		mu.(*sync.Mutex).Lock()
		defer mu.(*sync.Mutex).Unlock()
	}
	var mu sync.Mutex
	var refused *connector.Failure
	var media *connector.MediaSent
	info := connector.RunInfo{RunID: fmt.Sprintf("%s.d%d", a.RunID, job.ID), PlanHash: t.PlanHash, Fields: fields,
		Fail: func(entity, id string, f connector.Failure) {
			if entity == "call" && id == a.Call.CallID {
				mu.Lock()
				refused = &f
				mu.Unlock()
			}
		},
		MediaSent: func(id string, m connector.MediaSent) {
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
		if err := sink.Ledger(ctx, row); err != nil {
			return err
		}
		return sink.Commit(ctx)
	}()
	if err != nil {
		_ = sink.Abort()
		return outcome{code: "delivery_error", detail: err.Error()}, nil
	}
	mu.Lock()
	defer mu.Unlock()
	if refused != nil {
		return outcome{code: refused.Code, detail: refused.Detail, permanent: refused.Permanent}, nil
	}
	return outcome{ok: true, media: media}, nil
}

// deliverClient delivers through the target's long-lived client: the call,
// its media and its business data, under the agent's user id the run
// resolved (or, for an agent the run did not send, the one this worker
// resolved once).
func (w *Worker) deliverClient(ctx context.Context, t *Target, a *Args, call *connector.OutCall, fields []dsl.Field) outcome {
	c, err := w.clients(*t.Sink)
	if err != nil {
		return outcome{code: "sink_config", detail: err.Error(), permanent: true}
	}
	w.used.Store(c, struct{}{})
	user := a.SinkUserID
	if user == "" && a.Agent != nil {
		k := t.Sink.APIURL + "\x00" + t.Sink.AuthURL + "\x00" + a.Agent.UserID
		if v, ok := w.agents.Load(k); ok {
			user = v.(string)
		} else {
			id, err := c.ResolveAgent(ctx, a.Agent.outAgent())
			if err != nil {
				return failureOutcome(err)
			}
			w.agents.Store(k, id)
			user = id
		}
	}
	m, err := c.DeliverCall(ctx, call, fields, user)
	if err != nil {
		return failureOutcome(err)
	}
	return outcome{ok: true, media: m}
}

// failureOutcome is a failed attempt: the sink's typed refusal, or a
// failure that is not the call's (no token, the worker stops): retried.
func failureOutcome(err error) outcome {
	var f connector.Failure
	if errors.As(err, &f) {
		return outcome{code: f.Code, detail: f.Detail, permanent: f.Permanent}
	}
	return outcome{code: "delivery_error", detail: err.Error()}
}

// share counts the live workers (those with a delivery running, from
// River's jobs) and gives each client this worker used its share of the
// tenant's rate.
func (w *Worker) share(ctx context.Context) {
	if w.clients == nil {
		return
	}
	var n int
	err := w.pool.QueryRow(ctx, `SELECT count(DISTINCT attempted_by[array_upper(attempted_by, 1)]) FROM river_job
		WHERE state = 'running' AND kind = $1`, Jobs.Kind).Scan(&n)
	if err != nil {
		w.log.Warn("counting the live workers failed", "error", err.Error())
		return
	}
	share := 1 / float64(max(n, 1))
	w.used.Range(func(k, _ any) bool {
		k.(CallClient).SetShare(share)
		return true
	})
}

func (w *Worker) sink(t *Target) (connector.Sink, error) {
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

// progress counts deliveries for the worker's progress line.
type progress struct {
	next                              Observer
	imported, failed, retrying, stale atomic.Int64
	lastAt                            time.Time
	lastDone                          int64
}

func (p *progress) Delivered(spec, outcome, reason string, took time.Duration) {
	switch outcome {
	case OutcomeImported:
		p.imported.Add(1)
	case OutcomeFailed:
		p.failed.Add(1)
	case OutcomeRetrying:
		p.retrying.Add(1)
	case OutcomeStale:
		p.stale.Add(1)
	}
	if p.next != nil {
		p.next.Delivered(spec, outcome, reason, took)
	}
}

// log writes one progress line: totals since start and the rate since
// the last line.
func (p *progress) log(l *slog.Logger) {
	now := time.Now()
	imp, fail := p.imported.Load(), p.failed.Load()
	rate := 0.0
	if !p.lastAt.IsZero() {
		rate = float64(imp+fail-p.lastDone) / now.Sub(p.lastAt).Seconds()
	}
	p.lastAt, p.lastDone = now, imp+fail
	l.Info("worker progress", "delivered", imp, "failed", fail, "retried", p.retrying.Load(), "stale", p.stale.Load(),
		"per_second", math.Round(rate*10)/10)
}
