package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/state"
	"github.com/applink-dev/applink/engine/workspace"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// fakeWS is a workspace whose runs the test scripts.
type fakeWS struct {
	mu      sync.Mutex
	run     func(ctx context.Context, n int) (*workspace.RunResult, error)
	n       int
	history []state.RunRecord
	onSink  func(connector.Sink)
}

func (f *fakeWS) Run(ctx context.Context, progress func(engine.Progress)) (*workspace.RunResult, error) {
	f.mu.Lock()
	f.n++
	n := f.n
	f.mu.Unlock()
	progress(engine.Progress{Phase: "calls"})
	return f.run(ctx, n)
}

func (f *fakeWS) Runs(context.Context) ([]state.RunRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.history, nil
}

func (f *fakeWS) LedgerState(context.Context) (string, error) {
	return "unchanged: last committed run R0", nil
}

func (f *fakeWS) runs() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// summary is a committed run's summary: calls imported and excluded.
func summary(id string, imported, excluded, failed int, newest time.Time) *engine.RunRecord {
	s := &engine.RunRecord{RunID: id, NewestImported: newest}
	s.Calls = engine.Tally{Total: imported + excluded + failed, By: map[connector.StateReason]int{}}
	s.Agents = engine.Tally{Total: 2, By: map[connector.StateReason]int{{State: connector.StateImported}: 2}}
	if imported > 0 {
		s.Calls.By[connector.StateReason{State: connector.StateImported}] = imported
	}
	if excluded > 0 {
		s.Calls.By[connector.StateReason{State: connector.StateExcluded, Reason: "too_short"}] = excluded
	}
	if failed > 0 {
		s.Calls.By[connector.StateReason{State: connector.StateFailed, Reason: "http_422"}] = failed
		s.Failed = []connector.LedgerRow{{Entity: "call", ID: "C<9>", State: connector.StateFailed, Reason: "http_422", Detail: "invalid skill"}}
	}
	s.Sent.Calls = imported
	s.SourceRows = s.Calls.Total
	return s
}

func okRun(id string, imported int) func(context.Context, int) (*workspace.RunResult, error) {
	return func(context.Context, int) (*workspace.RunResult, error) {
		return &workspace.RunResult{Summary: summary(id, imported, 1, 0, time.Now().Add(-time.Minute)), Where: "outbox x"}, nil
	}
}

// memLock is an in-process lock shared by several servers: one holder,
// lose() drops it as a dead connection would.
type memLock struct {
	mu     *sync.Mutex
	holder *string
	me     string
	lost   chan struct{}
}

func newMemLocks(names ...string) []*memLock {
	var mu sync.Mutex
	var holder string
	var out []*memLock
	for _, n := range names {
		out = append(out, &memLock{mu: &mu, holder: &holder, me: n})
	}
	return out
}

func (l *memLock) TryLock(context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if *l.holder == l.me {
		return true, nil
	}
	if *l.holder != "" {
		return false, nil
	}
	*l.holder = l.me
	l.lost = make(chan struct{})
	return true, nil
}
func (l *memLock) Lost() <-chan struct{} { l.mu.Lock(); defer l.mu.Unlock(); return l.lost }
func (l *memLock) Holder(context.Context) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return *l.holder
}
func (l *memLock) Unlock() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if *l.holder == l.me {
		*l.holder = ""
	}
	return nil
}
func (l *memLock) String() string { return "mem lock" }
func (l *memLock) lose() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if *l.holder == l.me {
		*l.holder = ""
		close(l.lost)
	}
}

// logBuf is a concurrency-safe log sink.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func newTestServer(t *testing.T, specs []Spec, logs io.Writer) *Server {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	s, err := New(Options{Specs: specs, Listen: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Poll: 10 * time.Millisecond, ProgressEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// start runs the server until the test ends (or stop is called) and
// returns stop, which waits for Run to return.
func start(t *testing.T, s *Server) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				err = errors.New("Run did not return within 10 s of cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestNeverTwoRunsAtOnce: runs slower than the interval never overlap; the
// next starts when the last ends.
func TestNeverTwoRunsAtOnce(t *testing.T) {
	var inRun, maxIn atomic.Int32
	ws := &fakeWS{run: func(ctx context.Context, n int) (*workspace.RunResult, error) {
		cur := inRun.Add(1)
		defer inRun.Add(-1)
		for {
			m := maxIn.Load()
			if cur <= m || maxIn.CompareAndSwap(m, cur) {
				break
			}
		}
		time.Sleep(30 * time.Millisecond)
		return &workspace.RunResult{Summary: summary(fmt.Sprint("R", n), 5, 1, 0, time.Now())}, nil
	}}
	var logs logBuf
	s := newTestServer(t, []Spec{{Name: "acme", Every: 5 * time.Millisecond, Lock: newMemLocks("a")[0], runner: ws}}, &logs)
	s.specs[0].progressEvery = time.Nanosecond // every progress callback logs
	stop := start(t, s)
	waitFor(t, "4 runs", 5*time.Second, func() bool { return ws.runs() >= 4 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if m := maxIn.Load(); m != 1 {
		t.Errorf("%d runs of one spec at once, want 1", m)
	}
	if !strings.Contains(logs.String(), `msg="run progress" spec=acme phase=calls`) {
		t.Errorf("no progress line:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "took longer than the schedule's interval") {
		t.Errorf("no warning that runs outlast the interval:\n%s", logs.String())
	}
}

// TestStandbyTakesOverWhenHolderStops: two servers on one lock; only the
// holder runs; when it stops the standby takes over; their runs never
// overlap.
func TestStandbyTakesOverWhenHolderStops(t *testing.T) {
	locks := newMemLocks("A", "B")
	var mu sync.Mutex
	type span struct {
		who        string
		start, end time.Time
	}
	var spans []span
	mk := func(who string) *fakeWS {
		return &fakeWS{run: func(ctx context.Context, n int) (*workspace.RunResult, error) {
			st := time.Now()
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			spans = append(spans, span{who, st, time.Now()})
			mu.Unlock()
			return &workspace.RunResult{Summary: summary(fmt.Sprint(who, n), 3, 0, 0, time.Now())}, nil
		}}
	}
	a, b := mk("A"), mk("B")
	sa := newTestServer(t, []Spec{{Name: "acme", Every: 10 * time.Millisecond, Lock: locks[0], runner: a}}, nil)
	stopA := start(t, sa)
	waitFor(t, "A's first run", 5*time.Second, func() bool { return a.runs() >= 1 })
	sb := newTestServer(t, []Spec{{Name: "acme", Every: 10 * time.Millisecond, Lock: locks[1], runner: b}}, nil)
	start(t, sb)
	waitFor(t, "B standby", 5*time.Second, func() bool { return sb.specs[0].snapshot().Role == roleStandby })
	waitFor(t, "3 more runs of A", 5*time.Second, func() bool { return a.runs() >= 4 })
	if b.runs() != 0 {
		t.Fatalf("the standby ran %d times while A held the lock", b.runs())
	}
	rec := httptest.NewRecorder()
	sb.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "standby: run by A") {
		t.Errorf("standby /readyz: %d %q", rec.Code, rec.Body.String())
	}
	if err := stopA(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B to take over", 5*time.Second, func() bool { return b.runs() >= 2 })
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(spans); i++ {
		if spans[i].start.Before(spans[i-1].end) {
			t.Errorf("runs overlap: %s %v–%v and %s %v–%v", spans[i-1].who, spans[i-1].start, spans[i-1].end, spans[i].who, spans[i].start, spans[i].end)
		}
		if spans[i].who == "A" && spans[i-1].who == "B" {
			t.Errorf("A ran after B took over")
		}
		if spans[i].who == "B" && spans[i-1].who == "A" {
			if gap, grace := spans[i].start.Sub(spans[i-1].end), sb.specs[0].takeoverGrace(); gap < grace {
				t.Errorf("B ran %s after A's last run, before the takeover grace of %s", gap, grace)
			}
		}
	}
}

// TestLockLostStopsTheRun: a holder whose lock is lost mid-run stops it
// (interrupted, nothing committed) and waits as a standby until it can take
// the lock again.
func TestLockLostStopsTheRun(t *testing.T) {
	locks := newMemLocks("A", "other")
	entered := make(chan struct{}, 1)
	ws := &fakeWS{run: func(ctx context.Context, n int) (*workspace.RunResult, error) {
		if n == 1 {
			entered <- struct{}{}
			<-ctx.Done() // a long run, stopped at its next batch boundary
			return &workspace.RunResult{Summary: &engine.RunRecord{RunID: "R1"}}, engine.ErrInterrupted
		}
		return &workspace.RunResult{Summary: summary("R2", 1, 0, 0, time.Now())}, nil
	}}
	var logs logBuf
	s := newTestServer(t, []Spec{{Name: "acme", Every: time.Hour, Lock: locks[0], runner: ws}}, &logs)
	start(t, s)
	<-entered
	// Another process takes the lock as soon as it is lost.
	locks[0].lose()
	if ok, _ := locks[1].TryLock(context.Background()); !ok {
		t.Fatal("the other process could not take the lost lock")
	}
	waitFor(t, "the run to stop", 5*time.Second, func() bool {
		st := s.specs[0].snapshot()
		return len(st.Runs) == 1 && !st.Running
	})
	st := s.specs[0].snapshot()
	if st.Runs[0].Outcome != OutcomeInterrupted {
		t.Errorf("outcome %s, want interrupted", st.Runs[0].Outcome)
	}
	waitFor(t, "standby", time.Second, func() bool { return s.specs[0].snapshot().Role == roleStandby })
	for _, want := range []string{"lock lost", "why=\"lock lost\"", "state=\"unchanged: last committed run R0\""} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	// The other process stops: this one takes over and runs (its schedule
	// is an hour, but the state's history has no run: now).
	_ = locks[1].Unlock()
	waitFor(t, "the second run", 5*time.Second, func() bool { return ws.runs() >= 2 })
}

// TestStateInUseRetriesAndSaysWhy: a state held by another process (an
// `applink run` on the folder) is retried at the poll interval; /readyz is
// 503 and says why until a run gets through.
func TestStateInUseRetriesAndSaysWhy(t *testing.T) {
	release := make(chan struct{})
	ws := &fakeWS{run: func(ctx context.Context, n int) (*workspace.RunResult, error) {
		select {
		case <-release:
			return &workspace.RunResult{Summary: summary("R", 4, 0, 0, time.Now())}, nil
		default:
			return nil, fmt.Errorf("state x/state.duckdb is %w", state.ErrInUse)
		}
	}}
	s := newTestServer(t, []Spec{{Name: "acme", Every: time.Hour, Lock: newMemLocks("a")[0], runner: ws}}, nil)
	start(t, s)
	waitFor(t, "3 attempts", 5*time.Second, func() bool { return ws.runs() >= 3 })
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "in use by another applink process") {
		t.Errorf("/readyz while the state is in use: %d %q", rec.Code, rec.Body.String())
	}
	close(release)
	waitFor(t, "ready", 5*time.Second, func() bool {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		return rec.Code == 200
	})
}

// TestReadyz: the verdict per spec state.
func TestReadyz(t *testing.T) {
	tests := []struct {
		name  string
		st    status
		ok    bool
		about string
	}{
		{"no run yet", status{Role: roleHolder}, true, "no run yet"},
		{"last ok", status{Role: roleHolder, Runs: []*runView{{Outcome: OutcomeOK}}}, true, "last run ok"},
		{"attention is ready", status{Role: roleHolder, Runs: []*runView{{Outcome: OutcomeAttention}}}, true, "last run attention"},
		{"last failed", status{Role: roleHolder, Runs: []*runView{{Outcome: OutcomeFailed, Err: "open source: no such file"}}}, false, "last run failed"},
		{"failed before an ok", status{Role: roleHolder, Runs: []*runView{{Outcome: OutcomeOK}, {Outcome: OutcomeFailed}}}, true, "last run ok"},
		{"standby", status{Role: roleStandby, Holder: "B"}, true, "standby: run by B"},
		{"lock unreachable", status{Role: roleStandby, LockErr: "connection refused"}, false, "cannot reach its lock"},
		{"state in use", status{Role: roleHolder, StateErr: "in use"}, false, "state not reachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &specRunner{name: "acme", lock: newMemLocks("a")[0], every: time.Minute, poll: time.Second, st: tt.st}
			ok, why := r.readiness()
			if ok != tt.ok || !strings.Contains(why, tt.about) {
				t.Errorf("readiness = %v %q, want %v and %q", ok, why, tt.ok, tt.about)
			}
		})
	}
}

// countingSink reports counters as a sink rewritten for serve would.
type countingSink struct {
	engine.Discard
	req, retry, fail atomic.Int64
}

func (c *countingSink) SinkCounters() (int64, int64, int64) {
	return c.req.Load(), c.retry.Load(), c.fail.Load()
}

type fakeQueue struct{}

func (fakeQueue) QueueDepth(context.Context) (int64, int64, error) { return 7, 2, nil }

// TestMetricsAndStatusPage scrapes /metrics (parsed with the Prometheus
// text parser) and renders the page after two runs.
func TestMetricsAndStatusPage(t *testing.T) {
	newest := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	now := newest.Add(90 * time.Second)
	var r *specRunner
	ws := &fakeWS{run: func(ctx context.Context, n int) (*workspace.RunResult, error) {
		sink := &countingSink{} // a sink per run, as workspace opens them
		r.sinkOpened(sink)
		sink.req.Add(10)
		sink.retry.Add(2)
		sink.fail.Add(int64(n - 1))
		if n == 1 {
			return &workspace.RunResult{Summary: summary("R1", 8, 3, 0, newest.Add(-time.Hour))}, nil
		}
		return &workspace.RunResult{Summary: summary("R2", 9, 3, 1, newest)}, nil
	}}
	s, err := New(Options{Specs: []Spec{{Name: "specs/acme", Every: time.Millisecond, Lock: newMemLocks("a")[0], runner: ws, Queue: fakeQueue{},
		Info: SpecInfo{Customer: "acme", Tenant: "acme-eu1", State: "x/state.duckdb", SentTo: "outbox x"}}},
		Poll: time.Millisecond, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	r = s.specs[0]
	ctx, cancel := context.WithCancel(context.Background())
	r.lock.TryLock(ctx)
	r.st.Role = roleHolder
	r.runOnce(ctx, nil)
	r.runOnce(ctx, nil)
	cancel()

	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	get := func(name string, labels map[string]string) float64 {
		t.Helper()
		f := fams[name]
		if f == nil {
			t.Fatalf("no metric %s", name)
		}
	next:
		for _, m := range f.Metric {
			for _, lp := range m.Label {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue next
				}
			}
			switch {
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
		t.Fatalf("no %s%v", name, labels)
		return 0
	}
	sp := map[string]string{"spec": "specs/acme"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{"spec": "specs/acme"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"applink_rows", with("entity", "call", "state", "imported", "reason", ""), 9},
		{"applink_rows", with("entity", "call", "state", "excluded", "reason", "too_short"), 3},
		{"applink_rows", with("entity", "call", "state", "failed", "reason", "http_422"), 1},
		{"applink_rows", with("entity", "agent", "state", "imported", "reason", ""), 2},
		{"applink_last_run_problems", with("kind", "failed"), 1},
		{"applink_runs_total", with("outcome", "ok"), 1},
		{"applink_runs_total", with("outcome", "attention"), 1},
		{"applink_run_duration_seconds", sp, 2},
		{"applink_sent_total", with("entity", "call"), 17},
		{"applink_lag_seconds", sp, 90},
		{"applink_sink_requests_total", sp, 20},
		{"applink_sink_retries_total", sp, 4},
		{"applink_sink_failures_total", sp, 1},
		{"applink_queue_depth", with("state", "queued"), 7},
		{"applink_queue_depth", with("state", "in_flight"), 2},
	}
	for _, c := range checks {
		if got := get(c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// The first run's rows are gone: only the last committed run's remain.
	n := 0
	for _, m := range fams["applink_rows"].Metric {
		n++
		_ = m
	}
	if n != 4 {
		t.Errorf("%d applink_rows series, want the last run's 4", n)
	}
	if typ := fams["applink_lag_seconds"].GetType(); typ.String() != "GAUGE" {
		t.Errorf("lag type %s", typ)
	}

	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	page := rec.Body.String()
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("status page: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	for _, want := range []string{
		`data-k="calls.imported">9<`, `data-k="calls.excluded">3<`, `data-k="calls.failed">1<`, `data-k="calls.sent">9<`,
		`data-k="run_id">R2<`, `data-k="lag">1m30s`, "7 queued, 2 in flight", "C&lt;9&gt;", "invalid skill",
		`data-run="R1"`, `data-run="R2"`, "acme-eu1",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(strings.ToLower(page), "<script") {
		t.Error("the status page has a script")
	}

	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 || rec.Body.String() != "ok\n" {
		t.Errorf("/healthz: %d %q", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/nope", nil))
	if rec.Code != 404 {
		t.Errorf("/nope: %d", rec.Code)
	}
}

// TestHistoryFromState: a serve that starts (or takes over) shows the
// runs already committed, and schedules the next run an interval after the
// last one started.
func TestHistoryFromState(t *testing.T) {
	started := time.Now().Add(-time.Minute).UTC()
	// The record as version 0 stored it, read as the state reads it.
	stored, err := engine.DecodeRunRecord([]byte(`{"agents":{"imported/":2},"calls":{"imported/":5,"imported/agent_unmapped":1,"excluded/too_short":2,"failed/http_500":1},
		"sent":{"Agents":2,"Calls":6},"source_rows":9,"problems":{"failed":1,"unreadable":0,"bd_without_call":0},
		"failed":[{"Entity":"call","ID":"C1","State":"failed","Reason":"http_500","Detail":"boom"}],
		"newest_imported":"2026-11-03T10:00:00Z"}`), started)
	if err != nil {
		t.Fatal(err)
	}
	rec := state.RunRecord{RunID: "R7", Kind: "run", Started: started, Ended: started.Add(time.Second), Record: stored}
	ws := &fakeWS{history: []state.RunRecord{{RunID: "P", Kind: "purge", Event: &engine.EventRecord{}}, rec}, run: okRun("R8", 1)}
	s := newTestServer(t, []Spec{{Name: "acme", Every: time.Hour, Lock: newMemLocks("a")[0], runner: ws}}, nil)
	r := s.specs[0]
	if !r.acquire(context.Background()) {
		t.Fatal("no lock")
	}
	st := r.snapshot()
	if c := st.Committed; c == nil || c.RunID != "R7" || c.Calls != (tally{Total: 9, Imported: 6, Excluded: 2, Failed: 1}) || c.Outcome != OutcomeAttention ||
		!c.NewestImported.Equal(time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)) || len(c.Failed) != 1 {
		t.Errorf("committed run from the state = %+v", st.Committed)
	}
	if len(st.Runs) != 1 {
		t.Errorf("%d runs, want R7 only (the purge is not a run)", len(st.Runs))
	}
	if want := started.Add(time.Hour); !st.Next.Equal(want) {
		t.Errorf("next run %v, want %v (an interval after the last run started)", st.Next, want)
	}
}

func TestNewRefusesBadSpecs(t *testing.T) {
	lock := func(p string) Lock { return NewFileLock(filepath.Join(t.TempDir(), p)) }
	ws := &fakeWS{}
	tests := []struct {
		name  string
		specs []Spec
		want  string
	}{
		{"none", nil, "no spec"},
		{"twice", []Spec{{Name: "a", Every: 1, Lock: lock("1"), runner: ws}, {Name: "a", Every: 1, Lock: lock("2"), runner: ws}}, "given twice"},
		{"no schedule", []Spec{{Name: "a", Lock: lock("1"), runner: ws}}, "no schedule"},
		{"same lock", []Spec{{Name: "a", Every: 1, Lock: newMemLocks("x")[0], runner: ws}, {Name: "b", Every: 1, Lock: newMemLocks("y")[0], runner: ws}}, "are one spec"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Options{Specs: tt.specs})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want %q", err, tt.want)
			}
		})
	}
}

// TestFileLock: one holder per file across open files (as across
// processes); closing releases it; the holder's name is readable.
func TestFileLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".applink", "serve.lock")
	a, b := NewFileLock(path), NewFileLock(path)
	ctx := context.Background()
	if ok, err := a.TryLock(ctx); !ok || err != nil {
		t.Fatalf("a: %v %v", ok, err)
	}
	if ok, err := b.TryLock(ctx); ok || err != nil {
		t.Fatalf("b while a holds it: %v %v", ok, err)
	}
	if h := b.Holder(ctx); !strings.Contains(h, "applink serve on") {
		t.Errorf("holder %q", h)
	}
	if a.Lost() != nil {
		t.Error("a file lock cannot be lost")
	}
	if err := a.Unlock(); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.TryLock(ctx); !ok || err != nil {
		t.Fatalf("b after a released: %v %v", ok, err)
	}
	_ = b.Unlock()
}

func TestHumanDur(t *testing.T) {
	for d, want := range map[time.Duration]string{
		1500 * time.Microsecond:        "2ms",
		90 * time.Second:               "1m30s",
		3*time.Hour + 20*time.Second:   "3h0m0s",
		605*time.Hour + 33*time.Minute: "25d 5h",
		48 * time.Hour:                 "2d 0h",
	} {
		if got := humanDur(d); got != want {
			t.Errorf("humanDur(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestLockKey(t *testing.T) {
	k := LockKey("acme", "acme-eu1", "engage-acme")
	if k != LockKey("acme", "acme-eu1", "engage-acme") {
		t.Error("not stable")
	}
	for _, other := range [][3]string{{"acme2", "acme-eu1", "engage-acme"}, {"acme", "acme-eu2", "engage-acme"}, {"acme", "acme-eu1", "engage-x"}, {"acmeacme-eu1", "", "engage-acme"}} {
		if LockKey(other[0], other[1], other[2]) == k {
			t.Errorf("%v has the same key", other)
		}
	}
}

// TestStatusPageStates renders the page for each state a spec can be in.
func TestStatusPageStates(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 5, 0, 0, 0, time.UTC)
	failed := &runView{RunID: "R3", Started: t0, Ended: t0.Add(time.Second), Outcome: OutcomeFailed, Err: `open source "dc1": no such file`}
	tests := []struct {
		name  string
		st    status
		wants []string
		not   []string
	}{
		{"standby", status{Role: roleStandby, Holder: "applink serve on b pid 7"},
			[]string{"standby</span>", "held by applink serve on b pid 7", "the holder's status page shows", "see the holder&#39;s page"},
			[]string{"No committed run yet", "next run"}},
		{"failed", status{Role: roleHolder, Runs: []*runView{failed}, Next: t0.Add(time.Minute)},
			[]string{"runs here", "badge failed", "open source &#34;dc1&#34;: no such file", "No committed run yet", "next run 2026-11-29 05:01:00 UTC", `data-k="ready">not ready<`},
			nil},
		{"running", status{Role: roleHolder, Running: true, RunSince: t0, Progress: engine.Progress{Phase: "calls", Calls: 1200, Imported: 800}},
			[]string{"badge holder\">running", "calls, 0 agents, 1200 calls read, 800 sent", "No run yet."},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, []Spec{{Name: "acme", Every: time.Minute, Lock: newMemLocks("a")[0], runner: &fakeWS{}}}, nil)
			s.specs[0].st = tt.st
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			page := rec.Body.String()
			for _, w := range tt.wants {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %s", w)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(page, w) {
					t.Errorf("page has %s", w)
				}
			}
			if t.Failed() {
				t.Log(page)
			}
		})
	}
}

type fakeDeliveries struct{ fakeQueue }

func (fakeDeliveries) Deliveries(context.Context) (DeliveryView, error) {
	return DeliveryView{QueueView: QueueView{Queued: 7, Delivering: 2, Retrying: 3, Failed: 1, Oldest: time.Date(2026, 11, 3, 9, 58, 0, 0, time.UTC)},
		RetryReasons: []ReasonCount{{"media_unreadable", 2}, {"http_503", 1}}, FailedReasons: []ReasonCount{{"http_422", 1}}, Done: 40, Known: true}, nil
}

// A spec with a delivery queue gets a delivery panel (queued, in flight,
// retrying with reasons, failed, rate, oldest age) and the queue by state
// and its oldest age in /metrics.
func TestDeliveryPanelAndMetrics(t *testing.T) {
	now := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	s, err := New(Options{Specs: []Spec{{Name: "specs/acme", Every: time.Hour, Lock: newMemLocks("a")[0], runner: &fakeWS{}, Queue: fakeDeliveries{}}},
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	page := rec.Body.String()
	for _, want := range []string{`data-k="delivery.queued">7<`, `data-k="delivery.delivering">2<`, `data-k="delivery.retrying">3<`,
		`data-k="delivery.failed">1<`, `data-k="delivery.retry_reasons">media_unreadable 2, http_503 1<`, `data-k="delivery.failed_reasons">http_422 1<`,
		`data-k="delivery.oldest">2m0s (queued 2026-11-03 09:58:00 UTC)<`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{`applink_queue{spec="specs/acme",state="retrying"} 3`, `applink_queue{spec="specs/acme",state="failed"} 1`,
		`applink_queue{spec="specs/acme",state="queued"} 7`, `applink_queue_oldest_age_seconds{spec="specs/acme"}`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestRunLogSaysQueued: a run that queued its calls for the delivery
// workers logs them queued, never imported, with the same numbers as its
// record (issue 19: the log said imported for calls it only queued).
func TestRunLogSaysQueued(t *testing.T) {
	sum := summary("RQ", 0, 1, 0, time.Time{})
	sum.Calls.Total += 7
	sum.Calls.By[connector.StateReason{State: connector.StateQueued}] = 7
	sum.SourceRows, sum.Sent.Calls, sum.Delivery.Queued = sum.Calls.Total, 7, 7
	ws := &fakeWS{run: func(context.Context, int) (*workspace.RunResult, error) {
		return &workspace.RunResult{Summary: sum, Where: "outbox x (calls queued for the delivery workers)"}, nil
	}}
	var logs logBuf
	s := newTestServer(t, []Spec{{Name: "acme", Every: time.Hour, Lock: newMemLocks("a")[0], runner: ws}}, &logs)
	stop := start(t, s)
	waitFor(t, "a run", 5*time.Second, func() bool { return strings.Contains(logs.String(), `msg="run finished"`) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if want := "calls.total=8 calls.imported=0 calls.queued=7 calls.excluded=1 calls.failed=0 sent.agents=0 sent.calls=7"; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logs.String())
	}
}

// Taking the lock records the takeover (the state's fencing epoch) before
// the first run; when that fails the lock is given back and no run starts
// until it succeeds.
func TestTakeoverBeforeTheFirstRun(t *testing.T) {
	var calls atomic.Int64
	var runs atomic.Int64
	ws := &fakeWS{run: func(context.Context, int) (*workspace.RunResult, error) {
		runs.Add(1)
		return &workspace.RunResult{Summary: summary("R", 1, 0, 0, time.Time{})}, nil
	}}
	lock := newMemLocks("a")[0]
	var logs logBuf
	s := newTestServer(t, []Spec{{Name: "acme", Every: time.Hour, Lock: lock, runner: ws, Takeover: func(context.Context) error {
		if calls.Add(1) < 3 {
			if runs.Load() != 0 {
				t.Error("a run before the takeover was recorded")
			}
			return errors.New("state unreachable")
		}
		return nil
	}}}, &logs)
	stop := start(t, s)
	waitFor(t, "a run", 5*time.Second, func() bool { return runs.Load() == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("takeover called %d times, want 3 (two failures, then the hold)", n)
	}
	if !strings.Contains(logs.String(), "could not record the takeover") {
		t.Errorf("log lacks the failed takeover:\n%s", logs.String())
	}
}
