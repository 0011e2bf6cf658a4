package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/workspace"
)

func cmdPlan(ctx context.Context, args []string, std stdio) int {
	c := newCommand("plan", "DIR", std)
	out := c.fs.String("out", "", "also save the plan, with the spec's hash and the source watermarks, to `PLANFILE` for applink run --plan")
	statePath := c.fs.String("state", "", "state `FILE` whose watermarks the saved plan records (default DIR/.applink/state.duckdb)")
	format := c.withFormat(defaultDiagFormat(), diagFormats, "output format of the plan and diagnostics")
	dir, code, ok := c.oneDir(args)
	if !ok {
		return code
	}
	plan, code := compile(dir, *format, std)
	if plan == nil {
		return code
	}
	if err := plan.Describe(registry()); err != nil {
		fmt.Fprintf(std.err, "applink plan: %v\n", err)
		return exitFindings
	}
	if *format == "json" {
		if code := printJSON(std, map[string]string{"plan_hash": plan.Hash(), "plan": plan.String()}); code != exitOK {
			return code
		}
	} else {
		fmt.Fprint(std.out, plan.String())
	}
	if *out == "" {
		return exitOK
	}
	wms, err := workspace.Watermarks(ctx, stateDrivers(), workspace.StateConfig(plan.State, plan.Customer, workspace.DefaultPaths(dir, "", *statePath)))
	if err != nil {
		fmt.Fprintf(std.err, "applink: %v\n", err)
		return exitFindings
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
	w := std.out
	if *format == "json" {
		w = std.err // stdout stays one JSON document
	} else {
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "saved to %s; run it with: applink run --plan %s %s\n", *out, *out, dir)
	return exitOK
}
