package duckstate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/keyset"
	"github.com/applink-dev/applink/engine/state"
)

// smallTunables makes tests exercise the spilled and grouped paths with a
// few thousand rows.
func smallTunables(t testing.TB, mem, group int) {
	t.Helper()
	old := state.SetIndexLimits(keyset.Limits{Mem: mem, Group: group})
	t.Cleanup(func() { state.SetIndexLimits(old) })
}

type priorRow struct {
	entity, id string
	fp         uint64
	active     bool
}

func priorRows(n int, seed uint64) []priorRow {
	r := rand.New(rand.NewPCG(seed, 7))
	rows := make([]priorRow, n)
	for i := range rows {
		rows[i] = priorRow{entity: "call", id: fmt.Sprintf("C%08d", i), fp: r.Uint64() &^ 1}
		if i%50 == 0 {
			rows[i].entity, rows[i].active = "agent", i%100 == 0
		}
	}
	return rows
}

// The DuckDB backend reads its ledger in key slices into a spilled index:
// every committed row comes back with its fingerprint and active flag.
func TestPriorLoadsEveryRow(t *testing.T) {
	smallTunables(t, 500, 64)
	slice := loadSlice
	loadSlice = 97
	t.Cleanup(func() { loadSlice = slice })
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
	rows := priorRows(3000, 5)
	rows[1].fp = 1<<64 - 2 // the largest fingerprint, past int64
	for _, r := range rows {
		if err := l.Row(connector.LedgerRow{Entity: r.entity, ID: r.id, State: "imported"}, r.fp, r.active); err != nil {
			t.Fatal(err)
		}
	}
	limit := func() string {
		var l string
		if err := s.DB().QueryRow(`SELECT current_setting('memory_limit')`).Scan(&l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	before := limit()
	if err := l.Commit(ctx, &engine.RunRecord{RunID: "r1", Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if after := limit(); after != before {
		t.Errorf("DuckDB memory limit %s after an inserting commit, %s before", after, before)
	}
	x, err := s.Prior(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if after := limit(); after != before {
		t.Errorf("DuckDB memory limit %s after the prior load, %s before", after, before)
	}
	if x.Len() != len(rows) || !x.Spilled() {
		t.Fatalf("%d rows, spilled %v", x.Len(), x.Spilled())
	}
	for _, r := range rows {
		if fp, active, ok := x.Lookup(r.entity, r.id); !ok || fp != r.fp || active != r.active {
			t.Fatalf("%s %s: %x %v %v, want %x %v", r.entity, r.id, fp, active, ok, r.fp, r.active)
		}
	}
	if a, c := x.Unseen(); a+c != 0 {
		t.Errorf("unseen %d agents %d calls after looking everything up", a, c)
	}
}
