package duckstate

import (
	"context"
	"maps"
	"path/filepath"
	"testing"
	"time"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
)

// TestReportCounted: rows counted by the database are kept in the run's
// summary in the history, where the report reads them.
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
	if err := l.Row(connector.LedgerRow{Entity: "call", ID: "c1", State: connector.StateImported}, 2, false); err != nil {
		t.Fatal(err)
	}
	sum := &engine.RunRecord{RunID: "r1", PlanHash: "p", Started: time.Now(), SourceRows: 1,
		Counted: map[connector.StateReason]int{{State: connector.StateExcluded, Reason: connector.ReasonOtherTenant}: 40, {State: connector.StateExcluded, Reason: connector.ReasonBeforeWindow}: 2}}
	sum.Calls.By = map[connector.StateReason]int{{State: connector.StateImported}: 1}
	if err := l.Commit(ctx, sum); err != nil {
		t.Fatal(err)
	}
	// The run history keeps them (engine/report accounts for them).
	runs, err := s.Runs(ctx)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs %v %v", runs, err)
	}
	if got := runs[0].Record.Counted; !maps.Equal(got, sum.Counted) {
		t.Errorf("record without the counted rows: %v", got)
	}
}
