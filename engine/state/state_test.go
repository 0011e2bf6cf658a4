package state

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/engine"
)

func TestMigrateAndRefuseNewer(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.duckdb")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s.Version(ctx); err != nil || v != SchemaVersion {
		t.Fatalf("version %d, %v", v, err)
	}
	if _, err := s.DB().Exec(`DELETE FROM schema_version; INSERT INTO schema_version VALUES (99)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(ctx, path)
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("opening a newer file: %v", err)
	}
}

func TestCommitThenPrior(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, filepath.Join(dir, "state.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	idx, err := s.Prior(ctx)
	if err != nil || idx.Len() != 0 {
		t.Fatalf("empty prior: %d %v", idx.Len(), err)
	}
	l, err := s.Begin("r1", "spec", filepath.Join(dir, "staging", "r1"), idx)
	if err != nil {
		t.Fatal(err)
	}
	rows := []engine.LedgerRow{
		{Entity: "agent", ID: "u1", State: "imported"},
		{Entity: "call", ID: "u1", State: "excluded", Reason: "too_short"},
		{Entity: "call", ID: `c,"2"`, State: "failed", Reason: "bad_row", Detail: "calls.csv:3: bad, \"quoted\"\nline"},
	}
	for i, r := range rows {
		// Fingerprints have their low bit 0 (the engine leaves it for the index).
		if err := l.Row(r, uint64(1<<63)+uint64(2*i), i == 0); err != nil {
			t.Fatal(err)
		}
	}
	sum := &engine.Summary{RunID: "r1", PlanHash: "p", Started: time.Now(), Watermarks: map[string]engine.Watermark{
		"dc1": {StartTime: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC), CallID: "C9"}}}
	if err := l.Commit(ctx, sum); err != nil {
		t.Fatal(err)
	}
	idx, err = s.Prior(ctx)
	if err != nil || idx.Len() != 3 {
		t.Fatalf("prior: %d %v", idx.Len(), err)
	}
	for i, r := range rows {
		fp, active, ok := idx.Lookup(r.Entity, r.ID)
		if !ok || fp != uint64(1<<63)+uint64(2*i) || active != (i == 0) {
			t.Errorf("%s/%s: %d %v %v", r.Entity, r.ID, fp, active, ok)
		}
	}
	if _, _, ok := idx.Lookup("agent", `c,"2"`); ok {
		t.Error("an agent and a call with the same id collide")
	}
	var details []string
	s.Ledger(ctx, func(r LedgerRow) error { details = append(details, r.Detail); return nil })
	if len(details) != 3 || details[1] != rows[2].Detail {
		t.Errorf("details %q", details)
	}
	wm, err := s.Watermarks(ctx)
	if err != nil || wm["dc1"].CallID != "C9" {
		t.Errorf("watermarks %v %v", wm, err)
	}
	runs, err := s.Runs(ctx)
	if err != nil || len(runs) != 1 || runs[0].RunID != "r1" {
		t.Errorf("runs %v %v", runs, err)
	}
	// A second run that sees only one row: the others are no longer in the source.
	idx, _ = s.Prior(ctx)
	idx.Lookup("call", "u1")
	if a, c := idx.Unseen(); a != 1 || c != 1 {
		t.Errorf("unseen %d agents %d calls", a, c)
	}
}

func TestAbortLeavesStateUntouched(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, filepath.Join(dir, "state.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, _ := s.Begin("r1", "spec", dir, nil)
	l.Row(engine.LedgerRow{Entity: "call", ID: "c1", State: "imported"}, 1, false)
	l.Abort()
	idx, _ := s.Prior(ctx)
	if idx.Len() != 0 {
		t.Fatalf("aborted run left %d rows", idx.Len())
	}
}

// The later row of an id written twice in a run wins (a sink's late
// failure), and a later run replaces earlier rows: one row per id always.
func TestUpsertKeepsOneRowPerID(t *testing.T) {
	t.Run("in memory", testUpsertKeepsOneRowPerID)
	t.Run("on disk, deletes in key ranges", func(t *testing.T) {
		smallTunables(t, 1, 1) // the run's keys and the prior index spill at once
		d := deleteSlice
		deleteSlice = 1
		t.Cleanup(func() { deleteSlice = d })
		testUpsertKeepsOneRowPerID(t)
	})
}

func testUpsertKeepsOneRowPerID(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, filepath.Join(dir, "state.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	commit := func(run string, rows ...engine.LedgerRow) {
		t.Helper()
		idx, err := s.Prior(ctx)
		if err != nil {
			t.Fatal(err)
		}
		l, err := s.Begin(run, "spec", filepath.Join(dir, run), idx)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rows {
			if err := l.Row(r, uint64(i+1), false); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Commit(ctx, &engine.Summary{RunID: run, Started: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	ledger := func() string {
		var out []string
		s.Ledger(ctx, func(r LedgerRow) error {
			out = append(out, r.ID+"="+r.State+"/"+r.Reason+"@"+r.RunID)
			return nil
		})
		return strings.Join(out, " ")
	}
	imp := func(id string) engine.LedgerRow { return engine.LedgerRow{Entity: "call", ID: id, State: "imported"} }
	commit("r1", imp("c1"), imp("c2"), engine.LedgerRow{Entity: "call", ID: "c1", State: "failed", Reason: "http_422"})
	if got, want := ledger(), "c1=failed/http_422@r1 c2=imported/@r1"; got != want {
		t.Fatalf("after r1: %s, want %s", got, want)
	}
	commit("r2", imp("c1"), imp("c3"))
	if got, want := ledger(), "c1=imported/@r2 c2=imported/@r1 c3=imported/@r2"; got != want {
		t.Fatalf("after r2: %s, want %s", got, want)
	}
	commit("r3", imp("c2"), engine.LedgerRow{Entity: "call", ID: "c2", State: "failed", Reason: "media_unreadable"})
	if got, want := ledger(), "c1=imported/@r2 c2=failed/media_unreadable@r3 c3=imported/@r2"; got != want {
		t.Fatalf("after r3: %s, want %s", got, want)
	}
}
