package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/state"
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
	dest := destination(plan, workspace.New(plan, workspace.DefaultPaths(dir, "", *statePath), registry()))
	if *format == "json" {
		if code := printJSON(std, map[string]string{"plan_hash": plan.Hash(), "plan": plan.String() + dest}); code != exitOK {
			return code
		}
	} else {
		fmt.Fprint(std.out, plan.String()+dest)
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

// destination renders where a run of the plan goes and when: the sink (the
// outbox folder, or the CXone tenant and API host), the state (driver,
// DSN masked, key) and the schedule serve keeps.
func destination(plan *engine.Plan, ws *workspace.Workspace) string {
	var b strings.Builder
	b.WriteString("\ndestination:\n")
	fmt.Fprintf(&b, "  sink      %s", sinkDescription(plan, ws))
	if s := plan.Sink; s == nil || s.Kind == "" {
		b.WriteString(" (run --out overrides)")
	}
	b.WriteString("\n")
	st := ws.State
	switch st.Driver {
	case state.DriverPostgres:
		origin := "literal"
		if plan.State != nil && plan.State.DSNEnv != "" {
			origin = "env(" + plan.State.DSNEnv + ")"
		}
		dsn := dsl.MaskSecrets(st.DSN, dsl.DSNSecrets(st.DSN)...)
		if dsn == "" {
			dsn = "(empty: set the variable)"
		}
		fmt.Fprintf(&b, "  state     postgres %s (dsn from %s), key %q\n", dsn, origin, st.Spec)
	default:
		fmt.Fprintf(&b, "  state     duckdb %s\n", st.Path)
	}
	if plan.Schedule.Every > 0 {
		fmt.Fprintf(&b, "  schedule  every %s (applink serve)\n", plan.Schedule.Every)
	} else {
		b.WriteString("  schedule  none (applink serve needs --every)\n")
	}
	return b.String()
}

// sinkDescription names where a run sends: the outbox folder, or the
// sink's kind with the tenant and API host.
func sinkDescription(plan *engine.Plan, ws *workspace.Workspace) string {
	s := plan.Sink
	if s == nil || s.Kind == "" {
		return "outbox " + ws.Paths.Outbox
	}
	api := s.APIURL
	if api == "" {
		api = "discovered from the tenant at run time"
	}
	return fmt.Sprintf("%s: tenant %q, API %s", s.Kind, plan.CXoneTenant, hostOf(api))
}

// hostOf is a URL's scheme and host, or the text itself.
func hostOf(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		if j := strings.IndexByte(u[i+3:], '/'); j >= 0 {
			return u[:i+3+j]
		}
	}
	return u
}
