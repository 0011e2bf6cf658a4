package main

import (
	"context"
	"fmt"

	"github.com/applink-dev/applink/engine/preview"
	"github.com/applink-dev/applink/engine/workspace"
)

func cmdPreview(ctx context.Context, args []string, std stdio) int {
	c := newCommand("preview", "DIR", std)
	db := c.fs.String("db", "", "the preview DuckDB `FILE` (default DIR/.applink/preview.duckdb)")
	statePath := c.fs.String("state", "", "the state `FILE` to diff against, read only (default DIR/.applink/state.duckdb)")
	bd := c.fs.Bool("bd", false, "also store the source business data (long format; large)")
	quiet := c.fs.Bool("quiet", false, "no progress on stderr")
	format := c.withFormat(defaultDiagFormat(), diagFormats, "output format of the summary and diagnostics (json: one object)")
	dir, code, ok := c.oneDir(args)
	if !ok {
		return code
	}
	plan, code := compile(dir, *format, std)
	if plan == nil {
		return code
	}
	p := workspace.DefaultPaths(dir, "", *statePath)
	if *db == "" {
		*db = p.Preview
	}
	diffPath, ledger, done, err := newWorkspace(plan, p).DiffState(ctx)
	if err != nil {
		fmt.Fprintf(std.err, "applink preview: %v\n", err)
		return exitFindings
	}
	defer done()
	opts := preview.Options{DBPath: *db, StatePath: diffPath, PriorLedger: ledger, Registry: registry(), SampleBD: *bd}
	var prog *progressPrinter
	if !*quiet {
		prog = newProgressPrinter(std.err)
		opts.Progress = prog.update
	}
	res, err := preview.Run(ctx, plan, opts)
	if prog != nil {
		prog.finish()
	}
	if err != nil {
		fmt.Fprintf(std.err, "applink preview: %v\n", err)
		return exitFindings
	}
	if *format == "json" {
		b, err := res.JSON()
		if err != nil {
			fmt.Fprintf(std.err, "applink preview: %v\n", err)
			return exitFindings
		}
		fmt.Fprintln(std.out, string(b))
		return exitOK
	}
	res.WriteText(std.out)
	fmt.Fprintf(std.out, "preview: %s (state untouched; `applink tui %s` to step through it)\n", *db, dir)
	return exitOK
}
