package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/term"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/preview"
	"github.com/applink-dev/applink/engine/workspace"
	"github.com/applink-dev/applink/tui"
)

// cmdTui opens the TUI over a spec: step through a preview, look at rows and
// the diff, and apply for real after a typed confirmation.
func cmdTui(ctx context.Context, args []string, std stdio) int {
	c := newCommand("tui", "DIR", std)
	db := c.fs.String("db", "", "preview `FILE` (default DIR/.applink/preview.duckdb)")
	statePath := c.fs.String("state", "", "state `FILE` (default DIR/.applink/state.duckdb)")
	out := c.fs.String("out", "", "outbox `OUTDIR` for apply, cumulative across runs (default DIR/.applink/outbox)")
	sampleBD := c.fs.Bool("bd", false, "also keep the source business data in the preview file, to show it in a row's detail (slower on big sources)")
	dir, code, ok := c.oneDir(args)
	if !ok {
		return code
	}
	if f, isFile := std.out.(*os.File); !isFile || !term.IsTerminal(f.Fd()) {
		fmt.Fprintln(std.err, "applink tui: needs a terminal; use applink preview or applink run in scripts")
		return exitUsage
	}
	plan, code := compile(dir, "text", std)
	if plan == nil {
		return code
	}
	ws := newWorkspace(plan, workspace.DefaultPaths(dir, *out, *statePath))
	dbPath := *db
	if dbPath == "" {
		dbPath = ws.Paths.Preview
	}
	reg := ws.Registry
	m := tui.New(tui.Options{
		Context: ctx,
		Plan:    plan,
		Preview: func(ctx context.Context, progress func(engine.Progress)) (*preview.Result, tui.Store, error) {
			statePath, ledger, done, err := ws.DiffState(ctx)
			if err != nil {
				return nil, nil, err
			}
			defer done()
			res, err := preview.Run(ctx, plan, preview.Options{DBPath: dbPath, StatePath: statePath, PriorLedger: ledger, Registry: reg, Progress: progress, SampleBD: *sampleBD})
			if err != nil {
				return nil, nil, err
			}
			st, err := preview.OpenDB(res.DBPath)
			if err != nil {
				return nil, nil, err
			}
			return res, st, nil
		},
		Open: func(ctx context.Context) (*preview.Result, tui.Store, error) {
			res, db, err := preview.OpenIfExists(ctx, dbPath)
			if db == nil { // keep a nil *DB a nil Store
				return res, nil, err
			}
			return res, db, err
		},
		Previous: ws.PreviousSent,
		Apply: func(ctx context.Context, progress func(engine.Progress)) (*engine.RunRecord, error) {
			r, err := ws.Run(ctx, progress)
			if r == nil {
				return nil, err
			}
			return r.Summary, err
		},
		Ledger:      ws.LedgerState,
		Destination: sinkDescription(plan, ws),
		Animate:     true,
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
