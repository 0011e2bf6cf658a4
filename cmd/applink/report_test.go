package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/applink-dev/applink/engine/report"
	"github.com/applink-dev/applink/engine/report/reporttest"
)

// TestReportFormats runs the small snapshot of run_small.txtar twice (the
// README's loop: the second run sends nothing) and checks `report` in each
// format on the real state: the whole ledger, not the empty last run; JSON
// that decodes into the report; HTML whose parsed text holds every count.
func TestReportFormats(t *testing.T) {
	dir := unpack(t, "testdata/script/run_small.txtar")
	spec, out := filepath.Join(dir, "spec"), filepath.Join(dir, "out")
	cli := func(want int, args ...string) (string, string) {
		t.Helper()
		var o, e bytes.Buffer
		if code := run(args, strings.NewReader(""), &o, &e); code != want {
			t.Fatalf("applink %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, o.String(), e.String())
		}
		return o.String(), e.String()
	}
	cli(1, "run", "--quiet", spec, "--out", out) // C7 is a bad row: exit 1
	second, _ := cli(1, "run", "--quiet", spec, "--out", out)
	if !strings.Contains(second, "sent: nothing") {
		t.Fatalf("the second run sent something:\n%s", second)
	}

	js, _ := cli(0, "report", spec, "--format", "json")
	var r report.Report
	if err := json.Unmarshal([]byte(js), &r); err != nil {
		t.Fatalf("report --format json is not the report: %v\n%s", err, js)
	}
	a := r.Accounting
	switch {
	case r.Scope != "ledger" || r.Plan == nil || r.Plan.Customer != "acme" || r.Plan.CXoneTenant != "acme-eu1":
		t.Errorf("scope %q, plan %+v", r.Scope, r.Plan)
	case r.Calls.Total != 7 || r.Calls.Imported != 3 || r.Calls.Excluded != 3 || r.Calls.Failed != 1:
		t.Errorf("calls %+v: the whole ledger, not the empty last run", r.Calls)
	case r.Agents.Total != 4 || r.Agents.Imported != 2:
		t.Errorf("agents %+v", r.Agents)
	case a == nil || a.SourceRows != 7 || a.Accounted != 7 || a.Unexplained != 0 || a.BDWithoutCall != 0:
		t.Errorf("accounting %+v", a)
	case r.BadRows.Total != 1 || len(r.BadRows.Samples) != 1 || !strings.HasPrefix(r.BadRows.Samples[0], "calls.csv:8: C7:"):
		t.Errorf("bad rows %+v", r.BadRows)
	case len(r.Runs) != 2 || r.Runs[0].SentCalls != 3 || r.Runs[0].SentAgents != 2 || r.Runs[1].SentCalls != 0:
		t.Errorf("runs %+v", r.Runs)
	case len(r.PerDay.Days) != 1 || r.PerDay.Days[0] != (report.DayCount{Day: "2026-11-02", N: 3}):
		t.Errorf("per day %+v", r.PerDay)
	case len(r.Staging) != 1 || r.Staging[0].RunID != r.Runs[0].RunID || r.Staging[0].Calls != 3:
		t.Errorf("staging %+v", r.Staging)
	}

	page, _ := cli(0, "report", spec, "--format", "html")
	text, err := reporttest.PageText([]byte(page))
	if err != nil {
		t.Fatalf("the HTML report does not parse: %v", err)
	}
	for _, re := range reporttest.CountPatterns(&r) {
		if !re.MatchString(text) {
			t.Errorf("the HTML report's text lacks %s", re)
		}
	}
	for _, w := range []string{"Recording import report: acme", "acme-eu1", "2026-11-01T00:00:00Z", "calls.csv:8: C7:",
		"The call lasted 2 seconds or less."} {
		if !strings.Contains(text, w) {
			t.Errorf("the HTML report lacks %q", w)
		}
	}
	txt, _ := cli(0, "report", spec)
	for _, w := range []string{"accounted for: 7 of 7 source call rows; unexplained: 0", "business data rows without a call: 0",
		"bad source rows: 1 (0 without a readable id)\n  calls.csv:8: C7:", "sent 2 agents, 3 calls", "sent nothing"} {
		if !strings.Contains(txt, w) {
			t.Errorf("the text report lacks %q:\n%s", w, txt)
		}
	}

	// --run narrows to one run.
	first := r.Runs[0].RunID
	js, _ = cli(0, "report", spec, "--run", first, "--format", "json")
	var one report.Report
	if err := json.Unmarshal([]byte(js), &one); err != nil {
		t.Fatal(err)
	}
	if one.Scope != "run" || len(one.Runs) != 1 || one.Runs[0].RunID != first || one.Runs[0].SentCalls != 3 {
		t.Errorf("--run %s: scope %q, runs %+v", first, one.Scope, one.Runs)
	}
	_, stderr := cli(1, "report", spec, "--run", "nope")
	if !strings.Contains(stderr, `no run "nope"`) || !strings.Contains(stderr, first) {
		t.Errorf("--run nope: %s", stderr)
	}

	// A spec that no longer validates still gets its report, which says so.
	if err := os.WriteFile(filepath.Join(spec, "main.hcl"), []byte("spec {\n  customer = \n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	txt, _ = cli(0, "report", spec)
	if !strings.Contains(txt, "plan unavailable (the spec in") || !strings.Contains(txt, "accounted for: 7 of 7") {
		t.Errorf("report of a broken spec:\n%s", txt)
	}
}

// unpack writes the files of a txtar archive into a new folder.
func unpack(t *testing.T, archive string) string {
	t.Helper()
	dir := t.TempDir()
	ar, err := txtar.ParseFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range ar.Files {
		p := filepath.Join(dir, f.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
