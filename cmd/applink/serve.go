package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/applink-dev/applink/engine/delivery"
	"github.com/applink-dev/applink/engine/state"
	"github.com/applink-dev/applink/engine/state/pgstate"
	"github.com/applink-dev/applink/engine/workspace"
	"github.com/applink-dev/applink/serve"
)

// lockDSNEnv names the variable holding the PostgreSQL DSN of the standby
// lock for specs whose state is a DuckDB file (a DSN on the command line
// shows in ps); a spec with a PostgreSQL state block locks in that database.
const lockDSNEnv = "APPLINK_LOCK_DSN"

var logFormats = []string{"text", "json"}

// cmdServe runs specs on their schedules with health, metrics and a status
// page; the logic is in package serve.
func cmdServe(ctx context.Context, args []string, std stdio) int {
	c := newCommand("serve", "DIR…", std)
	every := c.fs.Duration("every", 0, "run every spec each `DURATION` (30s, 5m, 1h), overriding the specs' schedule { every } blocks")
	listen := c.fs.String("listen", "127.0.0.1:8470", "`ADDR` (host:port) of /healthz, /readyz, /metrics and the status page at /")
	logFormat := c.fs.String("log-format", "text", "log lines on stderr as `text|json`")
	lockDSN := c.fs.String("lock-dsn", "", "PostgreSQL `DSN` of the standby lock: an advisory lock per spec lets one of several serve processes run it (default $"+lockDSNEnv+"; without one, a file lock in DIR/.applink makes a second serve on this machine a standby)")
	poll := c.fs.Duration("poll", 5*time.Second, "how often a standby tries the lock, the holder checks it and a run retries a state in use (`DURATION`)")
	pos, code, ok := c.parse(args)
	if !ok {
		return code
	}
	if len(pos) == 0 {
		fmt.Fprintln(std.err, "applink serve: give one or more spec folders")
		c.usageLine(std.err)
		return exitUsage
	}
	if !slices.Contains(logFormats, *logFormat) {
		fmt.Fprintf(std.err, "applink serve: --log-format must be %s, not %q\n", orList(logFormats), *logFormat)
		return exitUsage
	}
	if *every < 0 || *poll <= 0 {
		fmt.Fprintln(std.err, "applink serve: --every and --poll must be positive durations")
		return exitUsage
	}
	dsn := *lockDSN
	if dsn == "" {
		dsn = os.Getenv(lockDSNEnv)
	}

	// Every spec is loaded and checked before any runs: all problems at once.
	var specs []serve.Spec
	failed, usage := false, false
	for _, dir := range pos {
		plan, code := compile(dir, "text", std)
		if plan == nil {
			failed = true
			usage = usage || code == exitUsage
			continue
		}
		sp := serve.Spec{Name: filepath.Clean(dir), Every: *every}
		if sp.Every == 0 {
			// The schedule is not part of the plan's hash (it changes
			// nothing a run does), but the plan carries it.
			sp.Every = plan.Schedule.Every
		}
		if sp.Every == 0 {
			fmt.Fprintf(std.err, "applink serve: %s has no schedule: add `schedule { every = \"5m\" }` to the spec or pass --every\n", dir)
			failed, usage = true, true
			continue
		}
		ws := newWorkspace(plan, workspace.DefaultPaths(dir, "", ""))
		sp.Workspace = ws
		sp.Info = serve.SpecInfo{Customer: plan.Customer, Tenant: plan.CXoneTenant, State: ws.State.String(), SentTo: ws.Where()}
		lockDSN := dsn
		if ws.State.Driver == state.DriverPostgres {
			// The spec's PostgreSQL state holds the standby lock, the
			// fencing epoch and the delivery queue whose depth /metrics
			// shows. One pool (and River insert client) per spec for the
			// process's life, migrated once: every run opens its state on
			// it, and the pool reconnects after a failure by itself.
			lockDSN = ws.State.DSN
			db, err := pgstate.Connect(ctx, idleTxTimeout(ws.State.DSN), pgstate.Options{Schema: ws.State.Schema, Jobs: delivery.Jobs})
			if err == nil {
				if err = db.Migrate(ctx); err != nil {
					db.Close()
				}
			}
			if err != nil {
				fmt.Fprintf(std.err, "applink serve: %s: %v\n", dir, err)
				failed = true
				continue
			}
			defer db.Close()
			ws.Drivers = state.Drivers{state.DriverDuckDB: ws.Drivers[state.DriverDuckDB], state.DriverPostgres: db}
			sp.Queue = stateDeliveries{st: db.Store(ws.State.Spec, 0), db: db}
			sp.Takeover = takeover(db, ws)
		}
		if lockDSN != "" {
			l, err := serve.NewPGLock(lockDSN, specLockKey(ws), *poll)
			if err != nil {
				fmt.Fprintf(std.err, "applink serve: %v\n", err)
				return exitUsage
			}
			sp.Lock = l
		} else {
			sp.Lock = serve.NewFileLock(filepath.Join(dir, ".applink", "serve.lock"))
		}
		specs = append(specs, sp)
	}
	if failed {
		if usage {
			return exitUsage
		}
		return exitFindings
	}

	var h slog.Handler = slog.NewTextHandler(std.err, nil)
	if *logFormat == "json" {
		// Durations as "1.5s", as in the text format, not nanoseconds.
		h = slog.NewJSONHandler(std.err, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Value.Kind() == slog.KindDuration {
				a.Value = slog.StringValue(a.Value.Duration().String())
			}
			return a
		}})
	}
	srv, err := serve.New(serve.Options{Specs: specs, Listen: *listen, Logger: slog.New(h), Poll: *poll, Version: buildVersion().Version})
	if err != nil {
		fmt.Fprintf(std.err, "applink %v\n", err)
		return exitUsage
	}
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintf(std.err, "applink %v\n", err)
		return exitFindings
	}
	return exitOK
}

// specLockKey is a spec's advisory lock key: with a PostgreSQL state, its schema and
// key in that state (two specs of one state key share a ledger, two of
// different keys never contend); with a DuckDB state locked through
// --lock-dsn, what identifies the spec wherever its folder lives.
func specLockKey(ws *workspace.Workspace) int64 {
	if ws.State.Driver == state.DriverPostgres {
		// An unparsable DSN fails at the state's open, which names it; the
		// schema written in the spec keys the lock meanwhile.
		schema, err := pgstate.SchemaOf(ws.State.DSN, ws.State.Schema)
		if err != nil {
			schema = ws.State.Schema
		}
		return serve.StateLockKey(schema, ws.State.Spec)
	}
	return serve.LockKey(ws.Plan.Customer, ws.Plan.CXoneTenant, ws.Plan.SystemID)
}

// holdSpecLock takes, for a hand run of a spec with a PostgreSQL state,
// the advisory lock `serve` holds while it runs the spec: a run is refused
// while a serve holds it (naming the holder), and a serve stands by while
// the hand run runs. release is nil when there is nothing to hold.
func holdSpecLock(ctx context.Context, ws *workspace.Workspace) (release func(), err error) {
	if ws.State.Driver != state.DriverPostgres {
		return nil, nil
	}
	l, err := serve.NewPGLock(ws.State.DSN, specLockKey(ws), time.Hour)
	if err != nil {
		return nil, err
	}
	ok, err := l.TryLock(ctx)
	if err != nil {
		return nil, err
	}
	if !ok {
		h := l.Holder(ctx)
		l.Unlock()
		if h == "" {
			h = "another process"
		}
		return nil, fmt.Errorf("the spec is run by %s: stop it, or let it run the spec", h)
	}
	return func() { l.Unlock() }, nil
}

// takeover records this process as the spec's holder in its state and
// advances the fencing epoch; the spec's runs commit under it from then
// on, so a holder that lost the lock (paused, cut off) can never commit.
func takeover(db *pgstate.DB, ws *workspace.Workspace) func(ctx context.Context) error {
	host, _ := os.Hostname()
	return func(ctx context.Context) error {
		done := make(chan struct{})
		go endStaleHolder(ctx, db, done)
		h, err := db.Takeover(ctx, ws.State.Spec, state.Holder{Host: host, PID: os.Getpid(), Since: time.Now()})
		close(done)
		if err != nil {
			return err
		}
		ws.State.Epoch = h.Epoch
		return nil
	}
}

// stateDeliveries reads a spec's deliveries from its PostgreSQL state for
// serve's delivery panel and /metrics: the queue and, from the ledger, the
// calls retrying and failed by reason.
type stateDeliveries struct {
	st interface {
		Queue(ctx context.Context) (state.QueueStats, error)
		LedgerCounts(ctx context.Context, runID string) ([]state.LedgerCount, error)
	}
	db *pgstate.DB
}

func (d stateDeliveries) QueueDepth(ctx context.Context) (queued, inFlight int64, err error) {
	q, err := d.st.Queue(ctx)
	return q.Queued, q.InFlight, err
}

func (d stateDeliveries) Deliveries(ctx context.Context) (serve.DeliveryView, error) {
	q, err := d.st.Queue(ctx)
	if err != nil {
		return serve.DeliveryView{}, err
	}
	counts, err := d.st.LedgerCounts(ctx, "")
	if err != nil {
		return serve.DeliveryView{}, err
	}
	v := serve.DeliveryView{QueueView: queueView(q), Known: true}
	v.Failed = 0 // counted below with its reasons
	for _, c := range counts {
		if c.Entity != "call" {
			continue
		}
		switch c.State {
		case "retrying":
			v.RetryReasons = append(v.RetryReasons, serve.ReasonCount{Reason: c.Reason, N: int64(c.N)})
		case "failed":
			v.Failed += int64(c.N)
			v.Done += int64(c.N)
			v.FailedReasons = append(v.FailedReasons, serve.ReasonCount{Reason: c.Reason, N: int64(c.N)})
		case "imported":
			v.Done += int64(c.N)
		}
	}
	return v, nil
}

// idleTxTimeout sets idle_in_transaction_session_timeout on serve's state
// sessions (unless the DSN sets it): a holder paused or cut off in the
// middle of its commit holds the spec's fencing row until its transaction
// ends, and the standby's takeover waits for that row. PostgreSQL ends such
// a session after 15 s idle, so the takeover goes through; the stale
// commit is then lost, as fencing wants. A commit is never idle that long
// between its own statements.
func idleTxTimeout(dsn string) string {
	const key, val = "idle_in_transaction_session_timeout", "15s"
	if strings.Contains(dsn, key) {
		return dsn
	}
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set(key, val)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " " + key + "=" + val // key=value form
}

// endStaleHolder unblocks a takeover that waits for the spec's fencing row:
// a previous holder paused or cut off inside its commit holds that row
// (FOR SHARE) for as long as its transaction lives, which may be for ever
// when it is stuck mid-COPY. This process holds the spec's lock, so whoever
// holds the row is stale: after 2 s its sessions are ended (its commit is
// lost, as fencing wants). It stops when done closes.
//
// It matches the takeover's statement by its text (pgstate's upsert of
// applink_specs): TODO(state) a pgstate API for this.
func endStaleHolder(ctx context.Context, db *pgstate.DB, done <-chan struct{}) {
	for wait := 2 * time.Second; ; wait = time.Second {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		_, _ = db.Pool().Exec(ctx, `SELECT pg_terminate_backend(b) FROM pg_stat_activity a
			CROSS JOIN LATERAL unnest(pg_blocking_pids(a.pid)) AS b
			WHERE a.datname = current_database() AND a.query LIKE 'INSERT INTO applink_specs%'`)
	}
}
