package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/state"
)

func cmdPlan(ctx context.Context, args []string, std stdio) int {
	fs := newFlags("plan", "plan [--out PLANFILE] [--state FILE] [--format text|json|github] DIR", std)
	out := fs.String("out", "", "also save the plan, with the spec's hash and the source watermarks, for `applink run --plan`")
	statePath := fs.String("state", "", "state file whose watermarks the saved plan records (default DIR/.applink/state.duckdb)")
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
	if err := plan.Describe(registry()); err != nil {
		fmt.Fprintf(std.err, "applink plan: %v\n", err)
		return exitFindings
	}
	fmt.Fprint(std.out, plan.String())
	if *out == "" {
		return exitOK
	}
	wms := map[string]engine.Watermark{}
	p := specPaths(dir, "", *statePath)
	if _, err := os.Stat(p.state); err == nil {
		st, err := state.Open(ctx, p.state)
		if err != nil {
			fmt.Fprintf(std.err, "applink: %v\n", err)
			return exitFindings
		}
		wms, err = st.Watermarks(ctx)
		st.Close()
		if err != nil {
			fmt.Fprintf(std.err, "applink: %v\n", err)
			return exitFindings
		}
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		fmt.Fprintf(std.err, "applink: %v\n", err)
		return exitFindings
	}
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintf(std.err, "applink: %v\n", err)
		return exitFindings
	}
	if err := engine.SavePlan(f, plan, wms, time.Now()); err != nil {
		f.Close()
		fmt.Fprintf(std.err, "applink: save plan: %v\n", err)
		return exitFindings
	}
	if err := f.Close(); err != nil {
		fmt.Fprintf(std.err, "applink: save plan: %v\n", err)
		return exitFindings
	}
	fmt.Fprintf(std.out, "\nsaved to %s; run it with: applink run --plan %s %s\n", *out, *out, dir)
	return exitOK
}
