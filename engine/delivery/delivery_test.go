package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/state"
	"github.com/applink-dev/applink/engine/state/pgstate"
	"github.com/applink-dev/applink/engine/state/statetest"
)

// recorder is the fake sink's memory: what was delivered (committed
// without a failure), and how to misbehave.
type recorder struct {
	mu        sync.Mutex
	delivered map[string]int
	calls     map[string]connector.OutCall
	agents    map[string]string // call -> agent seen before it
	attempts  map[string]int
	refuse    func(callID string, attempt int) *connector.Failure // a RunInfo.Fail reason, or nil
	onCall    func(callID string)
}

func newRecorder() *recorder {
	return &recorder{delivered: map[string]int{}, calls: map[string]connector.OutCall{}, agents: map[string]string{}, attempts: map[string]int{}}
}

func (r *recorder) registry() engine.Registry {
	return engine.Registry{Sinks: []connector.SinkDescriptor{{
		Spec: dsl.Connector{Block: dsl.BlockSink, Name: "fake"},
		Open: func(cfg dsl.Sink, _ io.Writer) (connector.Sink, error) { return &fakeSink{rec: r}, nil },
	}}}
}

func (r *recorder) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.delivered[id]
}

// fakeSink takes one delivery per Open..Commit, as the worker uses a sink.
type fakeSink struct {
	rec     *recorder
	info    connector.RunInfo
	agent   string
	call    *connector.OutCall
	refused bool
}

func (s *fakeSink) Open(_ context.Context, info connector.RunInfo) error { s.info = info; return nil }
func (s *fakeSink) Agent(_ context.Context, a *connector.OutAgent) error {
	s.agent = a.UserID
	return nil
}
func (s *fakeSink) Call(_ context.Context, c *connector.OutCall) error {
	cp := *c
	cp.Values = append([]connector.Value(nil), c.Values...)
	s.call = &cp
	s.rec.mu.Lock()
	s.rec.attempts[c.CallID]++
	n := s.rec.attempts[c.CallID]
	refuse, onCall := s.rec.refuse, s.rec.onCall
	s.rec.mu.Unlock()
	if onCall != nil {
		onCall(c.CallID)
	}
	if refuse != nil {
		if f := refuse(c.CallID, n); f != nil {
			s.info.Fail("call", c.CallID, *f)
			s.refused = true
		}
	}
	return nil
}
func (s *fakeSink) Ledger(context.Context, connector.LedgerRow) error { return nil }
func (s *fakeSink) Commit(context.Context) error {
	if s.call != nil && !s.refused {
		s.rec.mu.Lock()
		s.rec.delivered[s.call.CallID]++
		s.rec.calls[s.call.CallID] = *s.call
		s.rec.agents[s.call.CallID] = s.agent
		s.rec.mu.Unlock()
	}
	return nil
}
func (s *fakeSink) Abort() error { return nil }

var testFields = []dsl.Field{{Type: dsl.TypeText, Name: "Customer"}, {Type: dsl.TypeNumber, Name: "Total"}, {Type: dsl.TypeBoolean, Name: "VIP"}}

// queueCalls commits a run that queued n calls (c0…) to the fake sink, as
// a workspace run with PostgreSQL state does, and returns the store.
func queueCalls(t testing.TB, dsn, runID string, n, attempts int) *pgstate.Store {
	t.Helper()
	ctx := context.Background()
	st, err := pgstate.Open(ctx, dsn, "acme", pgstate.Options{Jobs: Jobs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	led, err := st.Begin(runID, "spec", filepath.Join(t.TempDir(), runID), nil)
	if err != nil {
		t.Fatal(err)
	}
	plan := &engine.Plan{Fields: testFields, Sink: &dsl.Sink{Kind: "fake"}}
	q := Enqueue(led, "acme", NewTarget(plan, ""))
	q.Attempts = attempts
	sink := q.Sink(engine.Discard{})
	ledger := q.Ledger(led)
	sink.Open(ctx, connector.RunInfo{Fields: testFields})
	sink.Agent(ctx, &connector.OutAgent{UserID: "u1", Email: "a@example.com", AgentIDs: []string{"a1"}})
	sum := &engine.RunRecord{RunID: runID, Started: time.Now()}
	for i := range n {
		id := fmt.Sprintf("c%d", i)
		c := &connector.OutCall{CallID: id, SystemID: "engage-acme", AgentUserID: "u1", StartTime: time.Date(2026, 11, 2, 9, 0, i, 0, time.UTC),
			DurationMS: 61000, Direction: "in", ANI: "+1555", DNIS: "100", Media: "m/" + id + ".wav", MediaFile: "/media/m/" + id + ".wav",
			Values: []connector.Value{{Field: 0, Text: []byte("Ann, \"A\"")}, {Field: 1, Number: math.Inf(1)}, {Field: 2, Bool: true}}}
		if err := sink.Call(ctx, c); err != nil {
			t.Fatal(err)
		}
		row := connector.LedgerRow{Entity: "call", ID: id, State: connector.StateImported}
		sink.Ledger(ctx, row)
		if err := ledger.Row(row, uint64(2*i+2), false); err != nil {
			t.Fatal(err)
		}
		// The run counts the calls it queued (engine.Options.Queue).
		sum.Calls.By = map[connector.StateReason]int{{State: connector.StateQueued}: i + 1}
	}
	sum.Delivery.Queued = n
	if err := ledger.Commit(ctx, sum); err != nil {
		t.Fatal(err)
	}
	// The commit leaves the run's counts as they are.
	if got, imp := sum.Calls.By[connector.StateReason{State: connector.StateQueued}], sum.Calls.Count(connector.StateImported); got != n || imp != 0 {
		t.Fatalf("summary counts %d queued and %d imported, want %d and 0", got, imp, n)
	}
	return st
}

// startWorker runs a worker process's loop in the background until the
// test ends.
func startWorker(t testing.TB, cfg Config) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	started := make(chan struct{})
	cfg.Started = func() { close(started) }
	if cfg.PollEvery == 0 {
		cfg.PollEvery = 50 * time.Millisecond
	}
	go func() { done <- Run(ctx, cfg) }()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("worker: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})
}

// waitSettled waits until no row of the spec is queued and no job is open.
func waitSettled(t testing.TB, st *pgstate.Store, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		q, err := st.Queue(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !q.Open() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still open after %s: %+v", within, q)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ledgerOf(t testing.TB, st *pgstate.Store) map[string]state.LedgerRow {
	t.Helper()
	out := map[string]state.LedgerRow{}
	if err := st.Ledger(context.Background(), func(r state.LedgerRow) error { out[r.ID] = r; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func jobStates(t testing.TB, st *pgstate.Store) map[string]int {
	t.Helper()
	rows, err := st.Pool().Query(context.Background(), `SELECT state, count(*) FROM river_job GROUP BY state`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		rows.Scan(&s, &n)
		out[s] = n
	}
	return out
}

// Two worker processes deliver every queued call exactly once, intact,
// with its agent; every job ends completed and every row imported with
// its fingerprint kept (the next run sees it unchanged).
func TestWorkersDeliverEveryCallOnce(t *testing.T) {
	dsn := statetest.DSN(t)
	const n = 40
	st := queueCalls(t, dsn, "r1", n, 3)
	if q, _ := st.Queue(context.Background()); q.Queued != n || q.Waiting != n {
		t.Fatalf("queue before the workers: %+v", q)
	}
	rec := newRecorder()
	startWorker(t, Config{DSN: dsn, Registry: rec.registry(), Concurrency: 3})
	startWorker(t, Config{DSN: dsn, Registry: rec.registry(), Concurrency: 3})
	waitSettled(t, st, 30*time.Second)
	led := ledgerOf(t, st)
	for i := range n {
		id := fmt.Sprintf("c%d", i)
		if got := rec.count(id); got != 1 {
			t.Errorf("%s delivered %d times", id, got)
		}
		if r := led[id]; r.State != connector.StateImported || r.FP != uint64(2*i+2) {
			t.Errorf("%s: ledger %+v", id, r)
		}
	}
	c := rec.calls["c7"]
	if string(c.Values[0].Text) != "Ann, \"A\"" || !math.IsInf(c.Values[1].Number, 1) || !c.Values[2].Bool ||
		c.MediaFile != "/media/m/c7.wav" || c.AgentUserID != "u1" || rec.agents["c7"] != "u1" || c.SystemID != "engage-acme" {
		t.Errorf("delivered call %+v (agent %q)", c, rec.agents["c7"])
	}
	if js := jobStates(t, st); js["completed"] != n || len(js) != 1 {
		t.Errorf("jobs %v", js)
	}
	if d := runDelivery(t, st, "r1"); d != (engine.Delivery{Queued: n, Imported: n}) {
		t.Errorf("the run's record says of its deliveries %+v", d)
	}
}

// runDelivery is what the run history says of a run's deliveries now.
func runDelivery(t *testing.T, st *pgstate.Store, runID string) engine.Delivery {
	t.Helper()
	runs, err := st.Runs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.RunID == runID && r.Record != nil {
			return r.Record.Delivery
		}
	}
	t.Fatalf("no run %s in the history", runID)
	return engine.Delivery{}
}

// A refusal no retry can cure ends the row failed with the sink's reason
// at once; one that may pass is retried by River until the last attempt,
// then ends failed too. Neither stays queued; both jobs are completed.
func TestFailingDeliveriesEndFailedWithTheirReason(t *testing.T) {
	dsn := statetest.DSN(t)
	st := queueCalls(t, dsn, "r1", 3, 2)
	rec := newRecorder()
	rec.refuse = func(id string, attempt int) *connector.Failure {
		switch id {
		case "c0":
			return &connector.Failure{Code: "http_422", Detail: "invalid skill", Permanent: true}
		case "c1":
			return &connector.Failure{Code: "http_503", Detail: "unavailable"}
		case "c2":
			if attempt == 1 {
				return &connector.Failure{Code: "http_429", Detail: "slow down"}
			}
		}
		return nil
	}
	startWorker(t, Config{DSN: dsn, Registry: rec.registry()})
	waitSettled(t, st, 40*time.Second)
	led := ledgerOf(t, st)
	if r := led["c0"]; r.State != "failed" || r.Reason != "http_422" || r.Detail != "invalid skill" || r.FP != 0 {
		t.Errorf("permanent refusal: %+v", r)
	}
	if r := led["c1"]; r.State != "failed" || r.Reason != "http_503" || r.Detail != "unavailable" {
		t.Errorf("refused on every attempt: %+v", r)
	}
	if r := led["c2"]; r.State != "imported" || rec.count("c2") != 1 {
		t.Errorf("refused once, then accepted: %+v, delivered %d", r, rec.count("c2"))
	}
	rec.mu.Lock()
	attempts := map[string]int{"c0": rec.attempts["c0"], "c1": rec.attempts["c1"], "c2": rec.attempts["c2"]}
	rec.mu.Unlock()
	if attempts["c0"] != 1 || attempts["c1"] != 2 || attempts["c2"] != 2 {
		t.Errorf("attempts %v, want c0 1 (no retry), c1 2 (all), c2 2", attempts)
	}
	if js := jobStates(t, st); js["completed"] != 3 {
		t.Errorf("jobs %v", js)
	}
	if q, err := st.Queue(context.Background()); err != nil || q.Open() || q.Failed != 2 {
		t.Errorf("queue after settling: %+v %v", q, err)
	}
	if d := runDelivery(t, st, "r1"); d != (engine.Delivery{Queued: 3, Imported: 1, Failed: 2}) {
		t.Errorf("the run's record says of its deliveries %+v", d)
	}
}

// A worker killed after settling its row but before River completed the
// job sends nothing twice: the job is worked again, finds its row settled
// and completes without a delivery.
func TestRedeliveryAfterSettleSendsNothing(t *testing.T) {
	dsn := statetest.DSN(t)
	st := queueCalls(t, dsn, "r1", 1, 3)
	var raw []byte
	if err := st.Pool().QueryRow(context.Background(), `SELECT args FROM river_job`).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	var a Args
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatal(err)
	}
	w := NewWorker(st.DB(), engine.Registry{}, nil)
	defer w.Close()
	if _, err := w.settler.do(context.Background(), settlement{row: rowRef{spec: a.Spec, key: a.Key, fp: a.FP}, out: outcome{ok: true}}); err != nil {
		t.Fatal(err)
	}
	if r := ledgerOf(t, st)["c0"]; r.State != connector.StateImported || r.FP != uint64(a.FP) {
		t.Fatalf("settled row %+v", r)
	}
	rec := newRecorder()
	startWorker(t, Config{DSN: dsn, Registry: rec.registry()})
	waitSettled(t, st, 30*time.Second)
	if n := rec.count("c0"); n != 0 {
		t.Errorf("a settled call was delivered again %d times", n)
	}
	if js := jobStates(t, st); js["completed"] != 1 {
		t.Errorf("jobs %v", js)
	}
}

// A job River discarded without the worker settling its row (a worker
// killed on the last attempt) is swept to failed, not left queued.
func TestSweepFailsAbandonedRows(t *testing.T) {
	dsn := statetest.DSN(t)
	st := queueCalls(t, dsn, "r1", 2, 3)
	ctx := context.Background()
	if _, err := st.Pool().Exec(ctx, `UPDATE river_job SET state = 'discarded', attempt = 3, finalized_at = now() WHERE args->>'call' LIKE '%"c1"%'`); err != nil {
		t.Fatal(err)
	}
	n, err := st.DB().Sweep(ctx)
	if err != nil || n != 1 {
		t.Fatalf("swept %d rows, %v", n, err)
	}
	led := ledgerOf(t, st)
	if r := led["c1"]; r.State != "failed" || r.Reason != "delivery_abandoned" || r.Detail != "the delivery job was discarded after 3 attempts" {
		t.Errorf("abandoned row %+v", r)
	}
	if led["c0"].State != connector.StateQueued {
		t.Errorf("an open job's row was swept: %+v", led["c0"])
	}
}

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helperWorker())
	}
	os.Exit(m.Run())
}

// A queued call's media path is absolute: a worker started in another
// folder (or machine, with the media store mounted at the same path) finds
// the file; the outbox's media field stays the source's path.
func TestQueuedMediaPathIsAbsolute(t *testing.T) {
	rel := filepath.Join("media", "c1.wav")
	plan := &engine.Plan{Fields: testFields, Sink: &dsl.Sink{Kind: "fake"}}
	led, err := state.NewRunLedger(func(context.Context, *state.ChangeSet) error { return nil }, true, "r1", "spec", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer led.Abort()
	q := Enqueue(led, "acme", NewTarget(plan, ""))
	s := q.Sink(engine.Discard{})
	if err := s.Call(context.Background(), &connector.OutCall{CallID: "c1", Media: "m/c1.wav", MediaFile: rel}); err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.Abs(rel)
	if got := q.pending.Call.MediaFile; got != want || !filepath.IsAbs(got) {
		t.Errorf("queued media file %q, want %q", got, want)
	}
	if got := q.pending.Call.Media; got != "m/c1.wav" {
		t.Errorf("media %q changed", got)
	}
}
