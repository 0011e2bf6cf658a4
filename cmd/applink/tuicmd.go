package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/term"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/preview"
	"github.com/applink-dev/applink/engine/state"
	"github.com/applink-dev/applink/tui"
)

// cmdTui opens the TUI over a spec: step through a preview, look at rows and
// the diff, and apply for real after a typed confirmation.
func cmdTui(ctx context.Context, args []string, std stdio) int {
	fs := newFlags("tui", "tui [--db FILE] [--state FILE] [--out OUTDIR] [--bd] DIR", std)
	db := fs.String("db", "", "preview file (default DIR/.applink/preview.duckdb)")
	statePath := fs.String("state", "", "state file (default DIR/.applink/state.duckdb)")
	out := fs.String("out", "", "outbox folder for apply (default DIR/.applink/outbox); cumulative across runs")
	sampleBD := fs.Bool("bd", false, "also keep the source business data in the preview file, to show it in a row's detail (slower on big sources)")
	pos, code, ok := parseFlags(fs, args, std)
	if !ok {
		return code
	}
	dir, ok := oneDir(fs, pos, std)
	if !ok {
		return exitUsage
	}
	if f, isFile := std.out.(*os.File); !isFile || !term.IsTerminal(f.Fd()) {
		fmt.Fprintln(std.err, "applink tui: needs a terminal; use applink preview or applink run in scripts")
		return exitUsage
	}
	plan, code := compile(dir, "text", std)
	if plan == nil {
		return code
	}
	p := specPaths(dir, *out, *statePath)
	dbPath := *db
	if dbPath == "" {
		dbPath = filepath.Join(dir, ".applink", "preview.duckdb")
	}
	reg := registry()
	m := tui.New(tui.Options{
		Context: ctx,
		Plan:    plan,
		Preview: func(ctx context.Context, progress func(engine.Progress)) (*preview.Result, tui.Store, error) {
			res, err := preview.Run(ctx, plan, preview.Options{DBPath: dbPath, StatePath: p.state, Registry: reg, Progress: progress, SampleBD: *sampleBD})
			if err != nil {
				return nil, nil, err
			}
			st, err := preview.OpenDB(res.DBPath)
			if err != nil {
				return nil, nil, err
			}
			return res, st, nil
		},
		Apply: func(ctx context.Context, progress func(engine.Progress)) (*engine.Summary, error) {
			return applyPlan(ctx, plan, p, reg, progress)
		},
		Ledger:  func(ctx context.Context) (string, error) { return ledgerState(ctx, p.state) },
		Animate: true,
	})
	restore := divertStderr(filepath.Join(dir, ".applink", "tui.log"))
	final, err := tea.NewProgram(m, tea.WithInput(std.in), tea.WithOutput(std.out)).Run()
	restore()
	if fm, ok := final.(tui.Model); ok {
		_ = fm.Close()
	}
	if err != nil {
		fmt.Fprintf(std.err, "applink tui: %v\n", err)
		return exitFindings
	}
	return exitOK
}

// divertStderr sends what Go code writes to os.Stderr while the TUI runs
// (library warnings, stray debug lines) to a log file, where it cannot draw
// over the screen. It returns the function that puts os.Stderr back.
func divertStderr(path string) (restore func()) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return func() {}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return func() {}
	}
	orig := os.Stderr
	os.Stderr = f
	return func() {
		os.Stderr = orig
		_ = f.Close()
	}
}

// ledgerState says what the state holds after a failed apply: the last
// committed run, which a new run resumes from.
func ledgerState(ctx context.Context, path string) (string, error) {
	if _, err := os.Stat(path); err != nil {
		return "no state file yet: nothing was ever committed", nil
	}
	st, err := state.Open(ctx, path)
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
