package pgstate

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/state"
)

// Watermarks implements Backend.
func (s *Store) Watermarks(ctx context.Context) (map[string]engine.Watermark, error) {
	rows, err := s.pool.Query(ctx, `SELECT source, start_time, call_id FROM applink_watermarks WHERE spec = $1`, s.spec)
	if err != nil {
		return nil, fmt.Errorf("state: watermarks: %w", err)
	}
	out := map[string]engine.Watermark{}
	var src string
	var wm engine.Watermark
	_, err = pgx.ForEachRow(rows, []any{&src, &wm.StartTime, &wm.CallID}, func() error {
		wm.StartTime = wm.StartTime.UTC()
		out[src] = wm
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("state: watermarks: %w", err)
	}
	return out, nil
}

// Runs implements Backend.
func (s *Store) Runs(ctx context.Context) ([]state.RunRecord, error) {
	rows, err := s.pool.Query(ctx, `SELECT run_id, kind, plan_hash, spec_hash, started, ended, summary FROM applink_runs WHERE spec = $1 ORDER BY started, run_id`, s.spec)
	if err != nil {
		return nil, fmt.Errorf("state: runs: %w", err)
	}
	var out []state.RunRecord
	var r state.RunRecord
	var sum string
	_, err = pgx.ForEachRow(rows, []any{&r.RunID, &r.Kind, &r.PlanHash, &r.SpecHash, &r.Started, &r.Ended, &sum}, func() error {
		if err := state.DecodeHistory(&r, []byte(sum)); err != nil {
			return err
		}
		out = append(out, r)
		r.Record, r.Event = nil, nil
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("state: runs: %w", err)
	}
	if err := s.fillDelivery(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Ledger implements Backend, in byte order of (entity, id) as DuckDB sorts.
func (s *Store) Ledger(ctx context.Context, fn func(r state.LedgerRow) error) error {
	rows, err := s.pool.Query(ctx, `SELECT `+ledgerColumns+` FROM applink_ledger
		WHERE spec = $1 ORDER BY entity COLLATE "C", id COLLATE "C"`, s.spec)
	if err != nil {
		return fmt.Errorf("state: ledger: %w", err)
	}
	var r state.LedgerRow
	var sc rowScan
	_, err = pgx.ForEachRow(rows, sc.dest(), func() error {
		sc.into(&r)
		return fn(r)
	})
	return err
}

// Staging implements Backend.
func (s *Store) Staging(ctx context.Context) ([]state.StagedRun, error) {
	rows, err := s.pool.Query(ctx, `SELECT run_id, path, created, calls, agents, purged_at FROM applink_staging WHERE spec = $1 ORDER BY created, run_id`, s.spec)
	if err != nil {
		return nil, fmt.Errorf("state: staging: %w", err)
	}
	var out []state.StagedRun
	var r state.StagedRun
	var purged *time.Time
	_, err = pgx.ForEachRow(rows, []any{&r.RunID, &r.Path, &r.Created, &r.Calls, &r.Agents, &purged}, func() error {
		r.PurgedAt = purged
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("state: staging: %w", err)
	}
	return out, nil
}

// Prune implements Backend.
func (s *Store) Prune(ctx context.Context, before, now time.Time) ([]string, error) {
	return state.Prune(ctx, s, before, now)
}

// PurgeRun implements Backend.
func (s *Store) PurgeRun(ctx context.Context, r state.StagedRun, now time.Time) error {
	if err := state.RemoveStaged(r); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `UPDATE applink_staging SET purged_at = $1 WHERE spec = $2 AND run_id = $3`, now, s.spec, r.RunID); err != nil {
		return fmt.Errorf("purge staged run %s: %w", r.RunID, err)
	}
	return nil
}

// ledgerColumns are the columns of a LedgerRow, in rowScan's order.
const ledgerColumns = `entity, id, state, reason, detail, active, run_id, fp,
	coalesce(attempt, 0), next_try, coalesce(media_type, ''), coalesce(media_size, 0), coalesce(media_sha256, '')`

// rowScan receives ledgerColumns.
type rowScan struct {
	r    state.LedgerRow
	fp   int64
	next *time.Time
}

func (sc *rowScan) dest() []any {
	r := &sc.r
	return []any{&r.Entity, &r.ID, &r.State, &r.Reason, &r.Detail, &r.Active, &r.RunID, &sc.fp,
		&r.Attempt, &sc.next, &r.Media.ContentType, &r.Media.Size, &r.Media.SHA256}
}

func (sc *rowScan) into(r *state.LedgerRow) {
	*r = sc.r
	r.FP = uint64(sc.fp)
	r.NextTry = nil
	if sc.next != nil {
		t := *sc.next
		r.NextTry = &t
	}
}

// LedgerCounts implements the report's query (see duckstate's).
func (s *Store) LedgerCounts(ctx context.Context, runID string) ([]state.LedgerCount, error) {
	rows, err := s.pool.Query(ctx, `SELECT entity, state, reason, count(*) AS n FROM applink_ledger
		WHERE spec = $1 AND ($2 = '' OR run_id = $2)
		GROUP BY entity, state, reason
		ORDER BY entity COLLATE "C", CASE state WHEN 'imported' THEN 0 WHEN 'queued' THEN 1 WHEN 'excluded' THEN 2 ELSE 3 END, n DESC, reason COLLATE "C", state COLLATE "C"`, s.spec, runID)
	if err != nil {
		return nil, fmt.Errorf("state: ledger counts: %w", err)
	}
	var out []state.LedgerCount
	var c state.LedgerCount
	if _, err := pgx.ForEachRow(rows, []any{&c.Entity, &c.State, &c.Reason, &c.N}, func() error {
		out = append(out, c)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("state: ledger counts: %w", err)
	}
	return out, nil
}

// LedgerRows implements the report's query (see duckstate's).
func (s *Store) LedgerRows(ctx context.Context, q state.LedgerQuery) ([]state.LedgerRow, int, error) {
	where := `spec = $1 AND ($2 = '' OR entity = $2) AND ($3 = '' OR id = $3) AND ($4 = '' OR state = $4)
		AND ($5 = '' OR reason = $5) AND ($6 = '' OR run_id = $6)`
	args := []any{s.spec, q.Entity, q.ID, q.State, q.Reason, q.RunID}
	var total int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM applink_ledger WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("state: ledger rows: %w", err)
	}
	if q.Limit <= 0 || total == 0 {
		return nil, total, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+ledgerColumns+` FROM applink_ledger WHERE `+where+
		` ORDER BY entity COLLATE "C", id COLLATE "C" LIMIT $7`, append(args, q.Limit)...)
	if err != nil {
		return nil, 0, fmt.Errorf("state: ledger rows: %w", err)
	}
	var out []state.LedgerRow
	var sc rowScan
	if _, err := pgx.ForEachRow(rows, sc.dest(), func() error {
		var r state.LedgerRow
		sc.into(&r)
		out = append(out, r)
		return nil
	}); err != nil {
		return nil, 0, fmt.Errorf("state: ledger rows: %w", err)
	}
	return out, total, nil
}
