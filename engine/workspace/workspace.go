package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/delivery"
	"github.com/applink-dev/applink/engine/killpoint"
	"github.com/applink-dev/applink/engine/state"
)

// DefaultRetentionDays is how long staged runs are kept unless the spec's
// `staging { retention_days }` says otherwise.
const DefaultRetentionDays = state.DefaultRetentionDays

// Paths are where a spec's working files live.
type Paths struct {
	Outbox  string // the cumulative outbox (when the spec has no sink block)
	State   string // the state file
	Staging string // one folder per run
	Preview string // the preview DuckDB file
}

// DefaultPaths are a spec folder's working files under DIR/.applink; a
// non-empty outbox or state overrides that path.
func DefaultPaths(specDir, outbox, statePath string) Paths {
	base := filepath.Join(specDir, ".applink")
	p := Paths{Outbox: outbox, State: statePath, Staging: filepath.Join(base, "staging"), Preview: filepath.Join(base, "preview.duckdb")}
	if p.Outbox == "" {
		p.Outbox = filepath.Join(base, "outbox")
	}
	if p.State == "" {
		p.State = filepath.Join(base, "state.duckdb")
	}
	return p
}

// Workspace is one spec's working area and the connectors to use on it.
type Workspace struct {
	Plan     *engine.Plan
	Paths    Paths
	Registry engine.Registry
	Now      func() time.Time // default time.Now
	// State is the state to open: the spec's state block, a --state DSN,
	// or the DuckDB file Paths.State.
	State state.Config
	// Drivers open the state (cmd wires duckstate and pgstate, so that
	// this package links no database driver of its own).
	Drivers state.Drivers
	// SinkOpened, when set, is called with the sink a run sends to as soon
	// as it is opened (serve reads a sink's counters from it during the run).
	SinkOpened func(connector.Sink)
}

// New returns the workspace of a compiled plan.
func New(plan *engine.Plan, paths Paths, reg engine.Registry) *Workspace {
	var st *dsl.State
	customer := ""
	if plan != nil {
		st, customer = plan.State, plan.Customer
	}
	return &Workspace{Plan: plan, Paths: paths, Registry: reg, State: StateConfig(st, customer, paths)}
}

// StateConfig says which state a spec uses: a --state value that is a
// PostgreSQL DSN, else an explicit --state file, else the spec's state
// block (st, may be nil), else the DuckDB file beside the spec. In a
// shared database the spec's key is the block's key, else its customer.
func StateConfig(st *dsl.State, customer string, paths Paths) state.Config {
	key := customer
	if st != nil && st.Key != "" {
		key = st.Key
	}
	if state.IsDSN(paths.State) {
		cfg := state.Config{Driver: state.DriverPostgres, DSN: paths.State, Spec: key}
		if st != nil {
			cfg.Schema = st.Schema
		}
		return cfg
	}
	explicit := paths.State != filepath.Join(filepath.Dir(paths.Staging), "state.duckdb")
	switch {
	case explicit || st == nil:
	case st.Driver == state.DriverPostgres:
		return state.Config{Driver: state.DriverPostgres, DSN: st.DSN, Spec: key, Schema: st.Schema}
	case st.Path != "":
		return state.Config{Path: st.Path}
	}
	return state.Config{Path: paths.State}
}

// SpecState is StateConfig for a command without a compiled plan (report,
// purge, preview's diff): the spec is read only for its state block and
// customer, even when it does not validate (a data-protection purge must
// work then).
func SpecState(specDir, stateFlag string) state.Config {
	paths := DefaultPaths(specDir, "", stateFlag)
	spec, _ := dsl.Load(specDir)
	if spec == nil {
		return StateConfig(nil, "", paths)
	}
	return StateConfig(spec.State, spec.Customer, paths)
}

// DiffState is what a preview diffs against: the DuckDB state file (the
// preview ATTACHes it read only), or, for a PostgreSQL state, its ledger
// streamed into the preview (done closes the connection).
func (w *Workspace) DiffState(ctx context.Context) (path string, ledger func(context.Context, func(state.LedgerRow) error) error, done func(), err error) {
	if w.State.Driver != state.DriverPostgres {
		return w.State.Path, nil, func() {}, nil
	}
	st, err := w.OpenState(ctx)
	if err != nil {
		return "", nil, nil, err
	}
	return "", st.Ledger, func() { st.Close() }, nil
}

// OpenState opens the workspace's state.
func (w *Workspace) OpenState(ctx context.Context) (state.Backend, error) {
	if w.State.Driver == state.DriverPostgres && w.State.DSN == "" {
		return nil, errors.New("the spec's state block has an empty dsn: set the environment variable its env() names (e.g. APPLINK_STATE_DSN)")
	}
	return w.Drivers.Open(ctx, w.State)
}

func (w *Workspace) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

// RetentionDays is how long staged runs are kept.
func (w *Workspace) RetentionDays() int {
	if d := w.Plan.Staging.RetentionDays; d > 0 {
		return d
	}
	return DefaultRetentionDays
}

// Target opens the sink a run sends to: the spec's sink block, or the
// cumulative outbox. where says it for people ("outbox DIR", "CXone URL").
func (w *Workspace) Target(dryRun io.Writer) (sink connector.Sink, where string, err error) {
	if s := w.Plan.Sink; s != nil && s.Kind != "" {
		d := w.Registry.Sink(s.Kind)
		if d == nil {
			return nil, "", fmt.Errorf("sink %q: no connector for it in this build", s.Kind)
		}
		sink, err := d.Open(*s, dryRun)
		if err != nil {
			return nil, "", err
		}
		where = s.Kind
		if l, ok := sink.(connector.Labeled); ok {
			where = l.Label()
		} else if s.APIURL != "" {
			where += " " + s.APIURL
		}
		return sink, where, nil
	}
	if w.Registry.Outbox == nil {
		return nil, "", errors.New("no outbox connector in this build")
	}
	return w.Registry.Outbox(w.Paths.Outbox), "outbox " + w.Paths.Outbox, nil
}

// Where says for people where a run will send, before any sink is opened
// (serve's status page): "outbox DIR", or the sink block's kind and URL.
func (w *Workspace) Where() string {
	if s := w.Plan.Sink; s != nil && s.Kind != "" {
		if s.APIURL != "" {
			return s.Kind + " " + s.APIURL
		}
		return s.Kind
	}
	return "outbox " + w.Paths.Outbox
}

// RunResult is what Run did.
type RunResult struct {
	Summary       *engine.RunRecord
	Where         string   // where it sent
	StageDir      string   // the run's staging folder
	Staged        bool     // the run sent something and kept a copy
	RetentionDays int      // how long the copy is kept
	Pruned        []string // staged runs deleted for retention before the run
}

// Run executes the plan incrementally against the state: only new and
// changed rows reach the sink, a copy of what is sent is staged, and the
// state is committed after the sink. On an error the state is unchanged
// (the result may still carry the partial summary).
func (w *Workspace) Run(ctx context.Context, progress func(engine.Progress)) (res *RunResult, err error) {
	// Sources first: a source that cannot be opened (a missing folder, an
	// unreachable server) must not leave a new state file behind.
	now := w.now()
	runID := now.UTC().Format("20060102T150405.000000Z")
	srcs, err := engine.OpenSources(ctx, w.Plan, w.Registry)
	if err != nil {
		if w.State.Exists() { // never create a state for a run that cannot start
			if st, serr := w.OpenState(ctx); serr == nil {
				w.recordFailure(ctx, st, runID, now, err)
				st.Close()
			}
		}
		return nil, err
	}
	defer engine.CloseSources(srcs)
	st, err := w.OpenState(ctx)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	defer func() {
		if err != nil {
			w.recordFailure(ctx, st, runID, now, err)
		}
	}()
	r := &RunResult{RetentionDays: w.RetentionDays()}
	r.Pruned, err = st.Prune(ctx, now.Add(-time.Duration(r.RetentionDays)*24*time.Hour), now)
	if err != nil {
		return r, err
	}
	if err := removeUncommitted(ctx, st, w.Paths.Staging); err != nil {
		return r, err
	}
	prior, err := st.Prior(ctx)
	if err != nil {
		return r, err
	}
	defer prior.Close() // its scratch file
	r.StageDir = filepath.Join(w.Paths.Staging, runID)
	primary, where, err := w.Target(nil)
	if err != nil {
		return r, err
	}
	r.Where = where
	if w.SinkOpened != nil {
		w.SinkOpened(primary)
	}
	led, err := st.Begin(runID, w.Plan.SpecHash, r.StageDir, prior)
	if err != nil {
		return r, err
	}
	// With a delivery queue (PostgreSQL state) calls are queued for the
	// workers in the commit instead of sent (engine/delivery).
	var queue *delivery.Queue
	if led.Queues() {
		queue = delivery.Enqueue(led, w.State.Spec, delivery.NewTarget(w.Plan, w.Paths.Outbox))
		primary = queue.Sink(primary)
		r.Where += " (calls queued for the delivery workers)"
	}
	// Store and forward: keep what this run sends. A sink that stages itself
	// keeps its own run files; another is teed into the staging format.
	var staged connector.Sink
	if s, ok := primary.(connector.SelfStager); ok {
		s.StageTo(r.StageDir)
		staged = primary
	} else {
		if w.Registry.Staging == nil {
			led.Abort()
			return r, errors.New("no staging connector in this build")
		}
		staged = engine.Tee(primary, w.Registry.Staging.Writer(r.StageDir))
	}
	stage := &countingSink{Sink: staged, path: r.StageDir}
	var ledger engine.LedgerWriter = &stagedLedger{RunLedger: led, stage: stage}
	if queue != nil {
		ledger = queue.Ledger(ledger)
	}
	var delivered connector.DeliveryCounter
	if dc, ok := primary.(connector.DeliveryCounter); ok {
		delivered = dc
	}
	r.Summary, err = engine.Run(ctx, w.Plan, engine.Options{
		Delivered: delivered,
		Registry:  w.Registry,
		Sources:   srcs,
		Sink:      stage,
		RunID:     runID,
		Prior:     prior,
		Ledger:    ledger,
		Progress:  progress,
		Now:       w.Now, // one clock for the run, its history and its staging entry
		Queue:     queue != nil,
	})
	r.Staged = err == nil && stage.calls+stage.agents > 0
	if !r.Staged {
		_ = os.RemoveAll(r.StageDir) // nothing committed, or nothing sent: nothing to keep
	}
	if err == nil {
		killpoint.Hit(killpoint.RunCommitted)
	}
	return r, err
}

// recordFailure puts a run that failed into the history (the report lists
// it, issue 21.7), with why, secrets masked. A run stopped by a signal did
// not fail: it is not recorded.
func (w *Workspace) recordFailure(ctx context.Context, st state.Backend, runID string, started time.Time, err error) {
	if errors.Is(err, engine.ErrInterrupted) || ctx.Err() != nil {
		return
	}
	_ = st.RecordEvent(context.WithoutCancel(ctx), engine.EventFailed, runID, started, &engine.EventRecord{Error: dsl.MaskSecrets(err.Error())})
}

// DryRun runs the plan against the committed state with the spec's sink in
// dry-run mode: the sink writes each request it would make to out; nothing
// is sent and the state is not changed (not even created).
func (w *Workspace) DryRun(ctx context.Context, out io.Writer) (*engine.RunRecord, error) {
	if w.Plan.Sink == nil || w.Plan.Sink.Kind == "" {
		return nil, errors.New("--dry-run needs a `sink` block in the spec (the outbox is itself a dry run)")
	}
	sink, _, err := w.Target(out)
	if err != nil {
		return nil, err
	}
	opts := engine.Options{Registry: w.Registry, Sink: sink}
	if w.State.Exists() {
		st, err := w.OpenState(ctx)
		if err != nil {
			return nil, err
		}
		defer st.Close()
		prior, err := st.Prior(ctx)
		if err != nil {
			return nil, err
		}
		defer prior.Close()
		opts.Prior = prior
	}
	return engine.Run(ctx, w.Plan, opts)
}

// LedgerState says what the state holds, for after a failed run: the last
// committed run, which the next run resumes from.
func (w *Workspace) LedgerState(ctx context.Context) (string, error) {
	if !w.State.Exists() {
		return "no state file yet: nothing was ever committed", nil
	}
	st, err := w.OpenState(ctx)
	if err != nil {
		return "", err
	}
	defer st.Close()
	runs, err := st.Runs(ctx)
	if err != nil {
		return "", err
	}
	for i := len(runs) - 1; i >= 0; i-- {
		if r := runs[i]; r.Kind == "run" || r.Kind == "" {
			return fmt.Sprintf("unchanged: last committed run %s (ended %s)", r.RunID, r.Ended.UTC().Format(time.RFC3339)), nil
		}
	}
	return "unchanged: no run committed yet", nil
}

// Runs is the state's run history, oldest first; none when there is no
// state file yet (it is not created).
func (w *Workspace) Runs(ctx context.Context) ([]state.RunRecord, error) {
	if !w.State.Exists() {
		return nil, nil
	}
	st, err := w.OpenState(ctx)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return st.Runs(ctx)
}

// countingSink counts what reaches the staging copy.
type countingSink struct {
	connector.Sink
	path          string
	calls, agents int
}

func (c *countingSink) Agent(ctx context.Context, a *connector.OutAgent) error {
	c.agents++
	return c.Sink.Agent(ctx, a)
}

func (c *countingSink) Call(ctx context.Context, o *connector.OutCall) error {
	c.calls++
	return c.Sink.Call(ctx, o)
}

// stagedLedger records the staging entry with the run's counts at commit.
type stagedLedger struct {
	*state.RunLedger
	stage *countingSink
}

func (s *stagedLedger) Commit(ctx context.Context, sum *engine.RunRecord) error {
	if s.stage.calls+s.stage.agents > 0 {
		s.SetStaged(&state.Staged{Path: s.stage.path, Calls: s.stage.calls, Agents: s.stage.agents})
	} else {
		s.SetStaged(nil)
	}
	return s.RunLedger.Commit(ctx, sum)
}

// removeUncommitted deletes the staging folders of runs that died before
// their state committed (a crash, a kill): the state never learnt of them, so
// nothing would ever prune them, and what they hold is resent by this run.
func removeUncommitted(ctx context.Context, st state.Backend, dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("staging: %w", err)
	}
	runs, err := st.Staging(ctx)
	if err != nil {
		return err
	}
	// By folder name (the run id), not by path: the spec folder may be
	// given relative to another working directory than the run's.
	known := map[string]bool{}
	for _, r := range runs {
		known[r.RunID], known[filepath.Base(r.Path)] = true, true
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if e.IsDir() && !known[e.Name()] {
			if err := os.RemoveAll(p); err != nil {
				return fmt.Errorf("staging: remove the leftovers of a crashed run: %w", err)
			}
			continue
		}
		if !e.IsDir() {
			continue
		}
		// A run killed right after its state committed keeps its folder
		// but never removed its changes files.
		for _, f := range state.RunScratchFiles {
			if err := os.Remove(filepath.Join(p, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("staging: remove the leftovers of a crashed run: %w", err)
			}
		}
	}
	return nil
}

// Watermarks reads the state's watermarks (the last call read per source),
// without creating a state where there is none (no run yet: none).
func Watermarks(ctx context.Context, drivers state.Drivers, cfg state.Config) (map[string]engine.Watermark, error) {
	if !cfg.Exists() {
		return map[string]engine.Watermark{}, nil
	}
	st, err := drivers.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return st.Watermarks(ctx)
}
