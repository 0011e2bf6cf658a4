package duckstate

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // the state file is DuckDB

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/state"
)

// Store is an open state file.
type Store struct {
	db   *sql.DB
	path string
}

var _ state.Backend = (*Store)(nil)

// Driver is the state.Driver of DuckDB state files.
type Driver struct{}

// Open implements state.Driver.
func (Driver) Open(ctx context.Context, cfg state.Config, mode state.Mode) (state.Backend, error) {
	var s *Store
	var err error
	if mode == state.ReadOnly {
		s, err = OpenReadOnly(ctx, cfg.Path)
	} else {
		s, err = Open(ctx, cfg.Path)
	}
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return s, nil
}

// Open opens (creating if needed) and migrates a state file.
func Open(ctx context.Context, path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	db, err := sql.Open("duckdb", path)
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	db.SetMaxOpenConns(1) // one connection: temp tables and transactions stay on it
	// The state's work (an upsert of a run's changes) spills to disk rather
	// than growing the process: peak memory must not grow with calls.
	for _, set := range []string{`SET memory_limit = '128MB'`, `SET threads = 1`, `SET preserve_insertion_order = false`} {
		if _, err := db.ExecContext(ctx, set); err != nil {
			db.Close()
			return nil, stateErr(path, err)
		}
	}
	s := &Store{db: db, path: path}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, stateErr(path, err)
	}
	return s, nil
}

func stateErr(path string, err error) error {
	if strings.Contains(err.Error(), "Could not set lock") {
		return fmt.Errorf("state %s is %w", path, state.ErrInUse)
	}
	return fmt.Errorf("state %s: %w", path, err)
}

// Path is the state file's path.
func (s *Store) Path() string { return s.path }

// String implements Backend: the file's path.
func (s *Store) String() string { return s.path }

// Queue implements Backend: the embedded state has no delivery queue.
func (s *Store) Queue(context.Context) (state.QueueStats, error) { return state.QueueStats{}, nil }

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// DB exposes the database for read-only reporting and tests.
func (s *Store) DB() *sql.DB { return s.db }

// Version is the file's schema version (its latest goose migration).
func (s *Store) Version(ctx context.Context) (int, error) {
	v, err := version(ctx, s.db)
	return int(v), err
}

// Runs lists the run history, oldest first.
func (s *Store) Runs(ctx context.Context) ([]state.RunRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT run_id, kind, plan_hash, spec_hash, started, ended, summary FROM runs ORDER BY started, run_id`)
	if err != nil {
		return nil, fmt.Errorf("state: runs: %w", err)
	}
	defer rows.Close()
	var out []state.RunRecord
	for rows.Next() {
		var r state.RunRecord
		var sum string
		if err := rows.Scan(&r.RunID, &r.Kind, &r.PlanHash, &r.SpecHash, &r.Started, &r.Ended, &sum); err != nil {
			return nil, err
		}
		if err := state.DecodeHistory(&r, []byte(sum)); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// RecordEvent adds a non-run event (restore, purge) to the run history.
func (s *Store) RecordEvent(ctx context.Context, kind, runID string, started time.Time, ev *engine.EventRecord) error {
	b, err := state.EncodeEvent(ev)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO runs (run_id, kind, plan_hash, spec_hash, started, ended, summary) VALUES (?, ?, '', '', ?, ?, ?)`,
		runID, kind, started, time.Now(), b)
	if err != nil {
		return fmt.Errorf("state: record %s: %w", kind, err)
	}
	return nil
}

// ledgerColumns are the columns a LedgerRow is read from, in scanRow's order.
const ledgerColumns = `entity, id, state, reason, detail, active, run_id, fp,
	coalesce(attempt, 0), next_try, coalesce(media_type, ''), coalesce(media_size, 0), coalesce(media_sha256, '')`

func scanRow(rows *sql.Rows, r *state.LedgerRow) error {
	var next sql.NullTime
	if err := rows.Scan(&r.Entity, &r.ID, &r.State, &r.Reason, &r.Detail, &r.Active, &r.RunID, &r.FP,
		&r.Attempt, &next, &r.Media.ContentType, &r.Media.Size, &r.Media.SHA256); err != nil {
		return err
	}
	r.NextTry = nil
	if next.Valid {
		t := next.Time
		r.NextTry = &t
	}
	return nil
}

// Ledger streams the ledger in (entity, id) order.
func (s *Store) Ledger(ctx context.Context, fn func(r state.LedgerRow) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT `+ledgerColumns+` FROM ledger ORDER BY entity, id`)
	if err != nil {
		return fmt.Errorf("state: ledger: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r state.LedgerRow
		if err := scanRow(rows, &r); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Watermarks returns the last committed call per source.
func (s *Store) Watermarks(ctx context.Context) (map[string]engine.Watermark, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT source, start_time, call_id FROM watermarks`)
	if err != nil {
		return nil, fmt.Errorf("state: watermarks: %w", err)
	}
	defer rows.Close()
	out := map[string]engine.Watermark{}
	for rows.Next() {
		var src string
		var wm engine.Watermark
		if err := rows.Scan(&src, &wm.StartTime, &wm.CallID); err != nil {
			return nil, err
		}
		wm.StartTime = wm.StartTime.UTC()
		out[src] = wm
	}
	return out, rows.Err()
}

// DuckDBVersion is the version of the DuckDB library this build links.
func DuckDBVersion(ctx context.Context) (string, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return "", err
	}
	defer db.Close()
	var v string
	if err := db.QueryRowContext(ctx, `SELECT version()`).Scan(&v); err != nil {
		return "", err
	}
	return v, nil
}
