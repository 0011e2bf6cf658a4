package pgstate

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/state"
	"github.com/applink-dev/applink/engine/state/statetest"
)

var testJobs = state.Jobs{Kind: "applink_delivery", Queue: "applink_delivery", MaxAttempts: 3}

func openStore(t *testing.T, dsn, spec string, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// commitRun commits a run of n calls (runID-c0…), queued with their
// deliveries when queue is set.
func commitRun(t *testing.T, s *Store, runID string, n int, queue bool) error {
	t.Helper()
	l, err := s.Begin(runID, "spec", filepath.Join(t.TempDir(), runID), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		call := fmt.Sprintf("%s-c%d", runID, i)
		st := connector.StateImported
		if queue {
			st = connector.StateQueued
			key := int64(state.RowKey("call", call))
			if err := l.Enqueue(fmt.Appendf(nil, `{"spec":%q,"run_id":%q,"key":%d,"fp":%d,"call":{"call_id":%q}}`, s.Spec(), runID, key, 2*i+2, call)); err != nil {
				t.Fatal(err)
			}
		}
		l.Row(connector.LedgerRow{Entity: "call", ID: call, State: st}, uint64(2*i+2), false)
	}
	if queue {
		l.SetTarget([]byte(`{"outbox":"x"}`))
		l.SetJobs(testJobs)
	}
	return l.Commit(context.Background(), &engine.RunRecord{RunID: runID, Started: time.Now()})
}

func count(t *testing.T, s *Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.Pool().QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// Several specs share one database: each sees only its own rows.
func TestSpecsShareADatabase(t *testing.T) {
	ctx := context.Background()
	dsn := statetest.DSN(t)
	a, b := openStore(t, dsn, "acme", Options{}), openStore(t, dsn, "globex", Options{})
	for _, s := range []*Store{a, b} {
		l, _ := s.Begin("r1", "spec", filepath.Join(t.TempDir(), s.Spec()), nil)
		l.Row(connector.LedgerRow{Entity: "call", ID: "c1", State: "imported"}, 2, false)
		l.Row(connector.LedgerRow{Entity: "call", ID: s.Spec() + "-only", State: "imported"}, 4, false)
		sum := &engine.RunRecord{RunID: "r1", Started: time.Now(), Watermarks: map[string]engine.Watermark{"dc1": {CallID: s.Spec()}}}
		if err := l.Commit(ctx, sum); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []*Store{a, b} {
		idx, _ := s.Prior(ctx)
		if idx.Len() != 2 {
			t.Errorf("%s: %d rows, want its own 2", s.Spec(), idx.Len())
		}
		if _, _, ok := idx.Lookup("call", s.Spec()+"-only"); !ok {
			t.Errorf("%s: its own row is missing", s.Spec())
		}
		wm, _ := s.Watermarks(ctx)
		if wm["dc1"].CallID != s.Spec() {
			t.Errorf("%s: watermark %v", s.Spec(), wm)
		}
	}
}

// A run's deliveries are River jobs inserted in bulk in the commit's
// transaction: an aborted run enqueues nothing; a committed one, every
// job (more than one insert batch), of the kind and queue it was given.
func TestBulkEnqueueWithTheCommit(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, statetest.DSN(t), "acme", Options{Jobs: testJobs})
	const n = 2500
	l, _ := s.Begin("aborted", "spec", t.TempDir(), nil)
	l.Row(connector.LedgerRow{Entity: "call", ID: "x", State: "queued"}, 2, false)
	l.Enqueue([]byte(`{"spec":"acme"}`))
	l.Abort()
	if q, err := s.Queue(ctx); err != nil || q != (state.QueueStats{}) {
		t.Fatalf("after an aborted run: %+v %v", q, err)
	}
	if err := commitRun(t, s, "r1", n, true); err != nil {
		t.Fatal(err)
	}
	if got := count(t, s, `SELECT count(*) FROM river_job WHERE kind = $1 AND queue = $2 AND max_attempts = 3 AND state = 'available'`, testJobs.Kind, testJobs.Queue); got != n {
		t.Errorf("%d jobs, want %d", got, n)
	}
	q, err := s.Queue(ctx)
	if err != nil || q.Queued != n || q.Waiting != n || q.Delivering != 0 || q.Oldest.IsZero() {
		t.Fatalf("after a committed run: %+v %v", q, err)
	}
	if raw, err := s.DB().Target(ctx, "acme", "r1"); err != nil || string(raw) != `{"outbox":"x"}` {
		t.Errorf("target %q %v", raw, err)
	}
	all, err := s.DB().QueueBySpec(ctx)
	if err != nil || len(all) != 1 || all["acme"] != q {
		t.Errorf("by spec %+v %v", all, err)
	}
	if counts, err := s.LedgerCounts(ctx, ""); err != nil || len(counts) != 1 || counts[0].State != "queued" || counts[0].N != n {
		t.Errorf("ledger counts %+v %v: want %d queued", counts, err, n)
	}
}

// A read-only open never migrates: on an empty schema it fails and
// creates nothing (no schema, no table, not River's either).
func TestReadOnlyOpenDoesNotMigrate(t *testing.T) {
	ctx := context.Background()
	dsn, schema := statetest.Schema(t)
	_, err := Driver{}.Open(ctx, state.Config{Driver: state.DriverPostgres, DSN: dsn, Spec: "acme", Schema: schema}, state.ReadOnly)
	if !errors.Is(err, state.ErrNotMigrated) {
		t.Fatalf("read-only open of an empty state: %v", err)
	}
	db, err := Connect(ctx, dsn, Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var schemas, tables int
	db.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, schema).Scan(&schemas)
	db.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = $1`, schema).Scan(&tables)
	if schemas+tables != 0 {
		t.Fatalf("a read-only open created %d schemas and %d tables", schemas, tables)
	}
	// Migrated by a read-write open, it opens read-only.
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := Driver{}.Open(ctx, state.Config{Driver: state.DriverPostgres, DSN: dsn, Spec: "acme", Schema: schema}, state.ReadOnly)
	if err != nil {
		t.Fatalf("read-only open of a migrated state: %v", err)
	}
	s.Close()
}

// applink's tables, goose's and River's all go in the state's schema,
// none elsewhere; a state whose tables are in the legacy schema (public)
// moves there whole, its rows and queued jobs kept, and works on.
func TestSchemaPlacementAndMigrationFromPublic(t *testing.T) {
	ctx := context.Background()
	dsn, legacy := statetest.Schema(t)
	_, schema := statetest.Schema(t)
	old := legacySchema
	legacySchema = legacy // the shared test database's public is not ours to move
	t.Cleanup(func() { legacySchema = old })

	// A state as the build before the schema option left it: migration 1,
	// River's tables beside, a queued run.
	db, err := Connect(ctx, dsn, Options{Schema: legacy, Jobs: testJobs})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.migrate(ctx, 1); err != nil {
		t.Fatal(err)
	}
	db.mu.Lock()
	db.migrated = true // as far as the old build went
	db.mu.Unlock()
	if _, err := db.pool.Exec(ctx, `ALTER TABLE applink_ledger ADD COLUMN attempt integer, ADD COLUMN next_try timestamptz,
		ADD COLUMN media_type text, ADD COLUMN media_size bigint, ADD COLUMN media_sha256 text;
		CREATE TABLE applink_specs (spec text PRIMARY KEY, epoch bigint NOT NULL, host text NOT NULL, pid integer NOT NULL, since timestamptz NOT NULL)`); err != nil {
		t.Fatal(err) // what this build's commit writes; dropped again below
	}
	if err := commitRun(t, db.Store("acme", 0), "r1", 3, true); err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, `ALTER TABLE applink_ledger DROP COLUMN attempt, DROP COLUMN next_try, DROP COLUMN media_type,
		DROP COLUMN media_size, DROP COLUMN media_sha256; DROP TABLE applink_specs`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s := openStore(t, dsn, "acme", Options{Schema: schema, Jobs: testJobs})
	var inLegacy int
	s.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = $1`, legacy).Scan(&inLegacy)
	if inLegacy != 0 {
		t.Errorf("%d tables left in the legacy schema", inLegacy)
	}
	for _, table := range []string{"applink_ledger", "applink_runs", "applink_specs", "goose_db_version", "river_job", "river_migration", "river_queue"} {
		if n := count(t, s, `SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = $2`, schema, table); n != 1 {
			t.Errorf("%s is not in schema %s", table, schema)
		}
	}
	if v, err := s.Version(ctx); err != nil || v != 2 {
		t.Errorf("version %d %v after the move", v, err)
	}
	if n := count(t, s, `SELECT count(*) FROM applink_ledger WHERE state = 'queued'`); n != 3 {
		t.Errorf("%d queued rows moved, want 3", n)
	}
	// River works on in the new schema: another run enqueues beside the moved jobs.
	if err := commitRun(t, s, "r2", 2, true); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM river_job`); n != 5 {
		t.Errorf("%d jobs, want 5", n)
	}
}

// A takeover advances the spec's epoch: a commit under the old one fails
// with ErrFenced and commits nothing (no row, no job, no run); under the
// new one it commits. A store without an epoch commits under the epoch of
// its Begin, so a takeover in between fences it too.
func TestFencingRefusesAStaleEpoch(t *testing.T) {
	ctx := context.Background()
	dsn := statetest.DSN(t)
	s := openStore(t, dsn, "acme", Options{Jobs: testJobs})
	db := s.DB()
	h1, err := db.Takeover(ctx, "acme", state.Holder{Host: "a", PID: 1})
	if err != nil || h1.Epoch != 1 {
		t.Fatalf("first takeover %+v %v", h1, err)
	}
	h2, err := db.Takeover(ctx, "acme", state.Holder{Host: "b", PID: 2})
	if err != nil || h2.Epoch != 2 {
		t.Fatalf("second takeover %+v %v", h2, err)
	}
	if h, err := db.Holder(ctx, "acme"); err != nil || h.Host != "b" || h.PID != 2 || h.Epoch != 2 || h.Since.IsZero() {
		t.Errorf("holder %+v %v", h, err)
	}
	err = commitRun(t, db.Store("acme", h1.Epoch), "stale", 3, true)
	var fenced *state.FencedError
	if !errors.Is(err, state.ErrFenced) || !errors.As(err, &fenced) || fenced.Holder.Host != "b" || fenced.Holder.PID != 2 || fenced.Epoch != 1 {
		t.Fatalf("commit under a stale epoch: %v", err)
	}
	if n := count(t, s, `SELECT (SELECT count(*) FROM applink_ledger) + (SELECT count(*) FROM river_job) + (SELECT count(*) FROM applink_runs)`); n != 0 {
		t.Fatalf("a fenced commit left %d rows", n)
	}
	if err := commitRun(t, db.Store("acme", h2.Epoch), "current", 3, true); err != nil {
		t.Fatalf("commit under the current epoch: %v", err)
	}
	// No epoch given: the one current at Begin.
	l, err := s.Begin("raced", "spec", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Row(connector.LedgerRow{Entity: "call", ID: "raced", State: "imported"}, 2, false)
	if _, err := db.Takeover(ctx, "acme", state.Holder{Host: "c", PID: 3}); err != nil {
		t.Fatal(err)
	}
	if err := l.Commit(ctx, &engine.RunRecord{RunID: "raced", Started: time.Now()}); !errors.Is(err, state.ErrFenced) {
		t.Fatalf("commit begun before a takeover: %v", err)
	}
	// Another spec is not fenced by this one's takeovers.
	if err := commitRun(t, db.Store("globex", 0), "g1", 1, false); err != nil {
		t.Fatal(err)
	}
}

// A batch of outcomes settles in one statement; settling it again changes
// and counts nothing; a retry moves forward only; a failed row's
// fingerprint becomes 0 (the next run resends the call).
func TestSettleIsIdempotent(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, statetest.DSN(t), "acme", Options{Jobs: testJobs})
	if err := commitRun(t, s, "r1", 3, true); err != nil {
		t.Fatal(err)
	}
	key := func(i int) int64 { return int64(state.RowKey("call", fmt.Sprintf("r1-c%d", i))) }
	next := time.Now().Add(time.Minute).Truncate(time.Microsecond)
	batch := []state.Outcome{
		{Spec: "acme", Key: key(0), FP: 2, State: connector.StateImported, Reason: "agent_unmapped",
			Media: &connector.MediaSent{ContentType: "audio/wav", Size: 10, SHA256: "00ff"}},
		{Spec: "acme", Key: key(1), FP: 4, State: connector.StateFailed, Failure: &connector.Failure{Code: "http_422", Detail: "bad", Permanent: true}, Attempt: 1},
		{Spec: "acme", Key: key(2), FP: 6, State: state.StateRetrying, Failure: &connector.Failure{Code: "http_503", Detail: "later"}, Attempt: 1, NextTry: next},
	}
	type counts struct{ imported, failed, retrying int64 }
	var applied []bool
	settle := func(outs ...state.Outcome) counts {
		t.Helper()
		n, err := s.DB().Settle(ctx, outs)
		if err != nil {
			t.Fatal(err)
		}
		applied = n.Applied
		return counts{n.Imported, n.Failed, n.Retrying}
	}
	refs := []state.JobRef{{Spec: "acme", Key: key(0), FP: 2}, {Spec: "acme", Key: key(1), FP: 4}, {Spec: "acme", Key: key(2), FP: 6}, {Spec: "acme", Key: key(2), FP: 8}, {Spec: "globex", Key: key(0), FP: 2}}
	if p, err := s.DB().PendingMany(ctx, refs); err != nil || fmt.Sprint(p) != "[true true true false false]" {
		t.Fatalf("pending before settling %v %v", p, err)
	}
	if n := settle(batch...); n != (counts{1, 1, 1}) || fmt.Sprint(applied) != "[true true true]" {
		t.Fatalf("first settle %+v %v", n, applied)
	}
	if p, err := s.DB().PendingMany(ctx, refs); err != nil || fmt.Sprint(p) != "[false false true false false]" {
		t.Fatalf("pending after settling %v %v", p, err)
	}
	if rr, err := s.DB().RetryReasons(ctx); err != nil || rr["acme"]["http_503"] != 1 || len(rr) != 1 {
		t.Errorf("retry reasons %v %v", rr, err)
	}
	ledger := func() map[string]state.LedgerRow {
		out := map[string]state.LedgerRow{}
		s.Ledger(ctx, func(r state.LedgerRow) error { out[r.ID] = r; return nil })
		return out
	}
	before := ledger()
	if n := settle(batch...); n != (counts{}) || fmt.Sprint(applied) != "[false false false]" {
		t.Fatalf("settling again counted %+v %v", n, applied)
	}
	after := ledger()
	for id, r := range before {
		a := after[id]
		if a.State != r.State || a.Reason != r.Reason || a.FP != r.FP || a.Attempt != r.Attempt || a.Media != r.Media {
			t.Errorf("%s changed by a repeated settle: %+v → %+v", id, r, a)
		}
	}
	if r := after["r1-c0"]; r.State != "imported" || r.Reason != "agent_unmapped" || r.FP != 2 || r.Media.SHA256 != "00ff" || r.Media.Size != 10 {
		t.Errorf("imported %+v", r)
	}
	if r := after["r1-c1"]; r.State != "failed" || r.Reason != "http_422" || r.Detail != "bad" || r.FP != 0 {
		t.Errorf("failed %+v", r)
	}
	if r := after["r1-c2"]; r.State != "retrying" || r.Reason != "http_503" || r.Attempt != 1 || r.NextTry == nil || !r.NextTry.Equal(next) {
		t.Errorf("retrying %+v", r)
	}
	if q, _ := s.Queue(ctx); q.Queued != 0 || q.Retrying != 1 || q.Failed != 1 || q.Oldest.IsZero() {
		t.Errorf("queue %+v", q)
	}
	retry := batch[2]
	retry.Attempt = 2
	if n := settle(retry); n.retrying != 1 {
		t.Errorf("the next attempt's retry %+v", n)
	}
	if n := settle(batch[2]); n != (counts{}) {
		t.Errorf("an older attempt's retry counted %+v", n)
	}
	done := state.Outcome{Spec: "acme", Key: key(2), FP: 6, State: connector.StateImported}
	if n := settle(done, done); n.imported != 1 || fmt.Sprint(applied) != "[true false]" {
		t.Errorf("imported after retries %+v", n)
	}
	if r := ledger()["r1-c2"]; r.State != "imported" || r.Reason != "" || r.Detail != "" || r.NextTry != nil {
		t.Errorf("imported after retries: %+v", r)
	}
	if q, _ := s.Queue(ctx); q.Queued+q.Retrying != 0 || q.Failed != 1 || !q.Oldest.IsZero() {
		t.Errorf("queue after settling every row %+v", q) // the jobs stay: no worker here
	}
}
