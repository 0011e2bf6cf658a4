package duckstate

import (
	"fmt"
	"time"

	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/applink-dev/applink/engine"

	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/state"
	"github.com/applink-dev/applink/engine/state/statetest"
)

// Past deleteSlice changed rows a commit deletes in key ranges: one row
// per id all the same.
func TestUpsertDeletesInKeyRanges(t *testing.T) {
	statetest.SmallIndexes(t, 1, 1)
	d := deleteSlice
	deleteSlice = 1
	t.Cleanup(func() { deleteSlice = d })
	dir := t.TempDir()
	s, err := Open(context.Background(), filepath.Join(dir, "state.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	statetest.UpsertKeepsOneRowPerID(t, s, dir)
}

// A state file of the hand-written migrations before goose (a
// schema_version table at 1) is adopted by goose and upgraded, its rows kept.
func TestLegacyFileMigrates(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.duckdb")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	// Back to what version 1 wrote: its tables and its version table.
	for _, q := range []string{
		`DROP TABLE goose_db_version`, `DROP TABLE specs`,
		`ALTER TABLE ledger DROP COLUMN attempt`, `ALTER TABLE ledger DROP COLUMN next_try`, `ALTER TABLE ledger DROP COLUMN media_type`,
		`ALTER TABLE ledger DROP COLUMN media_size`, `ALTER TABLE ledger DROP COLUMN media_sha256`, `ALTER TABLE runs DROP COLUMN target`,
		`CREATE TABLE schema_version (version INTEGER NOT NULL)`, `INSERT INTO schema_version VALUES (1)`,
		`INSERT INTO ledger VALUES (5, 'call', 'c1', 'imported', '', '', 2, false, 'r0')`,
	} {
		if _, err := s.DB().Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s.Close()
	if _, err := OpenReadOnly(ctx, path); err == nil {
		t.Fatal("a read-only open of a version 1 file succeeded")
	}
	if s, err = Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.Version(ctx); err != nil || v != 2 {
		t.Fatalf("version %d %v", v, err)
	}
	var n int
	if err := s.DB().QueryRow(`SELECT count(*) FROM ledger WHERE attempt IS NULL AND id = 'c1'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the legacy row: %d %v", n, err)
	}
}

// The DuckDB state has no delivery queue: a run cannot enqueue.
func TestNoQueue(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(context.Background(), filepath.Join(dir, "state.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, _ := s.Begin("r0", "spec", filepath.Join(dir, "r0"), nil)
	if l.Queues() || !errors.Is(l.Enqueue([]byte(`{}`)), state.ErrNoQueue) {
		t.Error("the DuckDB state accepts deliveries")
	}
	l.Abort()
}

// A first run's commit (DuckDB's memory limit lowered for its insert)
// records the media of many calls: the media file is read in small
// buffers too.
func TestManyMediaOnAFirstRun(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, filepath.Join(dir, "state.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	idx, err := s.Prior(ctx) // empty: the commit only inserts
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Begin("r1", "spec", filepath.Join(dir, "r1"), idx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	for i := range n {
		id := fmt.Sprintf("C%07d", i)
		l.Row(connector.LedgerRow{Entity: "call", ID: id, State: "imported"}, uint64(2*i+2), false)
		l.MediaSent(id, connector.MediaSent{ContentType: "audio/wav", Size: int64(i), SHA256: fmt.Sprintf("%064x", i)})
	}
	if err := l.Commit(ctx, &engine.RunRecord{RunID: "r1", Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var got int
	if err := s.DB().QueryRow(`SELECT count(*) FROM ledger WHERE media_size IS NOT NULL AND media_type = 'audio/wav'`).Scan(&got); err != nil || got != n {
		t.Fatalf("%d rows with their media, want %d: %v", got, n, err)
	}
}
