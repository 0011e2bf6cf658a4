package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/applink-dev/applink/engine/preview"
)

func cmdPreview(ctx context.Context, args []string, std stdio) int {
	fs := newFlags("preview", "preview [--db FILE] [--state FILE] [--json] [--bd] DIR", std)
	db := fs.String("db", "", "the preview DuckDB file (default DIR/.applink/preview.duckdb)")
	statePath := fs.String("state", "", "the state file to diff against, read only (default DIR/.applink/state.duckdb)")
	asJSON := fs.Bool("json", false, "print the summary as one JSON object")
	bd := fs.Bool("bd", false, "also store the source business data (long format; large)")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	format := fs.String("format", defaultDiagFormat(), "diagnostics format: text, json or github")
	pos, code, ok := parseFlags(fs, args, std)
	if !ok {
		return code
	}
	dir, ok := oneDir(fs, pos, std)
	if !ok || !checkFormat(*format, std.err) {
		return exitUsage
	}
	plan, code := compile(dir, *format, std)
	if plan == nil {
		return code
	}
	p := specPaths(dir, "", *statePath)
	if *db == "" {
		*db = filepath.Join(dir, ".applink", "preview.duckdb")
	}
	opts := preview.Options{DBPath: *db, StatePath: p.state, Registry: registry(), SampleBD: *bd}
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
	if *asJSON {
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
