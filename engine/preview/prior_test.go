package preview

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/state/pgstate"
	"github.com/applink-dev/applink/engine/state/statetest"
)

// A PostgreSQL state cannot be ATTACHed: its ledger is copied into the
// preview file (PriorLedger) and the diff must be the one an attached
// DuckDB state with the same ledger gives.
func TestDiffAgainstPostgresState(t *testing.T) {
	ctx := context.Background()
	dsn := statetest.DSN(t)
	dir := t.TempDir()
	rows := []stateRow{
		{connector.LedgerRow{Entity: "call", ID: "C2", State: "excluded", Reason: "too_short"}, 42, false},
		{connector.LedgerRow{Entity: "call", ID: "C0", State: "queued", Detail: "gone"}, 1 << 63, false},
		{connector.LedgerRow{Entity: "agent", ID: "u2", State: "imported"}, 9, true},
		{connector.LedgerRow{Entity: "agent", ID: "u1", State: "imported"}, 9, false},
	}
	duckPath := filepath.Join(dir, "state.duckdb")
	buildState(t, duckPath, rows)
	pg, err := pgstate.Open(ctx, dsn, "acme", pgstate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	l, err := pg.Begin("r1", "spec", filepath.Join(dir, "staging"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		l.Row(r.row, r.fp, r.active)
	}
	if err := l.Commit(ctx, &engine.RunRecord{RunID: "r1", PlanHash: "p"}); err != nil {
		t.Fatal(err)
	}

	want := runPreview(t, filepath.Join(dir, "duck.duckdb"), duckPath, testSource(), false)
	got, err := Run(ctx, testPlan(t), Options{DBPath: filepath.Join(dir, "pg.duckdb"), PriorLedger: pg.Ledger, Sources: []connector.Source{testSource()}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Diff != want.Diff || got.Diff.Calls.Removed != 1 || got.Diff.Agents.Changed != 2 {
		t.Errorf("diff %+v, with the DuckDB state %+v", got.Diff, want.Diff)
	}
	if !reflect.DeepEqual(got.Summary.AgentDiff.Drift, want.Summary.AgentDiff.Drift) || len(got.Summary.AgentDiff.Drift) == 0 {
		t.Errorf("drift %+v, with the DuckDB state %+v", got.Summary.AgentDiff.Drift, want.Summary.AgentDiff.Drift)
	}
	d, err := OpenDB(got.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c, err := d.Call(ctx, "C0")
	if err != nil || c.Change != "removed" || c.Prev == nil || c.Prev.State != "queued" {
		t.Errorf("C0: %+v %v", c, err)
	}
	var n int
	if err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM duckdb_tables() WHERE table_name = 'prior_ledger'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("the copied ledger is left in the preview file (%d, %v)", n, err)
	}
}
