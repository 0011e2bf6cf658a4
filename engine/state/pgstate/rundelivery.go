package pgstate

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/applink-dev/applink/engine/state"
)

// fillDelivery says where the calls each run queued are now (engine.Delivery),
// read when the history is read: the ledger holds a delivered or refused
// call's final state under the run that queued it (the worker keeps its
// run_id), River's open jobs the ones in flight or waiting to retry. Two
// queries for the whole history, only when some run queued.
func (s *Store) fillDelivery(ctx context.Context, runs []state.RunRecord) error {
	byRun := map[string]*state.RunRecord{}
	var ids []string
	for i := range runs {
		if r := &runs[i]; r.Record != nil && r.Record.Delivery.Queued > 0 {
			byRun[r.RunID] = r
			ids = append(ids, r.RunID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var runID, st string
	var n int
	rows, err := s.pool.Query(ctx, `SELECT run_id, state, count(*) FROM applink_ledger
		WHERE spec = $1 AND entity = 'call' AND run_id = ANY($2) AND state IN ('imported', 'failed', 'retrying')
		GROUP BY run_id, state`, s.spec, ids)
	if err != nil {
		return fmt.Errorf("state: delivery of the queued runs: %w", err)
	}
	if _, err := pgx.ForEachRow(rows, []any{&runID, &st, &n}, func() error {
		rec := byRun[runID].Record
		d := &rec.Delivery
		switch st {
		case "imported":
			d.Imported = n
		case "failed":
			// The run's own failed calls (bad rows, unreadable media) carry
			// its id too; the rest a worker failed.
			d.Failed = max(0, n-rec.Calls.Count("failed"))
		case "retrying":
			d.Retrying = n
		}
		return nil
	}); err != nil {
		return fmt.Errorf("state: delivery of the queued runs: %w", err)
	}
	var running, retryable int
	rows, err = s.pool.Query(ctx, `SELECT args->>'run_id', count(*) FILTER (WHERE state = 'running'), count(*) FILTER (WHERE state = 'retryable')
		FROM river_job WHERE kind = $1 AND args->>'spec' = $2 AND args->>'run_id' = ANY($3) AND state IN ('running', 'retryable')
		GROUP BY 1`, s.db.jobs.Kind, s.spec, ids)
	if err != nil {
		return fmt.Errorf("state: delivery jobs of the queued runs: %w", err)
	}
	if _, err := pgx.ForEachRow(rows, []any{&runID, &running, &retryable}, func() error {
		// A delivery in flight is River's running job (the ledger does not
		// write it); a retry is in both, the ledger's row written when the
		// attempt failed.
		d := &byRun[runID].Record.Delivery
		d.Delivering, d.Retrying = max(d.Delivering, running), max(d.Retrying, retryable)
		return nil
	}); err != nil {
		return fmt.Errorf("state: delivery jobs of the queued runs: %w", err)
	}
	return nil
}
