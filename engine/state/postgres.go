package state

import (
	"bufio"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/killpoint"
)

//go:embed migrations/postgres/*.sql
var pgMigrations embed.FS

// PGStore is a spec's state in a PostgreSQL database that several specs,
// `serve` processes and delivery workers share: every table is keyed by the
// spec's key. A run's calls are queued there as River jobs for the workers.
type PGStore struct {
	pool  *pgxpool.Pool
	spec  string
	where string // for people: the DSN without secrets, and the spec
	river *river.Client[pgx.Tx]
	// Attempts is how many times a queued delivery is tried before it ends
	// failed (River's MaxAttempts of the jobs this store enqueues).
	Attempts int
}

// DeliveryKind is the River job kind of a call delivery, DeliveryQueue its
// queue; engine/delivery works them.
const (
	DeliveryKind     = "applink_delivery"
	DeliveryQueue    = "applink_delivery"
	DeliveryAttempts = 10 // with River's backoff (attempt⁴ s) about 3 hours in all
)

// OpenPostgres connects to a PostgreSQL state (the DSN's search_path, if
// any, picks the schema) and migrates it: applink's tables with goose,
// River's with River's migrator, both under one advisory lock so that
// processes starting together migrate once.
func OpenPostgres(ctx context.Context, dsn, spec string) (*PGStore, error) {
	if spec == "" {
		return nil, errors.New("state: a postgres state needs the spec's key")
	}
	pool, err := Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	s := &PGStore{pool: pool, spec: spec, where: RedactDSN(dsn) + " (spec " + spec + ")", Attempts: DeliveryAttempts}
	if err := MigratePostgres(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("state %s: %w", s.where, err)
	}
	s.river, err = river.NewClient(riverpgxv5.New(pool), &river.Config{}) // insert only
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("state %s: %w", s.where, err)
	}
	return s, nil
}

// Connect opens a pool on a PostgreSQL state without migrating it. Errors
// never repeat the DSN (it may hold a password).
func Connect(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	where := RedactDSN(dsn)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("state %s: the DSN does not parse (postgres://user@host:5432/db?sslmode=…)", where)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", where, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("state %s: %w", where, err)
	}
	return pool, nil
}

// PGSchemaVersion is the newest applink migration this build has.
func PGSchemaVersion() int64 {
	names, _ := fs.Glob(pgMigrations, "migrations/postgres/*.sql")
	var v int64
	for _, n := range names {
		var x int64
		fmt.Sscanf(n[len("migrations/postgres/"):], "%d", &x)
		v = max(v, x)
	}
	return v
}

// migrateLockKey is the advisory lock of migrations (any constant that no
// other application of the database uses).
const migrateLockKey = 0x6170706c696e6b // "applink"

// MigratePostgres brings a database to this build's schema (applink's and
// River's tables); a delivery worker calls it too, as it may start first.
func MigratePostgres(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrateLockKey)); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrateLockKey))

	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	sub, err := fs.Sub(pgMigrations, "migrations/postgres")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	cur, err := p.GetDBVersion(ctx)
	if err != nil && !errors.Is(err, goose.ErrVersionNotFound) {
		// A new database has no version table yet: Up creates it.
		cur = 0
	}
	if latest := PGSchemaVersion(); cur > latest {
		return fmt.Errorf("%w (schema version %d; this build knows up to %d): upgrade applink", ErrNewerSchema, cur, latest)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	return nil
}

// String implements Backend.
func (s *PGStore) String() string { return s.where }

// Spec is the spec's key in the database.
func (s *PGStore) Spec() string { return s.spec }

// Pool is the connection pool, for the delivery workers and tests.
func (s *PGStore) Pool() *pgxpool.Pool { return s.pool }

// Close implements Backend.
func (s *PGStore) Close() error {
	s.pool.Close()
	return nil
}

// Version implements Backend: the goose version of applink's tables.
func (s *PGStore) Version(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&v)
	return v, err
}

// Prior implements Backend.
func (s *PGStore) Prior(ctx context.Context) (*Index, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM applink_ledger WHERE spec = $1`, s.spec).Scan(&n); err != nil {
		return nil, fmt.Errorf("state: count ledger: %w", err)
	}
	b := NewIndexBuilder(n)
	rows, err := s.pool.Query(ctx, `SELECT key, fp, active FROM applink_ledger WHERE spec = $1`, s.spec)
	if err != nil {
		return nil, fmt.Errorf("state: load ledger: %w", err)
	}
	defer rows.Close()
	var key, fp int64
	var active bool
	_, err = pgx.ForEachRow(rows, []any{&key, &fp, &active}, func() error {
		b.Add(uint64(key), uint64(fp), active)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("state: load ledger: %w", err)
	}
	return b.Finish()
}

// Begin implements Backend.
func (s *PGStore) Begin(runID, specHash, dir string, idx *Index) (*RunLedger, error) {
	return begin(s.applyRun, true, runID, specHash, dir, idx)
}

// u64 turns a CSV column of unsigned 64-bit numbers (numeric) into the
// signed bigint with the same bits.
func u64(col string) string {
	return `(CASE WHEN ` + col + ` >= 9223372036854775808 THEN ` + col + ` - 18446744073709551616 ELSE ` + col + ` END)::bigint`
}

// applyRun is PostgreSQL's commit of a ChangeSet, in one transaction: the
// changes CSV is streamed in with COPY, upserted (the last seq of a key
// wins), the run, its watermarks and staging entry recorded, and its
// deliveries inserted as River jobs (COPY too).
func (s *PGStore) applyRun(ctx context.Context, c *ChangeSet) error {
	sum := c.Summary
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if c.Rows > 0 {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE applink_changes (entity text, id text, state text, reason text, detail text,
			fp numeric, active boolean, run_id text, seq bigint, key numeric) ON COMMIT DROP`); err != nil {
			return fmt.Errorf("state: upsert ledger: %w", err)
		}
		f, err := os.Open(c.Path)
		if err != nil {
			return fmt.Errorf("state: %w", err)
		}
		_, err = tx.Conn().PgConn().CopyFrom(ctx, bufio.NewReaderSize(f, 1<<20), `COPY applink_changes FROM STDIN (FORMAT csv, HEADER true)`)
		f.Close()
		if err != nil {
			return fmt.Errorf("state: load ledger changes: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO applink_ledger (spec, key, entity, id, state, reason, detail, fp, active, run_id)
			SELECT DISTINCT ON (key) $1, `+u64("key")+`, entity, id, state, coalesce(reason, ''), coalesce(detail, ''), `+u64("fp")+`, active, run_id
			FROM applink_changes ORDER BY key, seq DESC
			ON CONFLICT (spec, key) DO UPDATE SET entity = excluded.entity, id = excluded.id, state = excluded.state,
				reason = excluded.reason, detail = excluded.detail, fp = excluded.fp, active = excluded.active, run_id = excluded.run_id`, s.spec); err != nil {
			return fmt.Errorf("state: upsert ledger: %w", err)
		}
	}
	var target *string
	if c.Target != nil {
		t := string(c.Target)
		target = &t
	}
	if _, err := tx.Exec(ctx, `INSERT INTO applink_runs VALUES ($1, $2, 'run', $3, $4, $5, $6, $7, $8)
		ON CONFLICT (spec, run_id) DO UPDATE SET kind = excluded.kind, plan_hash = excluded.plan_hash, spec_hash = excluded.spec_hash,
			started = excluded.started, ended = excluded.ended, summary = excluded.summary, target = excluded.target`,
		s.spec, c.RunID, sum.PlanHash, c.SpecHash, sum.Started, sum.Started.Add(sum.Elapsed), string(c.SummaryJSON), target); err != nil {
		return fmt.Errorf("state: record run: %w", err)
	}
	for src, wm := range sum.Watermarks {
		if _, err := tx.Exec(ctx, `INSERT INTO applink_watermarks VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (spec, source) DO UPDATE SET start_time = excluded.start_time, call_id = excluded.call_id, run_id = excluded.run_id`,
			s.spec, src, wm.StartTime, wm.CallID, c.RunID); err != nil {
			return fmt.Errorf("state: watermark: %w", err)
		}
	}
	if c.Staged != nil {
		if _, err := tx.Exec(ctx, `INSERT INTO applink_staging VALUES ($1, $2, $3, $4, $5, $6, NULL)
			ON CONFLICT (spec, run_id) DO UPDATE SET path = excluded.path, created = excluded.created, calls = excluded.calls, agents = excluded.agents, purged_at = NULL`,
			s.spec, c.RunID, c.Staged.Path, sum.Started, c.Staged.Calls, c.Staged.Agents); err != nil {
			return fmt.Errorf("state: staging index: %w", err)
		}
	}
	killpoint.Hit(killpoint.StateHistoryWritten)
	if c.DeliveryCount > 0 {
		if err := s.enqueue(ctx, tx, c.Deliveries); err != nil {
			return err
		}
		killpoint.Hit(killpoint.StateEnqueued)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("state: commit: %w", err)
	}
	killpoint.Hit(killpoint.StateCommitted)
	return nil
}

// rawArgs is a delivery job's args as the run wrote them.
type rawArgs json.RawMessage

func (rawArgs) Kind() string                   { return DeliveryKind }
func (a rawArgs) MarshalJSON() ([]byte, error) { return a, nil }

// enqueue inserts the deliveries file's jobs in tx, in batches (River's
// InsertManyFastTx is a COPY), so memory stays flat.
func (s *PGStore) enqueue(ctx context.Context, tx pgx.Tx, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("state: deliveries: %w", err)
	}
	defer f.Close()
	opts := &river.InsertOpts{Queue: DeliveryQueue, MaxAttempts: s.Attempts}
	const batch = 2000
	params := make([]river.InsertManyParams, 0, batch)
	flush := func() error {
		if len(params) == 0 {
			return nil
		}
		if _, err := s.river.InsertManyFastTx(ctx, tx, params); err != nil {
			return fmt.Errorf("state: enqueue deliveries: %w", err)
		}
		params = params[:0]
		return nil
	}
	r := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 1 {
			params = append(params, river.InsertManyParams{Args: rawArgs(line[:len(line)-1]), InsertOpts: opts})
			if len(params) == batch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("state: deliveries: %w", err)
		}
	}
	return flush()
}

// Watermarks implements Backend.
func (s *PGStore) Watermarks(ctx context.Context) (map[string]engine.Watermark, error) {
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
func (s *PGStore) Runs(ctx context.Context) ([]RunRecord, error) {
	rows, err := s.pool.Query(ctx, `SELECT run_id, kind, plan_hash, spec_hash, started, ended, summary FROM applink_runs WHERE spec = $1 ORDER BY started, run_id`, s.spec)
	if err != nil {
		return nil, fmt.Errorf("state: runs: %w", err)
	}
	var out []RunRecord
	var r RunRecord
	var sum string
	_, err = pgx.ForEachRow(rows, []any{&r.RunID, &r.Kind, &r.PlanHash, &r.SpecHash, &r.Started, &r.Ended, &sum}, func() error {
		if err := decodeHistory(&r, []byte(sum)); err != nil {
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

// RecordEvent implements Backend.
func (s *PGStore) RecordEvent(ctx context.Context, kind, runID string, started time.Time, ev *engine.EventRecord) error {
	b, err := encodeEvent(ev)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO applink_runs VALUES ($1, $2, $3, '', '', $4, $5, $6, NULL)`, s.spec, runID, kind, started, time.Now(), b)
	if err != nil {
		return fmt.Errorf("state: record %s: %w", kind, err)
	}
	return nil
}

// Ledger implements Backend, in byte order of (entity, id) as DuckDB sorts.
func (s *PGStore) Ledger(ctx context.Context, fn func(r LedgerRow) error) error {
	rows, err := s.pool.Query(ctx, `SELECT entity, id, state, reason, detail, active, run_id, fp FROM applink_ledger
		WHERE spec = $1 ORDER BY entity COLLATE "C", id COLLATE "C"`, s.spec)
	if err != nil {
		return fmt.Errorf("state: ledger: %w", err)
	}
	var r LedgerRow
	var fp int64
	_, err = pgx.ForEachRow(rows, []any{&r.Entity, &r.ID, &r.State, &r.Reason, &r.Detail, &r.Active, &r.RunID, &fp}, func() error {
		r.FP = uint64(fp)
		return fn(r)
	})
	return err
}

// Staging implements Backend.
func (s *PGStore) Staging(ctx context.Context) ([]StagedRun, error) {
	rows, err := s.pool.Query(ctx, `SELECT run_id, path, created, calls, agents, purged_at FROM applink_staging WHERE spec = $1 ORDER BY created, run_id`, s.spec)
	if err != nil {
		return nil, fmt.Errorf("state: staging: %w", err)
	}
	var out []StagedRun
	var r StagedRun
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
func (s *PGStore) Prune(ctx context.Context, before, now time.Time) ([]string, error) {
	return prune(ctx, s, before, now)
}

// PurgeRun implements Backend.
func (s *PGStore) PurgeRun(ctx context.Context, r StagedRun, now time.Time) error {
	if err := removeStaged(r); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `UPDATE applink_staging SET purged_at = $1 WHERE spec = $2 AND run_id = $3`, now, s.spec, r.RunID); err != nil {
		return fmt.Errorf("purge staged run %s: %w", r.RunID, err)
	}
	return nil
}

// LedgerCounts implements the report's query (see Store.LedgerCounts).
func (s *PGStore) LedgerCounts(ctx context.Context, runID string) ([]LedgerCount, error) {
	rows, err := s.pool.Query(ctx, `SELECT entity, state, reason, count(*) AS n FROM applink_ledger
		WHERE spec = $1 AND ($2 = '' OR run_id = $2)
		GROUP BY entity, state, reason
		ORDER BY entity COLLATE "C", CASE state WHEN 'imported' THEN 0 WHEN 'queued' THEN 1 WHEN 'excluded' THEN 2 ELSE 3 END, n DESC, reason COLLATE "C"`, s.spec, runID)
	if err != nil {
		return nil, fmt.Errorf("state: ledger counts: %w", err)
	}
	var out []LedgerCount
	var c LedgerCount
	if _, err := pgx.ForEachRow(rows, []any{&c.Entity, &c.State, &c.Reason, &c.N}, func() error {
		out = append(out, c)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("state: ledger counts: %w", err)
	}
	return out, nil
}

// LedgerRows implements the report's query (see Store.LedgerRows).
func (s *PGStore) LedgerRows(ctx context.Context, q LedgerQuery) ([]LedgerRow, int, error) {
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
	rows, err := s.pool.Query(ctx, `SELECT entity, id, state, reason, detail, active, run_id FROM applink_ledger WHERE `+where+
		` ORDER BY entity COLLATE "C", id COLLATE "C" LIMIT $7`, append(args, q.Limit)...)
	if err != nil {
		return nil, 0, fmt.Errorf("state: ledger rows: %w", err)
	}
	var out []LedgerRow
	var r LedgerRow
	if _, err := pgx.ForEachRow(rows, []any{&r.Entity, &r.ID, &r.State, &r.Reason, &r.Detail, &r.Active, &r.RunID}, func() error {
		out = append(out, r)
		return nil
	}); err != nil {
		return nil, 0, fmt.Errorf("state: ledger rows: %w", err)
	}
	return out, total, nil
}
