package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/summarytext"
	"github.com/applink-dev/applink/engine/workspace"
	"github.com/charmbracelet/x/term"
)

func cmdRun(ctx context.Context, args []string, std stdio) int {
	c := newCommand("run", "DIR", std)
	out := c.fs.String("out", "", "outbox `OUTDIR`, cumulative across runs (default DIR/.applink/outbox)")
	statePath := c.fs.String("state", "", "state `FILE` (default DIR/.applink/state.duckdb)")
	planFile := c.fs.String("plan", "", "run the `PLANFILE` saved by applink plan --out, refusing it if the spec or the state changed since")
	quiet := c.fs.Bool("quiet", false, "no progress on stderr")
	dryRun := c.fs.Bool("dry-run", false, "with a cxone sink: authenticate nothing, send nothing, print each request it would make; the state is not changed")
	format := c.withFormat(defaultDiagFormat(), diagFormats, "output format of the summary and diagnostics")
	dir, code, ok := c.oneDir(args)
	if !ok {
		return code
	}
	var plan *engine.Plan
	paths := workspace.DefaultPaths(dir, *out, *statePath)
	if *planFile != "" {
		plan, code = loadPlanFile(ctx, *planFile, dir, paths, std)
	} else {
		plan, code = compile(dir, *format, std)
	}
	if plan == nil {
		return code
	}
	ws := newWorkspace(plan, paths)
	if *dryRun {
		return dryRunPlan(ctx, ws, *format, std)
	}
	return runPlan(ctx, ws, *quiet, *format, std)
}

// dryRunPlan prints what a run would send, against the committed state,
// and changes nothing.
func dryRunPlan(ctx context.Context, ws *workspace.Workspace, format string, std stdio) int {
	sum, err := ws.DryRun(ctx, std.out)
	if err != nil {
		fmt.Fprintf(std.err, "applink run: %v\n", err)
		if sum == nil && (ws.Plan.Sink == nil || ws.Plan.Sink.Kind == "") {
			return exitUsage
		}
		return exitFindings
	}
	if format == "json" {
		return printJSON(std, sum.JSON())
	}
	fmt.Fprintln(std.out)
	summarytext.WriteSummary(std.out, sum)
	fmt.Fprintln(std.out, "dry run: nothing was sent and the state is unchanged")
	return exitOK
}

// loadPlanFile reads a saved plan and refuses it when the spec files, the
// state's watermarks or its sources are no longer what it was made from.
func loadPlanFile(ctx context.Context, path, dir string, paths workspace.Paths, std stdio) (*engine.Plan, int) {
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
	plan, err := pf.PlanWith(dir, registry())
	if err != nil {
		fmt.Fprintf(std.err, "applink: %s: %v\n", path, err)
		return nil, exitFindings
	}
	wms, err := workspace.Watermarks(ctx, stateDrivers(), workspace.StateConfig(plan.State, plan.Customer, paths))
	if err != nil {
		fmt.Fprintf(std.err, "applink: %v\n", err)
		return nil, exitFindings
	}
	if err := pf.CheckWatermarks(wms); err != nil {
		fmt.Fprintf(std.err, "applink: %s: %v\n", path, err)
		return nil, exitFindings
	}
	if diags := plan.CheckSources(registry()); diags.HasErrors() {
		printDiags(std, nil, diags, "text")
		return nil, exitFindings
	}
	return plan, exitOK
}

// runPlan runs a compiled plan incrementally and prints the summary.
func runPlan(ctx context.Context, ws *workspace.Workspace, quiet bool, format string, std stdio) int {
	var prog *progressPrinter
	var progress func(engine.Progress)
	if !quiet {
		prog = newProgressPrinter(std.err)
		progress = prog.update
	}
	// With a PostgreSQL state, a serve holding the spec runs it: refuse,
	// naming the holder (and hold its lock meanwhile so none starts).
	release, err := holdSpecLock(ctx, ws)
	if err != nil {
		fmt.Fprintf(std.err, "applink run: %v\n", err)
		return exitFindings
	}
	if release != nil {
		defer release()
	}
	r, err := ws.Run(ctx, progress)
	if prog != nil {
		prog.finish()
	}
	if r != nil && len(r.Pruned) > 0 {
		fmt.Fprintf(std.err, "staging: pruned %d runs older than %d days\n", len(r.Pruned), r.RetentionDays)
	}
	if err != nil {
		fmt.Fprintf(std.err, "applink run: %v\n", err)
		if pe := (*engine.PanicError)(nil); errors.As(err, &pe) {
			fmt.Fprintf(std.err, "%s\n", pe.Stack) // a bug: the stack is what a report needs
		}
		if errors.Is(err, engine.ErrInterrupted) {
			fmt.Fprintf(std.err, "resume with: applink run %s\n", ws.Plan.SpecDir)
		}
		return exitFindings
	}
	if format == "json" {
		j := r.Summary.JSON()
		j["sent_to"], j["state"] = r.Where, ws.State.String()
		if r.Staged {
			j["staged"] = r.StageDir
		}
		if code := printJSON(std, j); code != exitOK {
			return code
		}
	} else {
		summarytext.WriteSummary(std.out, r.Summary)
		fmt.Fprintf(std.out, "sent to: %s\nstate:   %s\n", r.Where, ws.State)
		if r.Staged {
			fmt.Fprintf(std.out, "staged: %s (kept %d days)\n", r.StageDir, r.RetentionDays)
		}
	}
	if !r.Summary.Clean() {
		// A scheduler alerts on the exit status: failed or unreadable rows
		// are findings even though the run committed.
		w := std.out
		if format == "json" {
			w = std.err // stdout stays one JSON document
		}
		summarytext.WriteVerdict(w, r.Summary, ws.Plan.SpecDir)
		return exitFindings
	}
	return exitOK
}

// printJSON writes one indented JSON document on stdout.
func printJSON(std stdio, v any) int {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		fmt.Fprintf(std.err, "applink: %v\n", err)
		return exitFindings
	}
	fmt.Fprintln(std.out, string(b))
	return exitOK
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
