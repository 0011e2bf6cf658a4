package statetest

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/keyset"
	"github.com/applink-dev/applink/engine/state"
)

// The backend suite: what every state.Backend must do, run by each
// driver's tests (as river's riverdrivertest is).

// CommitThenPrior: a commit reads back as the next run's prior, with its
// watermarks, history and details.
func CommitThenPrior(t *testing.T, s state.Backend, dir string) {
	ctx := context.Background()
	idx, err := s.Prior(ctx)
	if err != nil || idx.Len() != 0 {
		t.Fatalf("empty prior: %d %v", idx.Len(), err)
	}
	l, err := s.Begin("r1", "spec", filepath.Join(dir, "staging", "r1"), idx)
	if err != nil {
		t.Fatal(err)
	}
	rows := []connector.LedgerRow{
		{Entity: "agent", ID: "u1", State: "imported"},
		{Entity: "call", ID: "u1", State: "excluded", Reason: "too_short"},
		{Entity: "call", ID: `c,"2"`, State: "failed", Reason: "bad_row", Detail: "calls.csv:3: bad, \"quoted\"\nline"},
	}
	for i, r := range rows {
		// Fingerprints have their low bit 0 (the engine leaves it for the index).
		if err := l.Row(r, uint64(1<<63)+uint64(2*i), i == 0); err != nil {
			t.Fatal(err)
		}
	}
	sum := &engine.RunRecord{RunID: "r1", PlanHash: "p", Started: time.Now(), Watermarks: map[string]engine.Watermark{
		"dc1": {StartTime: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC), CallID: "C9"}}}
	if err := l.Commit(ctx, sum); err != nil {
		t.Fatal(err)
	}
	idx, err = s.Prior(ctx)
	if err != nil || idx.Len() != 3 {
		t.Fatalf("prior: %d %v", idx.Len(), err)
	}
	for i, r := range rows {
		fp, active, ok := idx.Lookup(r.Entity, r.ID)
		if !ok || fp != uint64(1<<63)+uint64(2*i) || active != (i == 0) {
			t.Errorf("%s/%s: %d %v %v", r.Entity, r.ID, fp, active, ok)
		}
	}
	if _, _, ok := idx.Lookup("agent", `c,"2"`); ok {
		t.Error("an agent and a call with the same id collide")
	}
	var details []string
	s.Ledger(ctx, func(r state.LedgerRow) error { details = append(details, r.Detail); return nil })
	if len(details) != 3 || details[1] != rows[2].Detail {
		t.Errorf("details %q", details)
	}
	wm, err := s.Watermarks(ctx)
	if err != nil || wm["dc1"].CallID != "C9" {
		t.Errorf("watermarks %v %v", wm, err)
	}
	runs, err := s.Runs(ctx)
	if err != nil || len(runs) != 1 || runs[0].RunID != "r1" {
		t.Errorf("runs %v %v", runs, err)
	}
	// A second run that sees only one row: the others are no longer in the source.
	idx, _ = s.Prior(ctx)
	idx.Lookup("call", "u1")
	if a, c := idx.Unseen(); a != 1 || c != 1 {
		t.Errorf("unseen %d agents %d calls", a, c)
	}
}

// AbortLeavesStateUntouched: an aborted run writes nothing.
func AbortLeavesStateUntouched(t *testing.T, s state.Backend, dir string) {
	ctx := context.Background()
	l, _ := s.Begin("r1", "spec", dir, nil)
	l.Row(connector.LedgerRow{Entity: "call", ID: "c1", State: "imported"}, 1, false)
	l.Abort()
	idx, _ := s.Prior(ctx)
	if idx.Len() != 0 {
		t.Fatalf("aborted run left %d rows", idx.Len())
	}
}

// UpsertKeepsOneRowPerID: the later row of an id written twice in a run wins (a sink's late
// failure), and a later run replaces earlier rows: one row per id always.
func UpsertKeepsOneRowPerID(t *testing.T, s state.Backend, dir string) {
	ctx := context.Background()
	commit := func(run string, rows ...connector.LedgerRow) {
		t.Helper()
		idx, err := s.Prior(ctx)
		if err != nil {
			t.Fatal(err)
		}
		l, err := s.Begin(run, "spec", filepath.Join(dir, run), idx)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rows {
			if err := l.Row(r, uint64(i+1), false); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Commit(ctx, &engine.RunRecord{RunID: run, Started: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	ledger := func() string {
		var out []string
		s.Ledger(ctx, func(r state.LedgerRow) error {
			out = append(out, r.ID+"="+r.State+"/"+r.Reason+"@"+r.RunID)
			return nil
		})
		return strings.Join(out, " ")
	}
	imp := func(id string) connector.LedgerRow {
		return connector.LedgerRow{Entity: "call", ID: id, State: "imported"}
	}
	commit("r1", imp("c1"), imp("c2"), connector.LedgerRow{Entity: "call", ID: "c1", State: "failed", Reason: "http_422"})
	if got, want := ledger(), "c1=failed/http_422@r1 c2=imported/@r1"; got != want {
		t.Fatalf("after r1: %s, want %s", got, want)
	}
	commit("r2", imp("c1"), imp("c3"))
	if got, want := ledger(), "c1=imported/@r2 c2=imported/@r1 c3=imported/@r2"; got != want {
		t.Fatalf("after r2: %s, want %s", got, want)
	}
	commit("r3", imp("c2"), connector.LedgerRow{Entity: "call", ID: "c2", State: "failed", Reason: "media_unreadable"})
	if got, want := ledger(), "c1=imported/@r2 c2=failed/media_unreadable@r3 c3=imported/@r2"; got != want {
		t.Fatalf("after r3: %s, want %s", got, want)
	}
}

// ReportStagingAndEvents: the report, the staging index and its pruning,
// and run events read back the same from every backend.
func ReportStagingAndEvents(t *testing.T, s state.Backend, dir string) {
	ctx := context.Background()
	idx, _ := s.Prior(ctx)
	stage := filepath.Join(dir, "staging", "r1")
	l, err := s.Begin("r1", "spec", stage, idx)
	if err != nil {
		t.Fatal(err)
	}
	rows := []connector.LedgerRow{
		{Entity: "call", ID: "c3", State: "excluded", Reason: "too_short"},
		{Entity: "call", ID: "c1", State: "excluded", Reason: "too_short"},
		{Entity: "call", ID: "c2", State: "failed", Reason: "http_422", Detail: "invalid skill"},
		{Entity: "call", ID: "c4", State: "imported"},
	}
	for i, r := range rows {
		l.Row(r, uint64(2*i+2), false)
	}
	started := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	sum := &engine.RunRecord{RunID: "r1", PlanHash: "p", Started: started, Elapsed: time.Second, SourceRows: 4}
	sum.Calls.By = map[connector.StateReason]int{{State: "excluded", Reason: "too_short"}: 2, {State: "failed", Reason: "http_422"}: 1, {State: "imported"}: 1}
	l.SetStaged(&state.Staged{Path: stage, Calls: 1})
	if err := l.Commit(ctx, sum); err != nil {
		t.Fatal(err)
	}
	// What the report reads (engine/report): counts by state and reason,
	// whole or of one run, and the rows themselves with their details.
	for _, runID := range []string{"", "r1"} {
		counts, err := s.LedgerCounts(ctx, runID)
		if err != nil {
			t.Fatal(err)
		}
		want := "call/imported//1 call/excluded/too_short/2 call/failed/http_422/1"
		var got []string
		for _, c := range counts {
			got = append(got, fmt.Sprintf("%s/%s/%s/%d", c.Entity, c.State, c.Reason, c.N))
		}
		if strings.Join(got, " ") != want {
			t.Errorf("counts of run %q: %s, want %s", runID, strings.Join(got, " "), want)
		}
	}
	if counts, err := s.LedgerCounts(ctx, "nope"); err != nil || len(counts) != 0 {
		t.Errorf("counts of an unknown run: %v %v", counts, err)
	}
	ex, n, err := s.LedgerRows(ctx, state.LedgerQuery{State: "excluded", Reason: "too_short", Limit: 5})
	if err != nil || n != 2 || len(ex) != 2 || ex[0].ID != "c1" || ex[1].ID != "c3" {
		t.Errorf("excluded rows %+v (%d) %v", ex, n, err)
	}
	failed, n, err := s.LedgerRows(ctx, state.LedgerQuery{State: "failed", RunID: "r1", Limit: 5})
	if err != nil || n != 1 || len(failed) != 1 || failed[0].ID != "c2" || failed[0].Detail != "invalid skill" {
		t.Errorf("failed rows %+v (%d) %v", failed, n, err)
	}
	if one, n, err := s.LedgerRows(ctx, state.LedgerQuery{Entity: "call", ID: "c4", Limit: 1}); err != nil || n != 1 || one[0].State != "imported" {
		t.Errorf("one row by id: %+v (%d) %v", one, n, err)
	}
	if _, n, err := s.LedgerRows(ctx, state.LedgerQuery{State: "imported"}); err != nil || n != 1 {
		t.Errorf("count only: %d %v", n, err)
	}
	if q, err := s.Queue(ctx); err != nil || q.Open() {
		t.Errorf("queue %+v without deliveries: %v", q, err)
	}
	if err := s.RecordEvent(ctx, "purge", "purge-1", started.Add(time.Hour), &engine.EventRecord{All: true}); err != nil {
		t.Fatal(err)
	}
	runs, err := s.Runs(ctx)
	if err != nil || len(runs) != 2 || runs[1].Kind != "purge" || runs[1].Event == nil || !runs[1].Event.All {
		t.Errorf("runs %+v %v", runs, err)
	}
	staged, err := s.Staging(ctx)
	if err != nil || len(staged) != 1 || staged[0].Path != stage || staged[0].Calls != 1 || staged[0].PurgedAt != nil {
		t.Fatalf("staging %+v %v", staged, err)
	}
	pruned, err := s.Prune(ctx, started.Add(time.Minute), started.Add(2*time.Hour))
	if err != nil || len(pruned) != 1 {
		t.Fatalf("pruned %v %v", pruned, err)
	}
	staged, _ = s.Staging(ctx)
	if staged[0].PurgedAt == nil {
		t.Error("a pruned run is not marked purged")
	}
	var fps []uint64
	s.Ledger(ctx, func(r state.LedgerRow) error { fps = append(fps, r.FP); return nil })
	if len(fps) != 4 || fps[0] != 4 {
		t.Errorf("ledger fingerprints %v", fps)
	}
}

// SmallIndexes lowers the index's memory limits for the test, so that a
// few rows exercise the spilled paths.
func SmallIndexes(t testing.TB, mem, group int) {
	t.Helper()
	old := state.SetIndexLimits(keyset.Limits{Mem: mem, Group: group})
	t.Cleanup(func() { state.SetIndexLimits(old) })
}

// MediaSentReachesTheLedger: what a sink reports sending of a call's media
// (connector.RunInfo.MediaSent, wired to RunLedger.MediaSent) is on the call's
// ledger row after the commit; a later run that replaces the row drops it.
func MediaSentReachesTheLedger(t *testing.T, s state.Backend, dir string) {
	ctx := context.Background()
	l, err := s.Begin("r1", "spec", filepath.Join(dir, "r1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var _ engine.MediaRecorder = l
	l.Row(connector.LedgerRow{Entity: "call", ID: "c1", State: "imported"}, 2, false)
	l.Row(connector.LedgerRow{Entity: "call", ID: "c2", State: "imported"}, 4, false)
	l.MediaSent("c1", connector.MediaSent{ContentType: "audio/wav", Size: 1234, SHA256: "ab12"})
	if err := l.Commit(ctx, &engine.RunRecord{RunID: "r1", Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	rows, _, err := s.LedgerRows(ctx, state.LedgerQuery{Entity: "call", Limit: 5})
	if err != nil || len(rows) != 2 {
		t.Fatalf("rows %+v %v", rows, err)
	}
	if m := rows[0].Media; m != (connector.MediaSent{ContentType: "audio/wav", Size: 1234, SHA256: "ab12"}) {
		t.Errorf("c1 media %+v", m)
	}
	if m := rows[1].Media; m != (connector.MediaSent{}) {
		t.Errorf("c2 media %+v, want none", m)
	}
	l, _ = s.Begin("r2", "spec", filepath.Join(dir, "r2"), nil)
	l.Row(connector.LedgerRow{Entity: "call", ID: "c1", State: "imported"}, 6, false)
	if err := l.Commit(ctx, &engine.RunRecord{RunID: "r2", Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	rows, _, _ = s.LedgerRows(ctx, state.LedgerQuery{Entity: "call", ID: "c1", Limit: 1})
	if len(rows) != 1 || rows[0].Media != (connector.MediaSent{}) {
		t.Errorf("c1 resent without media: %+v", rows)
	}
}

// RunRecordRoundTrip: the record a run commits comes back from the run
// history typed and equal; so do a restore's and a purge's events.
func RunRecordRoundTrip(t *testing.T, s state.Backend, dir string) {
	ctx := context.Background()
	l, err := s.Begin("r1", "spec", filepath.Join(dir, "stage-r1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	started := time.Date(2026, 11, 30, 10, 0, 0, 123456000, time.UTC)
	sum := &engine.RunRecord{Version: engine.RecordVersion, RunID: "r1", PlanHash: "p", Started: started, Elapsed: 1500 * time.Millisecond,
		Agents:  engine.Tally{Total: 2, By: map[connector.StateReason]int{{State: connector.StateImported}: 1, {State: connector.StateExcluded, Reason: connector.ReasonNotAgent}: 1}},
		Calls:   engine.Tally{Total: 3, By: map[connector.StateReason]int{{State: connector.StateImported}: 2, {State: connector.StateFailed, Reason: connector.ReasonBadRow}: 1}},
		BadRows: 2, BadNoID: 1, BadRowSamples: []string{"calls.csv:3: C3: bad start_time", "calls.csv:4: bad columns"},
		Warnings: 1, WarnSamples: []string{"call C1: tenant filter: boom"},
		FieldOmitted: map[string]int{"Total": 1}, FieldOmittedSamples: map[string][]string{"Total": {"call C1: main.hcl:3,1-2: field Total: x"}},
		SourceRows: 4, BDWithoutCall: 1, BDWithoutCallSamples: []string{"business_data.csv:9: call X"},
		Counted:       map[connector.StateReason]int{{State: connector.StateExcluded, Reason: connector.ReasonOtherTenant}: 5},
		ImportedByDay: map[string]int{"2026-11-29": 2},
		Failed:        []connector.LedgerRow{{Entity: "agent", ID: "u9", State: connector.StateFailed, Reason: "http_422", Detail: "no"}},
		AgentDiff:     engine.Diff{New: 2, Drift: []engine.DriftRow{{UserID: "u7", Change: "deactivated"}}}, CallDiff: engine.Diff{New: 3},
		Watermarks:     map[string]engine.Watermark{"dc1": {StartTime: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC), CallID: "C2"}},
		NewestImported: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC),
	}
	sum.Sent.Agents, sum.Sent.Calls = 1, 2
	if err := l.Commit(ctx, sum); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordEvent(ctx, "restore", "restore-1", started.Add(time.Hour), &engine.EventRecord{FromRun: "r1", Agents: 1, Calls: 2, Missing: []string{"C9"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordEvent(ctx, "purge", "purge-1", started.Add(2*time.Hour), &engine.EventRecord{CallIDs: []string{"C1"}, RemovedRows: 2}); err != nil {
		t.Fatal(err)
	}
	runs, err := s.Runs(ctx)
	if err != nil || len(runs) != 3 {
		t.Fatalf("runs %+v %v", runs, err)
	}
	got := runs[0].Record
	if got == nil || runs[0].Event != nil {
		t.Fatalf("run line %+v", runs[0])
	}
	if !reflect.DeepEqual(got, sum) {
		t.Errorf("the record read back differs:\n got %+v\nwant %+v", got, sum)
	}
	if e := runs[1].Event; runs[1].Record != nil || e == nil || e.FromRun != "r1" || e.Calls != 2 || len(e.Missing) != 1 {
		t.Errorf("restore line %+v (%+v)", runs[1], e)
	}
	if e := runs[2].Event; e == nil || len(e.CallIDs) != 1 || e.RemovedRows != 2 {
		t.Errorf("purge line %+v (%+v)", runs[2], e)
	}
}

// LedgerCountsOrder: both drivers order the counts the same, queued right
// after imported (their DDL and queries drifted once: only PostgreSQL did).
func LedgerCountsOrder(t *testing.T, s state.Backend, dir string) {
	ctx := context.Background()
	l, err := s.Begin("r1", "spec", filepath.Join(dir, "r1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range []string{"failed", "excluded", "queued", "imported", "queued", "retrying"} {
		l.Row(connector.LedgerRow{Entity: "call", ID: fmt.Sprintf("c%d", i), State: st}, uint64(2*i+2), false)
	}
	l.Row(connector.LedgerRow{Entity: "agent", ID: "u1", State: "imported"}, 2, true)
	if err := l.Commit(ctx, &engine.RunRecord{RunID: "r1", Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	counts, err := s.LedgerCounts(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range counts {
		got = append(got, fmt.Sprintf("%s/%s/%d", c.Entity, c.State, c.N))
	}
	if want := "agent/imported/1 call/imported/1 call/queued/2 call/excluded/1 call/failed/1 call/retrying/1"; strings.Join(got, " ") != want {
		t.Errorf("counts %s, want %s", strings.Join(got, " "), want)
	}
}
