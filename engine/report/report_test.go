package report_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/report"
	"github.com/applink-dev/applink/engine/report/reporttest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var made = time.Date(2026, 11, 12, 9, 30, 0, 0, time.UTC)

const spec = `
spec {
  customer              = "acme"
  cxone_tenant          = "acme-eu1"
  installed_at          = "2026-11-01T00:00:00Z"
  backfill_requested_at = "2026-11-03T00:00:00Z"
}
source "engage" "dc1" {
  driver    = "snapshot"
  path      = "data"
  system_id = "engage-acme"
}
staging { retention_days = 30 }
field "text" "Customer" { value = "bd.Customer" }
`

func testPlan(t *testing.T) *engine.Plan {
	t.Helper()
	s, diags := dsl.Parse("spec", map[string][]byte{"main.hcl": []byte(spec)})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	p, err := engine.Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func build(t *testing.T, opts report.Options) *report.Report {
	t.Helper()
	opts.Now, opts.StatePath = made, "spec/.applink/state.duckdb"
	r, err := report.Build(context.Background(), newFakeState(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it); got:\n%s", name, got)
	}
}

func render(t *testing.T, r *report.Report, format string) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch format {
	case "text":
		err = r.WriteText(&b)
	case "json":
		err = r.WriteJSON(&b)
	case "html":
		err = r.WriteHTML(&b)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestGoldens renders the whole-ledger report, one run's, and one without
// a plan in every format.
func TestGoldens(t *testing.T) {
	for _, c := range []struct {
		name string
		opts func() report.Options
	}{
		{"ledger", func() report.Options { return report.Options{Plan: testPlan(t)} }},
		{"run", func() report.Options { return report.Options{Plan: testPlan(t), RunID: run2} }},
		{"noplan", func() report.Options {
			return report.Options{PlanError: "the spec in spec has 2 errors: applink validate spec shows them"}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := build(t, c.opts())
			for _, f := range []string{"text", "json", "html"} {
				ext := map[string]string{"text": "txt", "json": "json", "html": "html"}[f]
				golden(t, c.name+"."+ext+".golden", render(t, r, f))
			}
		})
	}
}

// TestAccountingIsExact: N of M counts call rows only; business-data rows
// without a call have their own line; unexplained is what is left.
func TestAccountingIsExact(t *testing.T) {
	r := build(t, report.Options{Plan: testPlan(t)})
	a := r.Accounting
	if a == nil || a.RunID != run2 {
		t.Fatalf("accounting of %+v, want the latest run %s", a, run2)
	}
	// 1 232 rows read (1 231 in the ledger, 1 unreadable) and 290 the
	// database filtered and counted.
	want := report.Accounting{RunID: run2, SourceRows: 1522, InLedger: 1231, UnreadableNoID: 1, Counted: 290, Accounted: 1522, BDWithoutCall: 3}
	if a.SourceRows != want.SourceRows || a.InLedger != want.InLedger || a.UnreadableNoID != want.UnreadableNoID ||
		a.Counted != want.Counted || a.Accounted != want.Accounted || a.Unexplained != 0 || a.BDWithoutCall != want.BDWithoutCall {
		t.Errorf("accounting %+v, want %+v", *a, want)
	}
	text := string(render(t, r, "text"))
	for _, w := range []string{
		"accounted for: 1522 of 1522 source call rows; unexplained: 0",
		"calls filtered in the database, not read (counted there):\n  excluded  before_window                250\n  excluded  other_tenant                  40",
		"field Customer: value left out of 7 calls (on_error = omit)\n  call C0003: main.hcl:12,36-47",
		"business data rows without a call: 3\n  business_data.csv:41:",
		"bad source rows: 3 (1 without a readable id)\n  calls.csv:100: B0001:",
		"calls.csv:733: record has 9 fields",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("text report lacks %q", w)
		}
	}
	// A run whose rows do not add up is unexplained, not hidden.
	st := newFakeState()
	st.runs[2].Record.SourceRows = 1240
	r2, err := report.Build(context.Background(), st, report.Options{Now: made})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Accounting.Unexplained != 8 {
		t.Errorf("unexplained %d, want 8", r2.Accounting.Unexplained)
	}
}

func TestWholeLedgerAndRuns(t *testing.T) {
	r := build(t, report.Options{Plan: testPlan(t)})
	if r.Scope != "ledger" || r.Calls.Total != 1231 || r.Calls.Imported != 1032 || r.Calls.Failed != 4 || r.Agents.Imported != 40 {
		t.Errorf("ledger: scope %s, calls %+v, agents %+v", r.Scope, r.Calls, r.Agents)
	}
	// The failed run (it did not commit) is listed with why (issue 21.7).
	if len(r.Runs) != 5 || r.Runs[0].SentCalls != 1020 || r.Runs[2].SentCalls != 14 || !strings.Contains(r.Runs[1].Detail, "resent run "+run1) ||
		r.Runs[3].Kind != "failed" || !strings.HasPrefix(r.Runs[3].Detail, "did not commit: source dc1: cannot connect") ||
		!strings.Contains(r.Runs[4].Detail, "(1 run)") {
		t.Errorf("runs %+v", r.Runs)
	}
	if r.Failures.Total != 2 || len(r.Failures.Rows) != 2 || r.Failures.Rows[0].Reason != "http_422" {
		t.Errorf("failures %+v (bad rows are listed as bad rows, not failures)", r.Failures)
	}
	if r.PerDay.Total != 1034 || r.PerDay.Refused != 2 || len(r.PerDay.Days) != 10 || r.PerDay.Days[0].Day != "2026-10-27" {
		t.Errorf("per day %+v", r.PerDay)
	}
	if len(r.Drift) != 1 || r.Drift[0].UserID != "u0007" {
		t.Errorf("drift %+v", r.Drift)
	}
	if r.RetentionDays != 30 || len(r.Staging) != 2 || r.Staging[0].PurgedAt == nil || !r.Staging[1].KeptUntil.Equal(t2.AddDate(0, 0, 30)) {
		t.Errorf("staging %+v (retention %d)", r.Staging, r.RetentionDays)
	}
	for _, l := range r.Calls.Lines {
		if l.Explain == "" {
			t.Errorf("%s/%s is not explained", l.State, l.Reason)
		}
		if l.State == "excluded" && len(l.Examples) == 0 {
			t.Errorf("excluded/%s has no example", l.Reason)
		}
	}
	if p := r.Plan; p == nil || p.Customer != "acme" || p.CXoneTenant != "acme-eu1" || !p.WindowFrom.Equal(time.Date(2026, 10, 27, 0, 0, 0, 0, time.UTC)) ||
		p.BackfillRequestedAt == nil {
		t.Errorf("plan %+v", p)
	}
}

func TestOneRun(t *testing.T) {
	r := build(t, report.Options{Plan: testPlan(t), RunID: run1})
	if r.Scope != "run" || len(r.Runs) != 1 || r.Runs[0].RunID != run1 || r.Calls.Total != 1217 || r.Accounting.SourceRows != 1218 {
		t.Errorf("run report: scope %s, runs %+v, calls %d, accounting %+v", r.Scope, r.Runs, r.Calls.Total, r.Accounting)
	}
	if r.Failures.Total != 0 {
		t.Errorf("run 1 had no sink failure, got %+v", r.Failures)
	}
	if len(r.Staging) != 1 || r.Staging[0].RunID != run1 {
		t.Errorf("staging of run 1: %+v", r.Staging)
	}
	for _, c := range []struct{ id, want string }{
		{"nope", "no run \"nope\" in the state; runs: " + run1 + ", " + run2},
		{"purge-20261111T090000.000000Z", "is a purge, not a run"},
	} {
		_, err := report.Build(context.Background(), newFakeState(), report.Options{RunID: c.id})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("--run %s: %v, want %q", c.id, err, c.want)
		}
	}
}

func TestEmptyState(t *testing.T) {
	r, err := report.Build(context.Background(), &fakeState{}, report.Options{Now: made})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"text", "json", "html"} {
		out := string(render(t, r, f))
		if f == "text" && !strings.Contains(out, "no run recorded yet") {
			t.Errorf("empty state, text:\n%s", out)
		}
	}
}

// TestHTMLHasEveryCount parses the page (as a browser would, leniently)
// and finds every count of the report in its text, next to what it
// counts; the page holds no script and loads nothing.
func TestHTMLHasEveryCount(t *testing.T) {
	for _, opts := range []report.Options{{Plan: testPlan(t)}, {Plan: testPlan(t), RunID: run1}} {
		r := build(t, opts)
		page := render(t, r, "html")
		text, err := reporttest.PageText(page)
		if err != nil {
			t.Fatalf("the page does not parse: %v", err)
		}
		for _, re := range reporttest.CountPatterns(r) {
			if !re.MatchString(text) {
				t.Errorf("scope %s: the page's text lacks %s", r.Scope, re)
			}
		}
		for _, bad := range []string{"<script", "src=\"http", "href=\"http", "@import"} {
			if bytes.Contains(page, []byte(bad)) {
				t.Errorf("the page holds %q: it must be self-contained and script-free", bad)
			}
		}
	}
}
