package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/applink-dev/applink/engine"
	_ "github.com/duckdb/duckdb-go/v2" // the state file is DuckDB
)

// SchemaVersion is the version this build writes. Migrations take a file
// from any older version to it, one step at a time.
const SchemaVersion = 1

var migrations = map[int][]string{
	1: {
		`CREATE TABLE ledger (
			key     UBIGINT NOT NULL,  -- rowKey(entity, id): joins and aggregates on 8 bytes, not strings
			entity  VARCHAR NOT NULL,
			id      VARCHAR NOT NULL,
			state   VARCHAR NOT NULL,
			reason  VARCHAR NOT NULL,
			detail  VARCHAR NOT NULL,
			fp      UBIGINT NOT NULL,
			active  BOOLEAN NOT NULL,
			run_id  VARCHAR NOT NULL)`, // (entity, id) is unique by construction (RunLedger.Commit); no index, so upserts are hash joins
		`CREATE TABLE runs (
			run_id    VARCHAR PRIMARY KEY,
			kind      VARCHAR NOT NULL,   -- run | restore | purge
			plan_hash VARCHAR NOT NULL,
			spec_hash VARCHAR NOT NULL,
			started   TIMESTAMPTZ NOT NULL,
			ended     TIMESTAMPTZ NOT NULL,
			summary   VARCHAR NOT NULL)`,
		`CREATE TABLE watermarks (
			source     VARCHAR PRIMARY KEY,
			start_time TIMESTAMPTZ NOT NULL,
			call_id    VARCHAR NOT NULL,
			run_id     VARCHAR NOT NULL)`,
		`CREATE TABLE staging (
			run_id    VARCHAR PRIMARY KEY,
			path      VARCHAR NOT NULL,
			created   TIMESTAMPTZ NOT NULL,
			calls     BIGINT NOT NULL,
			agents    BIGINT NOT NULL,
			purged_at TIMESTAMPTZ)`,
	},
}

// Store is an open state file.
type Store struct {
	db   *sql.DB
	path string
}

// ErrNewerSchema is returned for a state file written by a newer applink.
var ErrNewerSchema = errors.New("state file is from a newer applink")

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
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, stateErr(path, err)
	}
	return s, nil
}

// ErrInUse is returned by Open when another process has the state file
// open (DuckDB's file lock): serve waits and retries.
var ErrInUse = errors.New("in use by another applink process (one run per spec at a time)")

func stateErr(path string, err error) error {
	if strings.Contains(err.Error(), "Could not set lock") {
		return fmt.Errorf("state %s is %w", path, ErrInUse)
	}
	return fmt.Errorf("state %s: %w", path, err)
}

// Path is the state file's path.
func (s *Store) Path() string { return s.path }

// String implements Backend: the file's path.
func (s *Store) String() string { return s.path }

// Queue implements Backend: the embedded state has no delivery queue.
func (s *Store) Queue(context.Context) (QueueStats, error) { return QueueStats{}, nil }

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// DB exposes the database for read-only reporting.
func (s *Store) DB() *sql.DB { return s.db }

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return err
	}
	var v sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT max(version) FROM schema_version`).Scan(&v); err != nil {
		return err
	}
	cur := int(v.Int64)
	if cur > SchemaVersion {
		return fmt.Errorf("%w (schema version %d; this build knows up to %d): upgrade applink", ErrNewerSchema, cur, SchemaVersion)
	}
	for next := cur + 1; next <= SchemaVersion; next++ {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for _, stmt := range migrations[next] {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				tx.Rollback()
				return fmt.Errorf("migrate to version %d: %w", next, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version; INSERT INTO schema_version VALUES (?)`, next); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate to version %d: %w", next, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate to version %d: %w", next, err)
		}
	}
	return nil
}

// Version is the file's schema version.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT max(version) FROM schema_version`).Scan(&v)
	return v, err
}

// Runs lists the run history, oldest first.
func (s *Store) Runs(ctx context.Context) ([]RunRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT run_id, kind, plan_hash, spec_hash, started, ended, summary FROM runs ORDER BY started, run_id`)
	if err != nil {
		return nil, fmt.Errorf("state: runs: %w", err)
	}
	defer rows.Close()
	var out []RunRecord
	for rows.Next() {
		var r RunRecord
		var sum string
		if err := rows.Scan(&r.RunID, &r.Kind, &r.PlanHash, &r.SpecHash, &r.Started, &r.Ended, &sum); err != nil {
			return nil, err
		}
		if err := decodeHistory(&r, []byte(sum)); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// RecordEvent adds a non-run event (restore, purge) to the run history.
func (s *Store) RecordEvent(ctx context.Context, kind, runID string, started time.Time, ev *engine.EventRecord) error {
	b, err := encodeEvent(ev)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO runs VALUES (?, ?, '', '', ?, ?, ?)`, runID, kind, started, time.Now(), b)
	if err != nil {
		return fmt.Errorf("state: record %s: %w", kind, err)
	}
	return nil
}

// LedgerRow is a row of the state ledger.
type LedgerRow struct {
	Entity, ID, State, Reason, Detail, RunID string
	Active                                   bool
	FP                                       uint64 // fingerprint: state, reason and a hash of what was sent
}

// Ledger streams the ledger in (entity, id) order.
func (s *Store) Ledger(ctx context.Context, fn func(r LedgerRow) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT entity, id, state, reason, detail, active, run_id, fp FROM ledger ORDER BY entity, id`)
	if err != nil {
		return fmt.Errorf("state: ledger: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r LedgerRow
		if err := rows.Scan(&r.Entity, &r.ID, &r.State, &r.Reason, &r.Detail, &r.Active, &r.RunID, &r.FP); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
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
