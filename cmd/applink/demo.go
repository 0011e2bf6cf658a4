package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/applink-dev/applink/connectors/cxone"
	"github.com/applink-dev/applink/connectors/cxone/cxonetest"
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
	sinkKind := c.fs.String("sink", "outbox", "where the demo run sends, `KIND`: outbox (a folder) or cxone (a fake CXone tenant started in this process on 127.0.0.1)")
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
	if *sinkKind != "outbox" && *sinkKind != "cxone" {
		fmt.Fprintf(std.err, "applink demo: --sink must be outbox or cxone, not %q\n", *sinkKind)
		return exitUsage
	}
	opt := demogen.Options{Calls: *calls, BDFields: *bdFields, Agents: *agents, Seed: *seed}
	withCXone := *sinkKind == "cxone"
	if withCXone {
		// Media to deliver: small placeholder files (demogen bounds them).
		opt.MediaFiles = *calls <= demogen.MaxMediaCalls
	}
	if *bdFields == 0 {
		opt.BDFields = -1 // demogen: 0 means its default, negative means none
	}

	runAll := *out == "" && *specDir == "" || withCXone // the fake lives only while the demo runs
	if *specDir == "" {
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
	if withCXone {
		return demoCXone(ctx, *specDir, *quiet, std)
	}
	plan, code := compile(*specDir, "text", std)
	if plan == nil {
		return code
	}
	fmt.Fprintf(std.out, "\n%s\n", plan.String())
	ws := newWorkspace(plan, workspace.DefaultPaths(*specDir, filepath.Join(filepath.Dir(*specDir), "outbox"), ""))
	return runPlan(ctx, ws, *quiet, "text", std)
}

// demoCXone runs the demo spec against a fake CXone tenant (cxonetest)
// started in this process on 127.0.0.1, with its own credentials: nobody
// needs a program or a tenant to see what the cxone sink sends. The spec
// gets a sink block pointing at the fake (valid while the demo runs); the
// summary and the report say what was delivered, and the fake confirms it.
func demoCXone(ctx context.Context, specDir string, quiet bool, std stdio) int {
	srv := cxonetest.New(cxonetest.Config{})
	defer srv.Close()
	sink := fmt.Sprintf(`# Written by applink demo --sink cxone: a fake CXone tenant that lived in
# the demo's process (its ports are gone now). For a real tenant, remove
# api_url and auth_url (or set yours) and export CXONE_ACCESS_KEY_ID,
# CXONE_ACCESS_KEY_SECRET, CXONE_CLIENT_ID and CXONE_CLIENT_SECRET.
sink "cxone" {
  api_url             = %q
  auth_url            = %q
  concurrency         = 8
  requests_per_second = 1000 # the fake has no limit; leave it out for a real tenant's default
}
`, srv.APIURL, srv.URL)
	if err := os.WriteFile(filepath.Join(specDir, "sink.hcl"), []byte(sink), 0o644); err != nil {
		fmt.Fprintf(std.err, "applink demo: %v\n", err)
		return exitFindings
	}
	fmt.Fprintf(std.out, "CXone fake: API %s, issuer %s (in this process, loopback only)\n", srv.APIURL, srv.URL)
	plan, code := compile(specDir, "text", std)
	if plan == nil {
		return code
	}
	fmt.Fprintf(std.out, "\n%s\n", plan.String())
	reg := registryWith(cxone.Options{Getenv: srv.Getenv})
	ws := workspace.New(plan, workspace.DefaultPaths(specDir, "", ""), reg)
	ws.Drivers = stateDrivers()
	code = runPlan(ctx, ws, quiet, "text", std)
	if code == exitUsage {
		return code
	}
	media := 0
	for _, c := range srv.Calls() {
		if len(c.Media) > 0 {
			media++
		}
	}
	bd := 0
	for _, n := range srv.BusinessDataWrites() {
		if n > 0 {
			bd++
		}
	}
	fmt.Fprintf(std.out, "\nthe CXone fake holds: %d users, %d calls, %d with media, %d with business data\n",
		len(srv.Users()), srv.CallCount(), media, bd)
	fmt.Fprintf(std.out, "report: applink report %s (add --format html for the page)\n\n", specDir)
	if rc := cmdReport(ctx, []string{specDir}, std); rc != exitOK {
		return rc
	}
	return code
}
