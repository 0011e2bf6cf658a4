package state

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// QueueStats is a spec's delivery queue at one instant: what `report` shows
// and what `serve` exports as metrics.
type QueueStats struct {
	Queued   int64 `json:"queued"`    // ledger rows waiting for their delivery (state queued)
	InFlight int64 `json:"in_flight"` // deliveries a worker is running now
	Waiting  int64 `json:"waiting"`   // delivery jobs not yet picked up, retries included: the queue depth
	Retrying int64 `json:"retrying"`  // of Waiting, those whose last attempt failed
}

// openJobStates are River's job states of a delivery not finished yet.
const openJobStates = `('available', 'pending', 'running', 'retryable', 'scheduled')`

// Queue implements Backend: the spec's queued rows and open jobs.
func (s *PGStore) Queue(ctx context.Context) (QueueStats, error) {
	all, err := s.queue(ctx, s.spec)
	return all[s.spec], err
}

// QueueBySpec is Queue for every spec in the database, keyed by spec: one
// query for a metrics scrape.
func (s *PGStore) QueueBySpec(ctx context.Context) (map[string]QueueStats, error) {
	return s.queue(ctx, "")
}

func (s *PGStore) queue(ctx context.Context, spec string) (map[string]QueueStats, error) {
	out := map[string]QueueStats{}
	rows, err := s.pool.Query(ctx, `SELECT spec, count(*) FROM applink_ledger
		WHERE state = 'queued' AND ($1 = '' OR spec = $1) GROUP BY spec`, spec)
	if err != nil {
		return nil, fmt.Errorf("state: queue: %w", err)
	}
	var k string
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&k, &n}, func() error {
		q := out[k]
		q.Queued = n
		out[k] = q
		return nil
	}); err != nil {
		return nil, fmt.Errorf("state: queue: %w", err)
	}
	var running, waiting, retrying int64
	rows, err = s.pool.Query(ctx, `SELECT args->>'spec', count(*) FILTER (WHERE state = 'running'),
			count(*) FILTER (WHERE state <> 'running'), count(*) FILTER (WHERE state = 'retryable')
		FROM river_job WHERE kind = $1 AND state IN `+openJobStates+` AND ($2 = '' OR args->>'spec' = $2)
		GROUP BY 1`, DeliveryKind, spec)
	if err != nil {
		return nil, fmt.Errorf("state: queue: %w", err)
	}
	if _, err := pgx.ForEachRow(rows, []any{&k, &running, &waiting, &retrying}, func() error {
		q := out[k]
		q.InFlight, q.Waiting, q.Retrying = running, waiting, retrying
		out[k] = q
		return nil
	}); err != nil {
		return nil, fmt.Errorf("state: queue: %w", err)
	}
	return out, nil
}
