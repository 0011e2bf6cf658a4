package state

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/state/statetest"
)

// backend is one kind of state the tests run against.
type backend struct {
	name string
	// config returns the state of a fresh spec (dir is the test's folder).
	config func(t *testing.T, dir string) Config
	// newer marks the state as written by a newer applink.
	newer func(t *testing.T, b Backend)
}

// backends is the table every state test runs over: the embedded DuckDB
// file and PostgreSQL (skipped, saying so, without APPLINK_TEST_PG_DSN).
var backends = []backend{
	{
		name:   "duckdb",
		config: func(t *testing.T, dir string) Config { return Config{Path: filepath.Join(dir, "state.duckdb")} },
		newer: func(t *testing.T, b Backend) {
			if _, err := b.(*Store).DB().Exec(`DELETE FROM schema_version; INSERT INTO schema_version VALUES (99)`); err != nil {
				t.Fatal(err)
			}
		},
	},
	{
		name: "postgres",
		config: func(t *testing.T, dir string) Config {
			return Config{Driver: DriverPostgres, DSN: statetest.DSN(t), Spec: "acme"}
		},
		newer: func(t *testing.T, b Backend) {
			if _, err := b.(*PGStore).Pool().Exec(context.Background(), `INSERT INTO goose_db_version (version_id, is_applied) VALUES (99, true)`); err != nil {
				t.Fatal(err)
			}
		},
	},
}

// eachBackend runs fn as a subtest per backend, with a fresh state open.
func eachBackend(t *testing.T, fn func(t *testing.T, s Backend, dir string)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := OpenConfig(context.Background(), b.config(t, dir))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			fn(t, s, dir)
		})
	}
}

func TestMigrateAndRefuseNewer(t *testing.T) {
	ctx := context.Background()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			cfg := b.config(t, t.TempDir())
			s, err := OpenConfig(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := SchemaVersion
			if cfg.Driver == DriverPostgres {
				want = int(PGSchemaVersion())
			}
			if v, err := s.Version(ctx); err != nil || v != want {
				t.Fatalf("version %d, %v; want %d", v, err, want)
			}
			s.Close()
			// Opening again migrates nothing and keeps the version.
			if s, err = OpenConfig(ctx, cfg); err != nil {
				t.Fatalf("reopen: %v", err)
			}
			b.newer(t, s)
			s.Close()
			_, err = OpenConfig(ctx, cfg)
			if !errors.Is(err, ErrNewerSchema) {
				t.Fatalf("opening a newer state: %v", err)
			}
		})
	}
}

func TestCommitThenPrior(t *testing.T) { eachBackend(t, testCommitThenPrior) }

func testCommitThenPrior(t *testing.T, s Backend, dir string) {
	ctx := context.Background()
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

func TestAbortLeavesStateUntouched(t *testing.T) { eachBackend(t, testAbortLeavesStateUntouched) }

func testAbortLeavesStateUntouched(t *testing.T, s Backend, dir string) {
	ctx := context.Background()
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
	t.Run("in memory", func(t *testing.T) { eachBackend(t, testUpsertKeepsOneRowPerID) })
	t.Run("on disk, deletes in key ranges", func(t *testing.T) {
		smallTunables(t, 1, 1) // the run's keys and the prior index spill at once
		d := deleteSlice
		deleteSlice = 1
		t.Cleanup(func() { deleteSlice = d })
		eachBackend(t, testUpsertKeepsOneRowPerID)
	})
}

func testUpsertKeepsOneRowPerID(t *testing.T, s Backend, dir string) {
	ctx := context.Background()
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

// The report, the staging index and its pruning, and run events read back
// the same from every backend.
func TestReportStagingAndEvents(t *testing.T) { eachBackend(t, testReportStagingAndEvents) }

func testReportStagingAndEvents(t *testing.T, s Backend, dir string) {
	ctx := context.Background()
	idx, _ := s.Prior(ctx)
	stage := filepath.Join(dir, "staging", "r1")
	l, err := s.Begin("r1", "spec", stage, idx)
	if err != nil {
		t.Fatal(err)
	}
	rows := []engine.LedgerRow{
		{Entity: "call", ID: "c3", State: "excluded", Reason: "too_short"},
		{Entity: "call", ID: "c1", State: "excluded", Reason: "too_short"},
		{Entity: "call", ID: "c2", State: "failed", Reason: "http_422", Detail: "invalid skill"},
		{Entity: "call", ID: "c4", State: "imported"},
	}
	for i, r := range rows {
		l.Row(r, uint64(2*i+2), false)
	}
	started := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	sum := &engine.Summary{RunID: "r1", PlanHash: "p", Started: started, Elapsed: time.Second, SourceRows: 4}
	sum.Calls.By = map[engine.StateReason]int{{State: "excluded", Reason: "too_short"}: 2, {State: "failed", Reason: "http_422"}: 1, {State: "imported"}: 1}
	l.SetStaged(&Staged{Path: stage, Calls: 1})
	if err := l.Commit(ctx, sum); err != nil {
		t.Fatal(err)
	}
	// What the report reads (engine/report): counts by state and reason,
	// whole or of one run, and the rows themselves with their details.
	for _, runID := range []string{"", "r1"} {
		counts, err := s.LedgerCounts(ctx, runID)
		if err != nil {
			t.Fatal(err)
		}
		want := "call/imported//1 call/excluded/too_short/2 call/failed/http_422/1"
		var got []string
		for _, c := range counts {
			got = append(got, fmt.Sprintf("%s/%s/%s/%d", c.Entity, c.State, c.Reason, c.N))
		}
		if strings.Join(got, " ") != want {
			t.Errorf("counts of run %q: %s, want %s", runID, strings.Join(got, " "), want)
		}
	}
	if counts, err := s.LedgerCounts(ctx, "nope"); err != nil || len(counts) != 0 {
		t.Errorf("counts of an unknown run: %v %v", counts, err)
	}
	ex, n, err := s.LedgerRows(ctx, LedgerQuery{State: "excluded", Reason: "too_short", Limit: 5})
	if err != nil || n != 2 || len(ex) != 2 || ex[0].ID != "c1" || ex[1].ID != "c3" {
		t.Errorf("excluded rows %+v (%d) %v", ex, n, err)
	}
	failed, n, err := s.LedgerRows(ctx, LedgerQuery{State: "failed", RunID: "r1", Limit: 5})
	if err != nil || n != 1 || len(failed) != 1 || failed[0].ID != "c2" || failed[0].Detail != "invalid skill" {
		t.Errorf("failed rows %+v (%d) %v", failed, n, err)
	}
	if one, n, err := s.LedgerRows(ctx, LedgerQuery{Entity: "call", ID: "c4", Limit: 1}); err != nil || n != 1 || one[0].State != "imported" {
		t.Errorf("one row by id: %+v (%d) %v", one, n, err)
	}
	if _, n, err := s.LedgerRows(ctx, LedgerQuery{State: "imported"}); err != nil || n != 1 {
		t.Errorf("count only: %d %v", n, err)
	}
	if q, err := s.Queue(ctx); err != nil || q != (QueueStats{}) {
		t.Errorf("queue %+v without deliveries: %v", q, err)
	}
	if err := s.RecordEvent(ctx, "purge", "purge-1", started.Add(time.Hour), &engine.EventRecord{All: true}); err != nil {
		t.Fatal(err)
	}
	runs, err := s.Runs(ctx)
	if err != nil || len(runs) != 2 || runs[1].Kind != "purge" || runs[1].Event == nil || !runs[1].Event.All {
		t.Errorf("runs %+v %v", runs, err)
	}
	staged, err := s.Staging(ctx)
	if err != nil || len(staged) != 1 || staged[0].Path != stage || staged[0].Calls != 1 || staged[0].PurgedAt != nil {
		t.Fatalf("staging %+v %v", staged, err)
	}
	pruned, err := s.Prune(ctx, started.Add(time.Minute), started.Add(2*time.Hour))
	if err != nil || len(pruned) != 1 {
		t.Fatalf("pruned %v %v", pruned, err)
	}
	staged, _ = s.Staging(ctx)
	if staged[0].PurgedAt == nil {
		t.Error("a pruned run is not marked purged")
	}
	var fps []uint64
	s.Ledger(ctx, func(r LedgerRow) error { fps = append(fps, r.FP); return nil })
	if len(fps) != 4 || fps[0] != 4 {
		t.Errorf("ledger fingerprints %v", fps)
	}
}
