package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/applink-dev/applink/connectors/outbox"
	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/state"
)

func cmdRestore(ctx context.Context, args []string, std stdio) int {
	fs := newFlags("restore", "restore --run RUN_ID [--calls ID,…] [--out OUTDIR] [--state FILE] DIR", std)
	runID := fs.String("run", "", "the staged run to resend, or `latest` (see `applink report` or DIR/.applink/staging)")
	calls := fs.String("calls", "", "only these call ids, comma-separated")
	out := fs.String("out", "", "outbox folder (default DIR/.applink/outbox)")
	statePath := fs.String("state", "", "state file (default DIR/.applink/state.duckdb)")
	pos, code, ok := parseFlags(fs, args, std)
	if !ok {
		return code
	}
	dir, ok := oneDir(fs, pos, std)
	if !ok {
		return exitUsage
	}
	if *runID == "" {
		fmt.Fprintln(std.err, "applink restore: --run is required")
		return exitUsage
	}
	plan, code := compile(dir, defaultDiagFormat(), std)
	if plan == nil {
		return code
	}
	p := specPaths(dir, *out, *statePath)
	st, err := state.Open(ctx, p.state)
	if err != nil {
		fmt.Fprintf(std.err, "applink restore: %v\n", err)
		return exitFindings
	}
	defer st.Close()
	staged, err := findStaged(ctx, st, *runID)
	if err != nil {
		fmt.Fprintf(std.err, "applink restore: %v\n", err)
		return exitFindings
	}
	keep, want := idFilter(*calls)
	started := time.Now()
	restoreID := "restore-" + started.UTC().Format("20060102T150405.000000Z")
	sink := outbox.NewCumulative(p.outbox)
	if err := sink.Open(ctx, engine.RunInfo{RunID: restoreID, PlanHash: plan.Hash(), Fields: plan.Fields, Fail: func(string, string, string) {}}); err != nil {
		fmt.Fprintf(std.err, "applink restore: %v\n", err)
		return exitFindings
	}
	var nAgents, nCalls int
	found := map[string]bool{}
	err = outbox.ReadStaged(staged.Path, plan.Fields, keep, func(s outbox.Staged) error {
		switch {
		case s.Agent != nil:
			if keep != nil {
				return nil // restoring chosen calls resends only those
			}
			nAgents++
			return sink.Agent(ctx, s.Agent)
		case s.Call != nil:
			nCalls++
			found[s.Call.CallID] = true
			s.Call.SystemID = plan.SystemID
			return sink.Call(ctx, s.Call)
		default:
			if s.Ledger.Entity == "agent" && keep != nil {
				return nil
			}
			return sink.Ledger(ctx, *s.Ledger)
		}
	})
	if err == nil {
		err = sink.Commit(ctx)
	}
	if err != nil {
		sink.Abort()
		fmt.Fprintf(std.err, "applink restore: %v\n", err)
		return exitFindings
	}
	var missing []string
	for _, id := range want {
		if !found[id] {
			missing = append(missing, id)
		}
	}
	if err := st.RecordEvent(ctx, "restore", restoreID, started, map[string]any{
		"from_run": staged.RunID, "agents": nAgents, "calls": nCalls, "missing": missing}); err != nil {
		fmt.Fprintf(std.err, "applink restore: %v\n", err)
		return exitFindings
	}
	fmt.Fprintf(std.out, "restored from run %s: %d agents, %d calls into %s\n", staged.RunID, nAgents, nCalls, p.outbox)
	if len(missing) > 0 {
		fmt.Fprintf(std.err, "not in run %s's staging: %s\n", staged.RunID, strings.Join(missing, ", "))
		return exitFindings
	}
	return exitOK
}

func findStaged(ctx context.Context, st *state.Store, runID string) (state.StagedRun, error) {
	runs, err := st.Staging(ctx)
	if err != nil {
		return state.StagedRun{}, err
	}
	if runID == "latest" {
		for i := len(runs) - 1; i >= 0; i-- {
			if runs[i].PurgedAt == nil {
				runID = runs[i].RunID
				break
			}
		}
		if runID == "latest" && len(runs) > 0 {
			runID = runs[len(runs)-1].RunID // all purged: say so below
		}
	}
	for _, r := range runs {
		if r.RunID != runID {
			continue
		}
		if r.PurgedAt != nil {
			return r, fmt.Errorf("run %s's staged data was purged on %s", runID, r.PurgedAt.UTC().Format(time.RFC3339))
		}
		if _, err := os.Stat(r.Path); err != nil {
			return r, fmt.Errorf("run %s's staged data is missing: %w", runID, err)
		}
		return r, nil
	}
	var ids []string
	for _, r := range runs {
		if r.PurgedAt == nil {
			ids = append(ids, r.RunID)
		}
	}
	return state.StagedRun{}, fmt.Errorf("no staged run %q; staged runs: %s", runID, strings.Join(ids, ", "))
}

// idFilter parses a comma-separated id list; nil when empty (all).
func idFilter(list string) (func(string) bool, []string) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	set := map[string]bool{}
	var ids []string
	for _, id := range strings.Split(list, ",") {
		if id = strings.TrimSpace(id); id != "" && !set[id] {
			set[id] = true
			ids = append(ids, id)
		}
	}
	return func(id string) bool { return set[id] }, ids
}

func cmdPurge(ctx context.Context, args []string, std stdio) int {
	fs := newFlags("purge", "purge (--before DATE | --calls ID,… | --all) [--state FILE] DIR", std)
	before := fs.String("before", "", "delete runs staged before this date (2026-11-01 or RFC 3339)")
	calls := fs.String("calls", "", "delete these calls from every staged run (a data-protection request)")
	all := fs.Bool("all", false, "delete all staged data")
	statePath := fs.String("state", "", "state file (default DIR/.applink/state.duckdb)")
	pos, code, ok := parseFlags(fs, args, std)
	if !ok {
		return code
	}
	dir, ok := oneDir(fs, pos, std)
	if !ok {
		return exitUsage
	}
	n := 0
	for _, set := range []bool{*before != "", *calls != "", *all} {
		if set {
			n++
		}
	}
	if n != 1 {
		fmt.Fprintln(std.err, "applink purge: give exactly one of --before, --calls, --all")
		return exitUsage
	}
	var cutoff time.Time
	if *before != "" {
		t, err := time.Parse(time.RFC3339, *before)
		if err != nil {
			t, err = time.Parse("2006-01-02", *before)
		}
		if err != nil {
			fmt.Fprintf(std.err, "applink purge: --before %q: want a date like 2026-11-01 or 2026-11-01T00:00:00Z\n", *before)
			return exitUsage
		}
		cutoff = t
	}
	p := specPaths(dir, "", *statePath)
	st, err := state.Open(ctx, p.state)
	if err != nil {
		fmt.Fprintf(std.err, "applink purge: %v\n", err)
		return exitFindings
	}
	defer st.Close()
	runs, err := st.Staging(ctx)
	if err != nil {
		fmt.Fprintf(std.err, "applink purge: %v\n", err)
		return exitFindings
	}
	started := time.Now()
	detail := map[string]any{}
	switch {
	case *calls != "":
		_, ids := idFilter(*calls)
		set := map[string]bool{}
		for _, id := range ids {
			set[id] = true
		}
		removed := 0
		for _, r := range runs {
			if r.PurgedAt != nil {
				continue
			}
			k, err := outbox.RemoveCalls(r.Path, set)
			if err != nil {
				fmt.Fprintf(std.err, "applink purge: run %s: %v\n", r.RunID, err)
				return exitFindings
			}
			removed += k
		}
		detail["calls"], detail["removed_rows"] = ids, removed
		fmt.Fprintf(std.out, "purged %d staged rows of %d calls\n", removed, len(ids))
	default:
		var purged []string
		for _, r := range runs {
			if r.PurgedAt != nil || (!*all && !r.Created.Before(cutoff)) {
				continue
			}
			if err := st.PurgeRun(ctx, r, started); err != nil {
				fmt.Fprintf(std.err, "applink purge: %v\n", err)
				return exitFindings
			}
			purged = append(purged, r.RunID)
		}
		detail["runs"] = purged
		if *all {
			detail["all"] = true
		} else {
			detail["before"] = cutoff
		}
		fmt.Fprintf(std.out, "purged the staged data of %d runs\n", len(purged))
	}
	if err := st.RecordEvent(ctx, "purge", "purge-"+started.UTC().Format("20060102T150405.000000Z"), started, detail); err != nil {
		fmt.Fprintf(std.err, "applink purge: %v\n", err)
		return exitFindings
	}
	return exitOK
}
