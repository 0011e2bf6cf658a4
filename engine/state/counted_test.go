package state

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/engine"
)

// TestReportCounted: rows counted by the database reach the report, are
// part of the source rows and accounted for, and render as the summary
// renders them.
func TestReportCounted(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, filepath.Join(dir, "state.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := s.Begin("r1", "spec", filepath.Join(dir, "staging"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Row(engine.LedgerRow{Entity: "call", ID: "c1", State: engine.StateImported}, 2, false); err != nil {
		t.Fatal(err)
	}
	sum := &engine.Summary{RunID: "r1", PlanHash: "p", Started: time.Now(), SourceRows: 1,
		Counted: map[engine.StateReason]int{{State: engine.StateExcluded, Reason: engine.ReasonOtherTenant}: 40, {State: engine.StateExcluded, Reason: engine.ReasonBeforeWindow}: 2}}
	sum.Calls.By = map[engine.StateReason]int{{State: engine.StateImported}: 1}
	if err := l.Commit(ctx, sum); err != nil {
		t.Fatal(err)
	}
	r, err := s.Report(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if r.SourceRows != 43 || r.Accounted != 43 || r.Unexplained != 0 || r.Counted["excluded/other_tenant"] != 40 {
		t.Errorf("source rows %d, accounted %d, unexplained %d, counted %v", r.SourceRows, r.Accounted, r.Unexplained, r.Counted)
	}
	if got := strings.Join(r.CountedLines(), "\n"); got != "other_tenant: 40 (counted by the database)\nbefore_window: 2 (counted by the database)" {
		t.Errorf("lines %q", got)
	}
}
