package duckstate

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/applink-dev/applink/engine/state"
)

// Staging lists the staging index, oldest first.
func (s *Store) Staging(ctx context.Context) ([]state.StagedRun, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT run_id, path, created, calls, agents, purged_at FROM staging ORDER BY created, run_id`)
	if err != nil {
		return nil, fmt.Errorf("state: staging: %w", err)
	}
	defer rows.Close()
	var out []state.StagedRun
	for rows.Next() {
		var r state.StagedRun
		var purged sql.NullTime
		if err := rows.Scan(&r.RunID, &r.Path, &r.Created, &r.Calls, &r.Agents, &purged); err != nil {
			return nil, err
		}
		if purged.Valid {
			t := purged.Time
			r.PurgedAt = &t
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Prune deletes the staged data of runs created before `before` (retention)
// and marks them purged. It returns the runs it pruned.
func (s *Store) Prune(ctx context.Context, before, now time.Time) ([]string, error) {
	return state.Prune(ctx, s, before, now)
}

// PurgeRun deletes one run's staged data and marks it purged.
func (s *Store) PurgeRun(ctx context.Context, r state.StagedRun, now time.Time) error {
	if err := state.RemoveStaged(r); err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE staging SET purged_at = ? WHERE run_id = ?`, now, r.RunID); err != nil {
		return fmt.Errorf("purge staged run %s: %w", r.RunID, err)
	}
	return nil
}
