package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/applink-dev/applink/connectors/demogen"
	"github.com/applink-dev/applink/engine/workspace"
)

func cmdDemo(ctx context.Context, args []string, std stdio) int {
	c := newCommand("demo", "", std)
	out := c.fs.String("out", "", "write the Engage snapshot (agents.csv, calls.csv, business_data.csv) into `DIR`")
	specDir := c.fs.String("spec", "", "also write a matching spec folder into `SPECDIR` (data in SPECDIR/data unless --out)")
	calls := c.fs.Int("calls", demogen.DefaultCalls, "number of calls")
	bdFields := c.fs.Int("bd-fields", demogen.DefaultBDFields, "business-data fields per call, 0..50")
	agents := c.fs.Int("agents", demogen.DefaultAgents, "number of Engage users")
	seed := c.fs.Uint64("seed", 1, "random `SEED`: the same seed gives the same files")
	quiet := c.fs.Bool("quiet", false, "no progress on stderr")
	pos, code, ok := c.parse(args)
	if !ok {
		return code
	}
	if len(pos) != 0 {
		fmt.Fprintf(std.err, "applink demo: unexpected argument %q\n", pos[0])
		c.usageLine(std.err)
		return exitUsage
	}
	if *calls < 1 || *bdFields < 0 || *bdFields > 50 || *agents < 1 {
		fmt.Fprintln(std.err, "applink demo: --calls must be ≥ 1, --bd-fields 0..50, --agents ≥ 1")
		return exitUsage
	}
	opt := demogen.Options{Calls: *calls, BDFields: *bdFields, Agents: *agents, Seed: *seed}
	if *bdFields == 0 {
		opt.BDFields = -1 // demogen: 0 means its default, negative means none
	}

	runAll := *out == "" && *specDir == ""
	if runAll {
		tmp, err := os.MkdirTemp("", "applink-demo-")
		if err != nil {
			fmt.Fprintf(std.err, "applink demo: %v\n", err)
			return exitFindings
		}
		*specDir = filepath.Join(tmp, "spec")
	}
	if *out == "" {
		*out = filepath.Join(*specDir, "data")
	}
	start := time.Now()
	st, err := demogen.Generate(*out, opt)
	if err != nil {
		fmt.Fprintf(std.err, "applink demo: %v\n", err)
		return exitFindings
	}
	fmt.Fprintf(std.out, "demo data: %s (%d users in %d agent rows, %d calls, %d business-data rows, %.1f MB, %s)\n",
		*out, st.Users, st.AgentRows, st.Calls, st.BDRows, float64(st.Bytes)/1e6, time.Since(start).Round(time.Millisecond))
	if *specDir != "" {
		if err := demogen.WriteSpec(*specDir, *out, opt); err != nil {
			fmt.Fprintf(std.err, "applink demo: %v\n", err)
			return exitFindings
		}
		fmt.Fprintf(std.out, "demo spec: %s\n", *specDir)
	}
	if !runAll {
		return exitOK
	}
	plan, code := compile(*specDir, "text", std)
	if plan == nil {
		return code
	}
	fmt.Fprintf(std.out, "\n%s\n", plan.String())
	ws := newWorkspace(plan, workspace.DefaultPaths(*specDir, filepath.Join(filepath.Dir(*specDir), "outbox"), ""))
	return runPlan(ctx, ws, *quiet, "text", std)
}
