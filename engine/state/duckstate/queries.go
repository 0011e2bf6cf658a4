package duckstate

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/applink-dev/applink/engine/state"
	"github.com/applink-dev/applink/engine/state/migrations"
)

// The read queries of reports and of the TUI's compare view. Another state
// backend implements the same methods (engine/report declares the interface
// it reads through).

// OpenReadOnly opens an existing state file for reading: it is never created,
// migrated or written, so a report or the TUI can read it beside nothing
// else writing it.
func OpenReadOnly(ctx context.Context, path string) (*Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	db, err := sql.Open("duckdb", path+"?access_mode=read_only")
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	s := &Store{db: db, path: path}
	v, err := s.Version(ctx)
	if err != nil {
		db.Close()
		return nil, stateErr(path, err)
	}
	switch {
	case v > int(migrations.Latest()):
		db.Close()
		return nil, fmt.Errorf("state %s: %w (schema version %d; this build knows up to %d): upgrade applink", path, state.ErrNewerSchema, v, migrations.Latest())
	case v < int(migrations.Latest()):
		db.Close()
		return nil, fmt.Errorf("state %s: %w: schema version %d is older than this build's %d", path, state.ErrNotMigrated, v, migrations.Latest())
	}
	return s, nil
}

// LedgerCounts counts the ledger by entity, state and reason (agents first,
// then by state, then most rows first). With a runID, only the rows that run
// set and no later run changed.
func (s *Store) LedgerCounts(ctx context.Context, runID string) ([]state.LedgerCount, error) {
	q := `SELECT entity, state, reason, count(*) AS n FROM ledger`
	var args []any
	if runID != "" {
		q += ` WHERE run_id = ?`
		args = append(args, runID)
	}
	q += ` GROUP BY entity, state, reason
		ORDER BY entity, CASE state WHEN 'imported' THEN 0 WHEN 'queued' THEN 1 WHEN 'excluded' THEN 2 ELSE 3 END, n DESC, reason, state`
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("state: ledger counts: %w", err)
	}
	defer rows.Close()
	var out []state.LedgerCount
	for rows.Next() {
		var c state.LedgerCount
		if err := rows.Scan(&c.Entity, &c.State, &c.Reason, &c.N); err != nil {
			return nil, fmt.Errorf("state: ledger counts: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// LedgerRows returns the first q.Limit rows matching q in (entity, id) order,
// and how many match in all.
func (s *Store) LedgerRows(ctx context.Context, q state.LedgerQuery) ([]state.LedgerRow, int, error) {
	var conds []string
	var args []any
	if q.ID != "" && q.Entity != "" {
		// The 8-byte key finds one row without comparing strings. A literal:
		// database/sql refuses a uint64 argument with the high bit set.
		conds = append(conds, "key = "+strconv.FormatUint(state.RowKey(q.Entity, q.ID), 10)+"::UBIGINT")
	}
	for _, f := range []struct{ col, val string }{
		{"entity", q.Entity}, {"id", q.ID}, {"state", q.State}, {"reason", q.Reason}, {"run_id", q.RunID},
	} {
		if f.val != "" {
			conds = append(conds, f.col+" = ?")
			args = append(args, f.val)
		}
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM ledger`+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("state: ledger rows: %w", err)
	}
	if q.Limit <= 0 || total == 0 {
		return nil, total, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+ledgerColumns+` FROM ledger`+where+
		` ORDER BY entity, id LIMIT ?`, append(args, q.Limit)...)
	if err != nil {
		return nil, 0, fmt.Errorf("state: ledger rows: %w", err)
	}
	defer rows.Close()
	var out []state.LedgerRow
	for rows.Next() {
		var r state.LedgerRow
		if err := scanRow(rows, &r); err != nil {
			return nil, 0, fmt.Errorf("state: ledger rows: %w", err)
		}
		out = append(out, r)
	}
	return out, total, rows.Err()
}
