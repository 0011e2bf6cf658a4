package engine

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/applink-dev/applink/engine/connector"
)

// TestDecodeRecordV0: a summary as an applink before the versioned record
// stored it (testdata/record-v0.json, taken from a real DuckDB state: a run
// with bad rows, a business-data row without a call and values left out)
// reads as the current record, with the same numbers.
func TestDecodeRecordV0(t *testing.T) {
	b, err := os.ReadFile("testdata/record-v0.json")
	if err != nil {
		t.Fatal(err)
	}
	started := time.Date(2026, 12, 7, 12, 17, 17, 603965000, time.UTC) // the history line's column
	r, err := DecodeRunRecord(b, started)
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != RecordVersion || r.RunID != "20261207T121717.600665Z" || !r.Started.Equal(started) || r.Elapsed != 20*time.Millisecond {
		t.Errorf("identity: version %d, run %s, started %v, elapsed %v", r.Version, r.RunID, r.Started, r.Elapsed)
	}
	if r.SourceRows != 302 || r.Calls.Total != 302 || r.Calls.Count(connector.StateImported) != 201 || r.Calls.Count(connector.StateFailed) != 2 ||
		r.Calls.By[connector.StateReason{State: connector.StateImported, Reason: connector.ReasonAgentUnmapped}] != 12 || r.Agents.Total != 30 || r.Agents.Count(connector.StateExcluded) != 5 {
		t.Errorf("tallies: source %d, calls %+v, agents %+v", r.SourceRows, r.Calls, r.Agents)
	}
	if r.BadRows != 2 || len(r.BadRowSamples) != 2 || r.BadRowSamples[1] != `calls.csv:303: C9999002: 3 columns, want 15; the line reads "C9999002,t1,site1"` {
		t.Errorf("bad rows %d %q", r.BadRows, r.BadRowSamples)
	}
	if r.BDWithoutCall != 1 || len(r.BDWithoutCallSamples) != 1 || r.FieldOmitted["Balance"] != 3 || len(r.FieldOmittedSamples["OrderTotal"]) != 3 {
		t.Errorf("bd %d %q, omitted %v", r.BDWithoutCall, r.BDWithoutCallSamples, r.FieldOmitted)
	}
	if len(r.ImportedByDay) != 8 || r.ImportedByDay["2026-10-27"] != 32 || r.CallDiff.Unchanged != 300 || r.CallDiff.New != 2 ||
		!r.NewestImported.Equal(time.Date(2026, 11, 3, 23, 31, 56, 0, time.UTC)) || r.Delivery != (Delivery{}) {
		t.Errorf("per day %v, diff %+v, newest %v, delivery %+v", r.ImportedByDay, r.CallDiff, r.NewestImported, r.Delivery)
	}
	a := r.Accounting()
	if a.SourceRows != 302 || a.InLedger != 302 || a.Unexplained != 0 || a.Failed != 2 || a.BDWithoutCall != 1 {
		t.Errorf("accounting %+v", a)
	}
	if f, u, o := r.Problems(); f != 2 || u != 0 || o != 1 { // the stored "problems" said the same
		t.Errorf("problems %d %d %d", f, u, o)
	}

	// Stored again, it is version 1 and reads back equal.
	b1, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b1, &m); err != nil || m["version"] != float64(RecordVersion) || m["started"] == nil {
		t.Errorf("stored again: %s (%v)", b1, err)
	}
	back, err := DecodeRunRecord(b1, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, r) {
		t.Errorf("round trip differs:\n%+v\n%+v", back, r)
	}
}

// TestDecodeRecordV0Queued: a version 0 record of a run with a delivery
// queue had its tally rewritten to queued after the run; the converter
// takes that as the run's delivery count.
func TestDecodeRecordV0Queued(t *testing.T) {
	b := []byte(`{"run_id":"r1","calls":{"queued/":690,"queued/agent_unmapped":5,"excluded/too_short":3},"source_rows":698,
		"sent":{"Agents":0,"Calls":695},"ended":"2026-11-30T10:00:01Z","elapsed_ms":1000}`)
	r, err := DecodeRunRecord(b, time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if r.Delivery.Queued != 695 || r.Calls.Count(connector.StateImported) != 0 || r.Accounting().Unexplained != 0 {
		t.Errorf("delivery %+v, imported %d, accounting %+v", r.Delivery, r.Calls.Count(connector.StateImported), r.Accounting())
	}
	if _, err := DecodeRunRecord([]byte(`{"version":99}`), time.Time{}); err == nil {
		t.Error("a record newer than this build is read")
	}
}

// TestDecodeEventV0: restores and purges as version 0 stored them.
func TestDecodeEventV0(t *testing.T) {
	b, err := os.ReadFile("testdata/event-v0-purge.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		stored []byte
		want   EventRecord
	}{
		{"purge all (stored by a real state)", b, EventRecord{All: true, Runs: []string{"20261207T121714.642506Z"}}},
		{"purge before", []byte(`{"before":"2026-11-11T09:00:00Z","runs":["r1"]}`), EventRecord{Before: time.Date(2026, 11, 11, 9, 0, 0, 0, time.UTC), Runs: []string{"r1"}}},
		{"purge calls", []byte(`{"calls":["C1","C2"],"removed_rows":4}`), EventRecord{CallIDs: []string{"C1", "C2"}, RemovedRows: 4}},
		{"restore", []byte(`{"from_run":"r1","agents":2,"calls":3,"missing":["C9"],"failed":{"call C1":"http_500"}}`),
			EventRecord{FromRun: "r1", Agents: 2, Calls: 3, Missing: []string{"C9"}, Failed: map[string]string{"call C1": "http_500"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeEventRecord(tt.stored)
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Version = RecordVersion
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("got %+v, want %+v", *got, tt.want)
			}
			b, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			back, err := DecodeEventRecord(b)
			if err != nil || !reflect.DeepEqual(back, got) {
				t.Errorf("round trip %s: %+v (%v)", b, back, err)
			}
		})
	}
}

// TestRunCountsQueued: with a queueing ledger (Options.Queue) the run
// counts the calls it sends as queued, unchanged ones as imported, and
// says how many it queued; nothing rewrites the tally afterwards.
func TestRunCountsQueued(t *testing.T) {
	p := mustPlan(t, "", "")
	agents := []connector.AgentRecord{agent("u1", "a1", "x@acme.example", t0)}
	short := goodCall("c3", "a1")
	short.DurationMS = 1000
	led := &memLedger{rows: map[string]uint64{}, active: map[string]bool{}}
	run := func(calls ...memCall) *RunRecord {
		prior := &memPrior{rows: map[string]uint64{}, active: map[string]bool{}}
		for k, v := range led.rows {
			prior.rows[k], prior.active[k] = v, led.active[k]
		}
		sum, err := Run(context.Background(), p, Options{Sink: &memSink{}, Sources: []connector.Source{&memSource{agents: agents, calls: calls}},
			Prior: prior, Ledger: led, Queue: true})
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	first := run(memCall{call: goodCall("c1", "a1")}, memCall{call: goodCall("c2", "a9")}, memCall{call: short})
	if q, imp := first.Calls.Count(connector.StateQueued), first.Calls.Count(connector.StateImported); q != 2 || imp != 0 ||
		first.Calls.By[connector.StateReason{State: connector.StateQueued, Reason: connector.ReasonAgentUnmapped}] != 1 || first.Delivery.Queued != 2 || first.Sent.Calls != 2 {
		t.Errorf("first run: queued %d, imported %d, %+v, delivery %+v", q, imp, first.Calls.By, first.Delivery)
	}
	if a := first.Accounting(); a.Unexplained != 0 || a.InLedger != 3 {
		t.Errorf("first run accounting %+v", a)
	}
	second := run(memCall{call: goodCall("c1", "a1")}, memCall{call: goodCall("c4", "a1")})
	if q, imp := second.Calls.Count(connector.StateQueued), second.Calls.Count(connector.StateImported); q != 1 || imp != 1 || second.Delivery.Queued != 1 {
		t.Errorf("second run: queued %d (the new call), imported %d (the unchanged one), delivery %+v", q, imp, second.Delivery)
	}
}
