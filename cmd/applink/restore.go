package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/applink-dev/applink/engine/workspace"
)

func cmdRestore(ctx context.Context, args []string, std stdio) int {
	c := newCommand("restore", "DIR", std)
	runID := c.fs.String("run", "", "the staged `RUN_ID` to resend, or latest (required; see applink report or DIR/.applink/staging)")
	calls := c.fs.String("calls", "", "only these call ids, comma-separated (`ID,…`)")
	out := c.fs.String("out", "", "outbox `OUTDIR` (default DIR/.applink/outbox)")
	statePath := c.fs.String("state", "", "state `FILE` (default DIR/.applink/state.duckdb)")
	dir, code, ok := c.oneDir(args)
	if !ok {
		return code
	}
	if *runID == "" {
		fmt.Fprintln(std.err, "applink restore: --run is required")
		c.usageLine(std.err)
		return exitUsage
	}
	plan, code := compileSources(dir, defaultDiagFormat(), std, false)
	if plan == nil {
		return code
	}
	ws := newWorkspace(plan, workspace.DefaultPaths(dir, *out, *statePath))
	res, err := ws.Restore(ctx, *runID, splitIDs(*calls))
	if res != nil {
		fmt.Fprintf(std.out, "restored from run %s: %d agents, %d calls into %s\n", res.FromRun, res.Agents, res.Calls, res.Where)
	}
	if err != nil {
		fmt.Fprintf(std.err, "applink restore: %v\n", err)
		return exitFindings
	}
	if len(res.Missing) > 0 {
		fmt.Fprintf(std.err, "not in run %s's staging: %s\n", res.FromRun, strings.Join(res.Missing, ", "))
		return exitFindings
	}
	return exitOK
}

// splitIDs parses a comma-separated id list, without blanks or repeats.
func splitIDs(list string) []string {
	seen := map[string]bool{}
	var ids []string
	for _, id := range strings.Split(list, ",") {
		if id = strings.TrimSpace(id); id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}

func cmdPurge(ctx context.Context, args []string, std stdio) int {
	c := newCommand("purge", "DIR", std)
	before := c.fs.String("before", "", "delete runs staged before this `DATE` (2026-11-01 or RFC 3339)")
	calls := c.fs.String("calls", "", "delete these calls from every staged run, a data-protection request (`ID,…`)")
	all := c.fs.Bool("all", false, "delete all staged data")
	statePath := c.fs.String("state", "", "state `FILE` (default DIR/.applink/state.duckdb)")
	dir, code, ok := c.oneDir(args)
	if !ok {
		return code
	}
	var req workspace.PurgeRequest
	n := 0
	if *before != "" {
		n++
		t, err := time.Parse(time.RFC3339, *before)
		if err != nil {
			t, err = time.Parse("2006-01-02", *before)
		}
		if err != nil {
			fmt.Fprintf(std.err, "applink purge: --before %q: want a date like 2026-11-01 or 2026-11-01T00:00:00Z\n", *before)
			return exitUsage
		}
		req.Before = t
	}
	if *calls != "" {
		n++
		req.Calls = splitIDs(*calls)
	}
	if *all {
		n++
		req.All = true
	}
	if n != 1 {
		fmt.Fprintln(std.err, "applink purge: give exactly one of --before, --calls, --all")
		c.usageLine(std.err)
		return exitUsage
	}
	// A data-protection request must work even when the spec no longer
	// validates: purge needs no plan.
	ws := newWorkspace(nil, workspace.DefaultPaths(dir, "", *statePath))
	ws.State = workspace.SpecState(dir, *statePath)
	res, err := ws.Purge(ctx, req)
	if err != nil {
		fmt.Fprintf(std.err, "applink purge: %v\n", err)
		return exitFindings
	}
	if len(req.Calls) > 0 {
		fmt.Fprintf(std.out, "purged %d staged rows of %d calls\n", res.RemovedRows, len(req.Calls))
	} else {
		fmt.Fprintf(std.out, "purged the staged data of %d runs\n", len(res.Runs))
	}
	return exitOK
}
