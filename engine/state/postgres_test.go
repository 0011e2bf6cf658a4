package state

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/state/statetest"
)

// Several specs share one database: each sees only its own rows.
func TestSpecsShareADatabase(t *testing.T) {
	ctx := context.Background()
	dsn := statetest.DSN(t)
	dir := t.TempDir()
	open := func(spec string) *PGStore {
		s, err := OpenPostgres(ctx, dsn, spec)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open("acme"), open("globex")
	for _, s := range []*PGStore{a, b} {
		l, _ := s.Begin("r1", "spec", filepath.Join(dir, s.Spec()), nil)
		l.Row(engine.LedgerRow{Entity: "call", ID: "c1", State: "imported"}, 2, false)
		l.Row(engine.LedgerRow{Entity: "call", ID: s.Spec() + "-only", State: "imported"}, 4, false)
		sum := &engine.Summary{RunID: "r1", Started: time.Now(), Watermarks: map[string]engine.Watermark{"dc1": {CallID: s.Spec()}}}
		if err := l.Commit(ctx, sum); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []*PGStore{a, b} {
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

// A run's deliveries are River jobs inserted in the commit's transaction:
// an aborted run enqueues nothing; a committed one, every job; the DuckDB
// state refuses them.
func TestDeliveriesEnqueuedWithTheCommit(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	duck, err := Open(ctx, filepath.Join(dir, "state.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer duck.Close()
	dl, _ := duck.Begin("r0", "spec", filepath.Join(dir, "r0"), nil)
	if dl.Queues() || !errors.Is(dl.Enqueue([]byte(`{}`)), ErrNoQueue) {
		t.Error("the DuckDB state accepts deliveries")
	}
	dl.Abort()

	s, err := OpenPostgres(ctx, statetest.DSN(t), "acme")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 2500 // more than one insert batch
	run := func(id string, commit bool) {
		l, err := s.Begin(id, "spec", filepath.Join(dir, id), nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			call := fmt.Sprintf("%s-c%d", id, i)
			l.Row(engine.LedgerRow{Entity: "call", ID: call, State: "queued"}, 2, false)
			if err := l.Enqueue(fmt.Appendf(nil, `{"spec":"acme","run_id":%q,"call":{"call_id":%q}}`, id, call)); err != nil {
				t.Fatal(err)
			}
		}
		l.SetTarget([]byte(`{"outbox":"x"}`))
		if !commit {
			l.Abort()
			return
		}
		if err := l.Commit(ctx, &engine.Summary{RunID: id, Started: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	run("aborted", false)
	q, err := s.Queue(ctx)
	if err != nil || q != (QueueStats{}) {
		t.Fatalf("after an aborted run: %+v %v", q, err)
	}
	run("r1", true)
	q, err = s.Queue(ctx)
	if err != nil || q.Queued != n || q.Waiting != n || q.InFlight != 0 {
		t.Fatalf("after a committed run: %+v %v", q, err)
	}
	var target string
	if err := s.Pool().QueryRow(ctx, `SELECT target FROM applink_runs WHERE spec = 'acme' AND run_id = 'r1'`).Scan(&target); err != nil || target != `{"outbox":"x"}` {
		t.Errorf("target %q %v", target, err)
	}
	all, err := s.QueueBySpec(ctx)
	if err != nil || len(all) != 1 || all["acme"] != q {
		t.Errorf("by spec %+v %v", all, err)
	}
	if counts, err := s.LedgerCounts(ctx, ""); err != nil || len(counts) != 1 || counts[0].State != "queued" || counts[0].N != int(n) {
		t.Errorf("ledger counts %+v %v: want %d queued", counts, err, n)
	}
}
