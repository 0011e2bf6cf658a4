package pgstate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/state"
)

// openJobStates are River's job states of a delivery not finished yet.
const openJobStates = `('available', 'pending', 'running', 'retryable', 'scheduled')`

// Queue implements Backend: the spec's open rows and jobs.
func (s *Store) Queue(ctx context.Context) (state.QueueStats, error) {
	all, err := s.db.queue(ctx, s.spec)
	return all[s.spec], err
}

// QueueBySpec is Queue for every spec in the database, keyed by spec: a
// few queries for a metrics scrape.
func (db *DB) QueueBySpec(ctx context.Context) (map[string]state.QueueStats, error) {
	return db.queue(ctx, "")
}

func (db *DB) queue(ctx context.Context, spec string) (map[string]state.QueueStats, error) {
	out := map[string]state.QueueStats{}
	// The ledger's open rows and failures (the partial index holds them).
	rows, err := db.pool.Query(ctx, `SELECT spec, count(*) FILTER (WHERE state = 'queued'), count(*) FILTER (WHERE state = 'retrying'),
			count(*) FILTER (WHERE state = 'failed' AND entity = 'call')
		FROM applink_ledger WHERE state IN ('queued', 'retrying', 'failed') AND ($1 = '' OR spec = $1) GROUP BY spec`, spec)
	if err != nil {
		return nil, fmt.Errorf("state: queue: %w", err)
	}
	var k string
	var queued, retrying, failed int64
	if _, err := pgx.ForEachRow(rows, []any{&k, &queued, &retrying, &failed}, func() error {
		q := out[k]
		q.Queued, q.Retrying, q.Failed = queued, retrying, failed
		out[k] = q
		return nil
	}); err != nil {
		return nil, fmt.Errorf("state: queue: %w", err)
	}
	// The oldest open row: the commit of the oldest run that still has one.
	var oldest time.Time
	rows, err = db.pool.Query(ctx, `SELECT r.spec, min(r.ended) FROM applink_runs r
		WHERE (r.spec, r.run_id) IN (SELECT DISTINCT spec, run_id FROM applink_ledger WHERE state IN ('queued', 'retrying') AND ($1 = '' OR spec = $1))
		GROUP BY r.spec`, spec)
	if err != nil {
		return nil, fmt.Errorf("state: queue: %w", err)
	}
	if _, err := pgx.ForEachRow(rows, []any{&k, &oldest}, func() error {
		q := out[k]
		q.Oldest = oldest.UTC()
		out[k] = q
		return nil
	}); err != nil {
		return nil, fmt.Errorf("state: queue: %w", err)
	}
	if db.jobs.Kind == "" {
		return out, nil
	}
	// Delivering is derived here, from the jobs River runs now: no write
	// per delivery start.
	var running, waiting int64
	rows, err = db.pool.Query(ctx, `SELECT args->>'spec', count(*) FILTER (WHERE state = 'running'), count(*) FILTER (WHERE state <> 'running')
		FROM river_job WHERE kind = $1 AND state IN `+openJobStates+` AND ($2 = '' OR args->>'spec' = $2)
		GROUP BY 1`, db.jobs.Kind, spec)
	if err != nil {
		return nil, fmt.Errorf("state: queue: %w", err)
	}
	if _, err := pgx.ForEachRow(rows, []any{&k, &running, &waiting}, func() error {
		q := out[k]
		q.Delivering, q.InFlight, q.Waiting = running, running, waiting
		out[k] = q
		return nil
	}); err != nil {
		return nil, fmt.Errorf("state: queue: %w", err)
	}
	return out, nil
}

// settleSQL settles a batch of outcomes in one statement. A row changes
// only while it is still the delivery's (its fingerprint as enqueued,
// queued or retrying) and, for a retry, only forward (a later attempt):
// settling an outcome again changes and counts nothing. A failed row's
// fingerprint becomes 0, so the next run sends the call again.
const settleSQL = `WITH o AS (
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::integer[],
			$8::timestamptz[], $9::text[], $10::bigint[], $11::text[])
			AS o(spec, key, fp, state, reason, detail, attempt, next_try, media_type, media_size, media_sha256)
	), u AS (
		UPDATE applink_ledger l SET state = o.state, reason = o.reason, detail = o.detail,
			fp = CASE WHEN o.state = 'failed' THEN 0 ELSE l.fp END,
			attempt = nullif(o.attempt, 0), next_try = o.next_try,
			media_type = o.media_type, media_size = o.media_size, media_sha256 = o.media_sha256
		FROM o
		WHERE l.spec = o.spec AND l.key = o.key AND l.fp = o.fp
			AND (l.state = 'queued' OR (l.state = 'retrying' AND (o.state <> 'retrying' OR coalesce(l.attempt, 0) < o.attempt)))
		RETURNING l.spec, l.key, l.state
	)
	SELECT u.spec, u.key, u.state FROM u`

// SettleTx records a batch of delivery outcomes in tx, in one statement
// (the worker completes the batch's jobs in the same transaction):
// imported with what was sent of the media, failed with its Failure,
// retrying with the attempt, the next try and the error. Idempotent.
func (db *DB) SettleTx(ctx context.Context, tx pgx.Tx, outs []state.Outcome) (state.Settled, error) {
	var n state.Settled
	if len(outs) == 0 {
		return n, nil
	}
	k := len(outs)
	specs, states, reasons, details, mtypes, mshas := make([]string, k), make([]string, k), make([]string, k), make([]string, k), make([]*string, k), make([]*string, k)
	keys, fps, msizes := make([]int64, k), make([]int64, k), make([]*int64, k)
	attempts := make([]int32, k)
	next := make([]*time.Time, k)
	for i, o := range outs {
		specs[i], keys[i], fps[i], states[i] = o.Spec, o.Key, o.FP, o.State
		switch o.State {
		case connector.StateImported:
			reasons[i] = o.Reason
			if m := o.Media; m != nil {
				mtypes[i], msizes[i], mshas[i] = &m.ContentType, &m.Size, &m.SHA256
			}
		case connector.StateFailed, state.StateRetrying:
			if o.Failure == nil {
				return n, fmt.Errorf("state: settle call row %d: a %s outcome without its failure", o.Key, o.State)
			}
			reasons[i], details[i] = o.Failure.Code, o.Failure.Detail
			attempts[i] = int32(o.Attempt)
			if o.State == state.StateRetrying {
				t := o.NextTry
				next[i] = &t
			}
		default:
			return n, fmt.Errorf("state: settle: unknown outcome %q", o.State)
		}
	}
	rows, err := tx.Query(ctx, settleSQL, specs, keys, fps, states, reasons, details, attempts, next, mtypes, msizes, mshas)
	if err != nil {
		return n, fmt.Errorf("state: settle deliveries: %w", err)
	}
	type ref struct {
		spec string
		key  int64
	}
	changed := map[ref]bool{}
	var spec, st string
	var key int64
	if _, err := pgx.ForEachRow(rows, []any{&spec, &key, &st}, func() error {
		changed[ref{spec, key}] = true
		switch st {
		case connector.StateImported:
			n.Imported++
		case connector.StateFailed:
			n.Failed++
		case state.StateRetrying:
			n.Retrying++
		}
		return nil
	}); err != nil {
		return state.Settled{}, fmt.Errorf("state: settle deliveries: %w", err)
	}
	// A row changes once per statement, whichever of its outcomes matched:
	// the first outcome of a row counts as the applied one.
	n.Applied = make([]bool, k)
	for i, o := range outs {
		if r := (ref{o.Spec, o.Key}); changed[r] {
			n.Applied[i] = true
			delete(changed, r)
		}
	}
	return n, nil
}

// PendingMany is Pending for a batch of jobs in one query: per ref, in
// order, whether its row is still that delivery's.
func (db *DB) PendingMany(ctx context.Context, refs []state.JobRef) ([]bool, error) {
	out := make([]bool, len(refs))
	if len(refs) == 0 {
		return out, nil
	}
	specs, keys, fps := make([]string, len(refs)), make([]int64, len(refs)), make([]int64, len(refs))
	for i, r := range refs {
		specs[i], keys[i], fps[i] = r.Spec, r.Key, r.FP
	}
	rows, err := db.pool.Query(ctx, `SELECT r.i FROM unnest($1::text[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS r(spec, key, fp, i)
		JOIN applink_ledger l ON l.spec = r.spec AND l.key = r.key AND l.fp = r.fp AND l.state IN ('queued', 'retrying')`, specs, keys, fps)
	if err != nil {
		return nil, fmt.Errorf("state: ledger rows: %w", err)
	}
	var i int64
	if _, err := pgx.ForEachRow(rows, []any{&i}, func() error {
		out[i-1] = true
		return nil
	}); err != nil {
		return nil, fmt.Errorf("state: ledger rows: %w", err)
	}
	return out, nil
}

// RetryReasons counts the retrying rows of every spec by their last
// error's reason: spec → reason → rows (one query, for metrics).
func (db *DB) RetryReasons(ctx context.Context) (map[string]map[string]int64, error) {
	rows, err := db.pool.Query(ctx, `SELECT spec, reason, count(*) FROM applink_ledger WHERE state = 'retrying' GROUP BY spec, reason`)
	if err != nil {
		return nil, fmt.Errorf("state: retry reasons: %w", err)
	}
	out := map[string]map[string]int64{}
	var spec, reason string
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&spec, &reason, &n}, func() error {
		if out[spec] == nil {
			out[spec] = map[string]int64{}
		}
		out[spec][reason] = n
		return nil
	}); err != nil {
		return nil, fmt.Errorf("state: retry reasons: %w", err)
	}
	return out, nil
}

// Settle is SettleTx in a transaction of its own (a retrying outcome,
// whose job River reschedules itself).
func (db *DB) Settle(ctx context.Context, outs []state.Outcome) (state.Settled, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return state.Settled{}, fmt.Errorf("state: settle deliveries: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	n, err := db.SettleTx(ctx, tx, outs)
	if err != nil {
		return n, err
	}
	if err := tx.Commit(ctx); err != nil {
		return state.Settled{}, fmt.Errorf("state: settle deliveries: %w", err)
	}
	return n, nil
}

// Pending reports whether the spec's ledger row key is still the delivery
// of fingerprint fp (queued or retrying): else a later run queued a newer
// version of the call, or the row is gone, and the job has nothing to do.
func (db *DB) Pending(ctx context.Context, spec string, key, fp int64) (bool, error) {
	var st string
	var cur int64
	err := db.pool.QueryRow(ctx, `SELECT state, fp FROM applink_ledger WHERE spec = $1 AND key = $2`, spec, key).Scan(&st, &cur)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("state: ledger row: %w", err)
	}
	return (st == connector.StateQueued || st == state.StateRetrying) && cur == fp, nil
}

// Target is where a run's deliveries go, as the run recorded it (nil when
// it recorded none).
func (db *DB) Target(ctx context.Context, spec, runID string) ([]byte, error) {
	var raw *string
	err := db.pool.QueryRow(ctx, `SELECT target FROM applink_runs WHERE spec = $1 AND run_id = $2`, spec, runID).Scan(&raw)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("state: run %s of spec %s: %w", runID, spec, err)
	}
	if raw == nil {
		return nil, nil
	}
	return []byte(*raw), nil
}

// Sweep marks failed the open rows whose job River discarded or cancelled
// without the worker settling them (a worker killed on its last attempt,
// a job cancelled by hand), so no row stays open for ever. It returns how
// many rows it marked.
func (db *DB) Sweep(ctx context.Context) (int64, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE applink_ledger l SET state = 'failed', reason = 'delivery_abandoned',
			detail = 'the delivery job was ' || j.state || ' after ' || j.attempt || ' attempts', fp = 0, next_try = NULL
		FROM river_job j
		WHERE j.kind = $1 AND j.state IN ('discarded', 'cancelled')
			AND l.spec = j.args->>'spec' AND l.key = (j.args->>'key')::bigint
			AND l.state IN ('queued', 'retrying') AND l.fp = (j.args->>'fp')::bigint`, db.jobs.Kind)
	if err != nil {
		return 0, fmt.Errorf("sweep: %w", err)
	}
	return tag.RowsAffected(), nil
}
