package main

import (
	"context"
	"fmt"
	"time"

	"github.com/applink-dev/applink/connectors/cxone"
	"github.com/applink-dev/applink/connectors/mssql"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
)

func cmdCheck(ctx context.Context, args []string, std stdio) int {
	fs := newFlags("check", "check DIR", std)
	pos, code, ok := parseFlags(fs, args, std)
	if !ok {
		return code
	}
	dir, ok := oneDir(fs, pos, std)
	if !ok {
		return exitUsage
	}
	plan, code := compile(dir, defaultDiagFormat(), std)
	if plan == nil {
		return code
	}
	failed := 0
	for _, src := range plan.Sources {
		var err error
		if src.Driver == "mssql" {
			err = mssql.Check(ctx, src, plan.Window.From, std.out)
		} else {
			err = checkFileSource(ctx, src.Name, src, plan, std)
		}
		if err != nil {
			if src.Driver == "mssql" { // its errors name the source already
				fmt.Fprintf(std.err, "applink check: %v\n", err)
			} else {
				fmt.Fprintf(std.err, "applink check: source %s: %v\n", src.Name, err)
			}
			failed++
		}
	}
	if plan.Sink != nil && plan.Sink.Kind == "cxone" {
		if err := cxone.Check(ctx, *plan.Sink, plan.Fields, std.out, cxone.Options{}); err != nil {
			fmt.Fprintf(std.err, "applink check: %v\n", err)
			failed++
		}
	}
	if failed > 0 {
		return exitFindings
	}
	return exitOK
}

// checkFileSource opens a snapshot or DuckDB source and reads it through,
// counting rows and bad rows, so `check` says whether a run could read it.
func checkFileSource(ctx context.Context, name string, src dsl.Source, plan *engine.Plan, std stdio) error {
	f := registry().Sources[src.Driver]
	if f == nil {
		return fmt.Errorf("no connector for driver %q", src.Driver)
	}
	start := time.Now()
	s, err := f(ctx, src)
	if err != nil {
		return err
	}
	defer s.Close()
	var agents, calls, bad int
	if err := s.ReadAgents(ctx, func(r *engine.AgentRecord) error {
		agents++
		if r.Err != nil {
			bad++
		}
		return nil
	}); err != nil {
		return err
	}
	if err := s.ReadCalls(ctx, engine.CallQuery{From: plan.Window.From, Names: engine.NewNames()}, func(r *engine.CallRecord) error {
		calls++
		if r.Err != nil {
			bad++
		}
		return nil
	}); err != nil {
		return err
	}
	fmt.Fprintf(std.out, "%s: %s %s readable: %d agent rows, %d calls, %d bad rows, in %s\n",
		name, src.Driver, src.Path, agents, calls, bad, time.Since(start).Round(time.Millisecond))
	return nil
}
