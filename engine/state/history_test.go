package state

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/applink-dev/applink/engine"
)

// TestRunRecordRoundTrip: the record a run commits comes back from the run
// history typed and equal, in both backends; so do a restore's and a
// purge's events.
func TestRunRecordRoundTrip(t *testing.T) { eachBackend(t, testRunRecordRoundTrip) }

func testRunRecordRoundTrip(t *testing.T, s Backend, dir string) {
	ctx := context.Background()
	l, err := s.Begin("r1", "spec", filepath.Join(dir, "stage-r1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	started := time.Date(2026, 11, 30, 10, 0, 0, 123456000, time.UTC)
	sum := &engine.RunRecord{Version: engine.RecordVersion, RunID: "r1", PlanHash: "p", Started: started, Elapsed: 1500 * time.Millisecond,
		Agents:  engine.Tally{Total: 2, By: map[engine.StateReason]int{{State: engine.StateImported}: 1, {State: engine.StateExcluded, Reason: engine.ReasonNotAgent}: 1}},
		Calls:   engine.Tally{Total: 3, By: map[engine.StateReason]int{{State: engine.StateImported}: 2, {State: engine.StateFailed, Reason: engine.ReasonBadRow}: 1}},
		BadRows: 2, BadNoID: 1, BadRowSamples: []string{"calls.csv:3: C3: bad start_time", "calls.csv:4: bad columns"},
		Warnings: 1, WarnSamples: []string{"call C1: tenant filter: boom"},
		FieldOmitted: map[string]int{"Total": 1}, FieldOmittedSamples: map[string][]string{"Total": {"call C1: main.hcl:3,1-2: field Total: x"}},
		SourceRows: 4, BDWithoutCall: 1, BDWithoutCallSamples: []string{"business_data.csv:9: call X"},
		Counted:       map[engine.StateReason]int{{State: engine.StateExcluded, Reason: engine.ReasonOtherTenant}: 5},
		ImportedByDay: map[string]int{"2026-11-29": 2},
		Failed:        []engine.LedgerRow{{Entity: "agent", ID: "u9", State: engine.StateFailed, Reason: "http_422", Detail: "no"}},
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
