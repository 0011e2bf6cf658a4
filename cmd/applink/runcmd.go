package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/applink-dev/applink/connectors/cxone"
	"github.com/applink-dev/applink/connectors/outbox"
	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/state"
	"github.com/charmbracelet/x/term"
)

func cmdRun(ctx context.Context, args []string, std stdio) int {
	fs := newFlags("run", "run [--out OUTDIR] [--state FILE] [--plan PLANFILE] DIR", std)
	out := fs.String("out", "", "outbox folder (default DIR/.applink/outbox); cumulative across runs")
	statePath := fs.String("state", "", "state file (default DIR/.applink/state.duckdb)")
	planFile := fs.String("plan", "", "run a plan saved by `applink plan --out`, refusing it if the spec changed since")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	dryRun := fs.Bool("dry-run", false, "with a cxone sink: authenticate nothing, send nothing, print each request it would make; the state is not changed")
	format := fs.String("format", defaultDiagFormat(), "diagnostics format: text, json or github")
	pos, code, ok := parseFlags(fs, args, std)
	if !ok {
		return code
	}
	dir, ok := oneDir(fs, pos, std)
	if !ok || !checkFormat(*format, std.err) {
		return exitUsage
	}
	var plan *engine.Plan
	if *planFile != "" {
		plan, code = loadPlanFile(ctx, *planFile, dir, specPaths(dir, *out, *statePath).state, std)
	} else {
		plan, code = compile(dir, *format, std)
	}
	if plan == nil {
		return code
	}
	paths := specPaths(dir, *out, *statePath)
	if *dryRun {
		return dryRunPlan(ctx, plan, paths, std)
	}
	return runPlan(ctx, plan, paths, *quiet, std)
}

// target is where a run sends: the spec's cxone sink, or the outbox.
func target(plan *engine.Plan, p paths, dryRun io.Writer) (engine.Sink, string, error) {
	if plan.Sink != nil && plan.Sink.Kind == "cxone" {
		s, err := cxone.New(*plan.Sink, cxone.Options{DryRun: dryRun})
		if err != nil {
			return nil, "", err
		}
		return s, "CXone " + plan.Sink.APIURL, nil
	}
	return outbox.NewCumulative(p.outbox), "outbox " + p.outbox, nil
}

// dryRunPlan prints what a run would send, against the committed state,
// and changes nothing.
func dryRunPlan(ctx context.Context, plan *engine.Plan, p paths, std stdio) int {
	if plan.Sink == nil || plan.Sink.Kind != "cxone" {
		fmt.Fprintln(std.err, "applink run: --dry-run needs a `sink \"cxone\"` block in the spec (the outbox is itself a dry run)")
		return exitUsage
	}
	sink, _, err := target(plan, p, std.out)
	if err != nil {
		fmt.Fprintf(std.err, "applink: %v\n", err)
		return exitFindings
	}
	opts := engine.Options{Registry: registry(), Sink: sink}
	if _, err := os.Stat(p.state); err == nil {
		st, err := state.Open(ctx, p.state)
		if err != nil {
			fmt.Fprintf(std.err, "applink: %v\n", err)
			return exitFindings
		}
		defer st.Close()
		if opts.Prior, err = st.Prior(ctx); err != nil {
			fmt.Fprintf(std.err, "applink: %v\n", err)
			return exitFindings
		}
	}
	sum, err := engine.Run(ctx, plan, opts)
	if err != nil {
		fmt.Fprintf(std.err, "applink: %v\n", err)
		return exitFindings
	}
	fmt.Fprintln(std.out)
	engine.WriteSummary(std.out, sum)
	fmt.Fprintln(std.out, "dry run: nothing was sent and the state is unchanged")
	return exitOK
}

// paths of a spec's working files.
type paths struct {
	outbox, state, staging string
}

func specPaths(dir, out, statePath string) paths {
	p := paths{outbox: out, state: statePath, staging: filepath.Join(dir, ".applink", "staging")}
	if p.outbox == "" {
		p.outbox = filepath.Join(dir, ".applink", "outbox")
	}
	if p.state == "" {
		p.state = filepath.Join(dir, ".applink", "state.duckdb")
	}
	return p
}

// loadPlanFile reads a saved plan and refuses it when the spec files, the
// state's watermarks or its sources are no longer what it was made from.
func loadPlanFile(ctx context.Context, path, dir, statePath string, std stdio) (*engine.Plan, int) {
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintf(std.err, "applink: %v\n", err)
		return nil, exitUsage
	}
	defer f.Close()
	pf, err := engine.ReadPlanFile(f)
	if err != nil {
		fmt.Fprintf(std.err, "applink: %s: %v\n", path, err)
		return nil, exitFindings
	}
	if err := pf.Check(dir); err != nil {
		fmt.Fprintf(std.err, "applink: %s: %v\n", path, err)
		return nil, exitFindings
	}
	wms, err := stateWatermarks(ctx, statePath)
	if err != nil {
		fmt.Fprintf(std.err, "applink: %v\n", err)
		return nil, exitFindings
	}
	if err := pf.CheckWatermarks(wms); err != nil {
		fmt.Fprintf(std.err, "applink: %s: %v\n", path, err)
		return nil, exitFindings
	}
	plan, err := pf.Plan(dir)
	if err != nil {
		fmt.Fprintf(std.err, "applink: %s: %v\n", path, err)
		return nil, exitFindings
	}
	if diags := plan.CheckSources(registry()); diags.HasErrors() {
		printDiags(std, nil, diags, "text")
		return nil, exitFindings
	}
	return plan, exitOK
}

// stateWatermarks reads the state's watermarks, without creating a state
// file where there is none (no runs yet: no watermarks).
func stateWatermarks(ctx context.Context, path string) (map[string]engine.Watermark, error) {
	if _, err := os.Stat(path); err != nil {
		return map[string]engine.Watermark{}, nil
	}
	st, err := state.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return st.Watermarks(ctx)
}

// runPlan runs a compiled plan incrementally and prints the summary.
func runPlan(ctx context.Context, plan *engine.Plan, p paths, quiet bool, std stdio) int {
	var prog *progressPrinter
	var progress func(engine.Progress)
	if !quiet {
		prog = newProgressPrinter(std.err)
		progress = prog.update
	}
	r, err := execute(ctx, plan, p, registry(), progress)
	if prog != nil {
		prog.finish()
	}
	if r != nil && r.pruned > 0 {
		fmt.Fprintf(std.err, "staging: pruned %d runs older than %d days\n", r.pruned, r.retention)
	}
	if err != nil {
		fmt.Fprintf(std.err, "applink: %v\n", err)
		if errors.Is(err, engine.ErrInterrupted) {
			fmt.Fprintf(std.err, "resume with: applink run %s\n", plan.SpecDir)
		}
		return exitFindings
	}
	engine.WriteSummary(std.out, r.sum)
	fmt.Fprintf(std.out, "sent to: %s\nstate:   %s\n", r.where, p.state)
	if r.staged {
		fmt.Fprintf(std.out, "staged: %s (kept %d days)\n", r.stageDir, r.retention)
	}
	if !r.sum.Clean() {
		// A scheduler alerts on the exit status: failed or unreadable rows
		// are findings even though the run committed.
		engine.WriteVerdict(std.out, r.sum, plan.SpecDir)
		return exitFindings
	}
	return exitOK
}

// applyPlan is a run without printing, for the TUI.
func applyPlan(ctx context.Context, plan *engine.Plan, p paths, reg engine.Registry, progress func(engine.Progress)) (*engine.Summary, error) {
	r, err := execute(ctx, plan, p, reg, progress)
	if r == nil {
		return nil, err
	}
	return r.sum, err
}

type runResult struct {
	sum               *engine.Summary
	where, stageDir   string
	staged            bool
	retention, pruned int
}

// execute runs a plan against the spec's state, into its sink (the
// cumulative outbox or CXone), keeping a staged copy of what it sends.
func execute(ctx context.Context, plan *engine.Plan, p paths, reg engine.Registry, progress func(engine.Progress)) (*runResult, error) {
	st, err := state.Open(ctx, p.state)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	now := time.Now()
	r := &runResult{retention: plan.Staging.RetentionDays}
	if r.retention <= 0 {
		r.retention = 90
	}
	pruned, err := st.Prune(ctx, now.Add(-time.Duration(r.retention)*24*time.Hour), now)
	r.pruned = len(pruned)
	if err != nil {
		return r, err
	}
	prior, err := st.Prior(ctx)
	if err != nil {
		return r, err
	}
	runID := now.UTC().Format("20060102T150405.000000Z")
	r.stageDir = filepath.Join(p.staging, runID)
	led, err := st.Begin(runID, plan.SpecHash, r.stageDir, prior)
	if err != nil {
		return r, err
	}
	primary, where, err := target(plan, p, nil)
	if err != nil {
		led.Abort()
		return r, err
	}
	r.where = where
	// Store and forward: keep what this run sends. The outbox keeps its own
	// run files (hard links); another sink is teed into a staging outbox.
	var staged engine.Sink
	if cum, ok := primary.(*outbox.Cumulative); ok {
		cum.StageTo(r.stageDir)
		staged = cum
	} else {
		staged = engine.Tee(primary, outbox.New(r.stageDir))
	}
	stage := &countingSink{Sink: staged, path: r.stageDir}
	r.sum, err = engine.Run(ctx, plan, engine.Options{
		Registry: reg,
		Sink:     stage,
		RunID:    runID,
		Prior:    prior,
		Ledger:   &stagedLedger{RunLedger: led, stage: stage},
		Progress: progress,
	})
	r.staged = err == nil && stage.calls+stage.agents > 0
	if !r.staged {
		_ = os.RemoveAll(r.stageDir) // nothing committed, or nothing sent: nothing to keep
	}
	return r, err
}

// countingSink counts what reaches the staging copy.
type countingSink struct {
	engine.Sink
	path          string
	calls, agents int
}

func (c *countingSink) Agent(ctx context.Context, a *engine.OutAgent) error {
	c.agents++
	return c.Sink.Agent(ctx, a)
}

func (c *countingSink) Call(ctx context.Context, o *engine.OutCall) error {
	c.calls++
	return c.Sink.Call(ctx, o)
}

// stagedLedger records the staging entry with the run's counts at commit.
type stagedLedger struct {
	*state.RunLedger
	stage *countingSink
}

func (s *stagedLedger) Commit(ctx context.Context, sum *engine.Summary) error {
	if s.stage.calls+s.stage.agents > 0 {
		s.SetStaged(&state.Staged{Path: s.stage.path, Calls: s.stage.calls, Agents: s.stage.agents})
	} else {
		s.SetStaged(nil)
	}
	return s.RunLedger.Commit(ctx, sum)
}

// progressPrinter shows a run's progress on stderr once it has lasted a
// second: one rewritten line on a terminal, a plain line every 2 s otherwise.
type progressPrinter struct {
	w        io.Writer
	tty      bool
	drawn    bool
	lastLine time.Duration
}

func newProgressPrinter(w io.Writer) *progressPrinter {
	p := &progressPrinter{w: w}
	if f, ok := w.(*os.File); ok {
		p.tty = term.IsTerminal(f.Fd())
	}
	return p
}

func (p *progressPrinter) update(pr engine.Progress) {
	if pr.Elapsed < time.Second || pr.Phase == "done" {
		return
	}
	rate := float64(pr.Calls) / pr.Elapsed.Seconds()
	line := fmt.Sprintf("%-6s agents %d, calls %d read, %d sent, %.0f calls/s, %s",
		pr.Phase, pr.Agents, pr.Calls, pr.Imported, rate, pr.Elapsed.Round(100*time.Millisecond))
	if p.tty {
		fmt.Fprintf(p.w, "\r\x1b[K%s", line)
		p.drawn = true
		return
	}
	if pr.Elapsed-p.lastLine >= 2*time.Second || p.lastLine == 0 {
		fmt.Fprintln(p.w, line)
		p.lastLine = pr.Elapsed
	}
}

func (p *progressPrinter) finish() {
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}
