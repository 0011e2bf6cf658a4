package main

import (
	"context"
	"fmt"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/report"
	"github.com/applink-dev/applink/engine/workspace"
)

func cmdReport(ctx context.Context, args []string, std stdio) int {
	c := newCommand("report", "DIR", std)
	runID := c.fs.String("run", "", "report only this `RUN_ID` (default: the whole ledger and every run)")
	format := c.withFormat("text", reportFormats, "report format (html: one self-contained page to mail or print)")
	statePath := c.fs.String("state", "", "state `FILE` or PostgreSQL DSN (default: the spec's state block, else DIR/.applink/state.duckdb)")
	dir, code, ok := c.oneDir(args)
	if !ok {
		return code
	}
	cfg := workspace.SpecState(dir, *statePath)
	if !cfg.Exists() {
		fmt.Fprintf(std.err, "applink report: no state at %s: run the spec first\n", cfg)
		return exitFindings
	}
	st, err := stateDrivers().OpenReadOnly(ctx, cfg)
	if err != nil {
		fmt.Fprintf(std.err, "applink report: %v\n", err)
		return exitFindings
	}
	defer st.Close()
	plan, planErr := reportPlan(dir)
	r, err := report.Build(ctx, st, report.Options{RunID: *runID, Plan: plan, PlanError: planErr, StatePath: st.String()})
	if err != nil {
		fmt.Fprintf(std.err, "applink report: %v\n", err)
		return exitFindings
	}
	switch *format {
	case "json":
		err = r.WriteJSON(std.out)
	case "html":
		err = r.WriteHTML(std.out)
	default:
		err = r.WriteText(std.out)
	}
	if err != nil {
		fmt.Fprintf(std.err, "applink report: %v\n", err)
		return exitFindings
	}
	if a := r.Accounting; a != nil && a.Unexplained != 0 {
		return exitFindings
	}
	return exitOK
}

// reportPlan compiles the spec for the report's header. A spec that no
// longer validates does not stop the report: the state is still reported,
// and the report says why the plan is missing.
func reportPlan(dir string) (*engine.Plan, string) {
	spec, diags := dsl.LoadWith(dir, dsl.LoadOptions{Connectors: registry().Connectors()})
	if diags.HasErrors() {
		errs, _ := countDiags(diags)
		return nil, fmt.Sprintf("the spec in %s has %s: applink validate %s shows them", dir, plural(errs, "error"), dir)
	}
	plan, err := engine.Compile(spec)
	if err != nil {
		return nil, fmt.Sprintf("the spec does not compile: %v", err)
	}
	return plan, ""
}
