package report_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/state"
)

// fakeState is a state in memory: a ledger of rows, a run history and a
// staging index, queried the way the DuckDB store documents it.
type fakeState struct {
	runs    []state.RunRecord
	ledger  []state.LedgerRow
	staging []state.StagedRun
}

func (f *fakeState) Runs(ctx context.Context) ([]state.RunRecord, error) { return f.runs, nil }

func (f *fakeState) Staging(ctx context.Context) ([]state.StagedRun, error) { return f.staging, nil }

func (f *fakeState) LedgerCounts(ctx context.Context, runID string) ([]state.LedgerCount, error) {
	n := map[state.LedgerCount]int{}
	for _, r := range f.ledger {
		if runID == "" || r.RunID == runID {
			n[state.LedgerCount{Entity: r.Entity, State: r.State, Reason: r.Reason}]++
		}
	}
	var out []state.LedgerCount
	for k, v := range n {
		k.N = v
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Entity != b.Entity {
			return a.Entity < b.Entity
		}
		if a.State != b.State {
			return a.State < b.State
		}
		return a.Reason < b.Reason
	})
	return out, nil
}

func (f *fakeState) LedgerRows(ctx context.Context, q state.LedgerQuery) ([]state.LedgerRow, int, error) {
	var match []state.LedgerRow
	for _, r := range f.ledger {
		if (q.Entity == "" || r.Entity == q.Entity) && (q.ID == "" || r.ID == q.ID) && (q.State == "" || r.State == q.State) &&
			(q.Reason == "" || r.Reason == q.Reason) && (q.RunID == "" || r.RunID == q.RunID) {
			match = append(match, r)
		}
	}
	sort.Slice(match, func(i, j int) bool {
		if match[i].Entity != match[j].Entity {
			return match[i].Entity < match[j].Entity
		}
		return match[i].ID < match[j].ID
	})
	if q.Limit <= 0 {
		return nil, len(match), nil
	}
	return match[:min(q.Limit, len(match))], len(match), nil
}

var (
	run1 = "20261103T080000.000000Z"
	run2 = "20261110T080000.000000Z"
	t1   = time.Date(2026, 11, 3, 8, 0, 0, 0, time.UTC)
	t2   = time.Date(2026, 11, 10, 8, 0, 0, 0, time.UTC)
)

// add puts n ledger rows of one kind, ids PREFIX0001…, set by run.
func (f *fakeState) add(entity, prefix, st, reason, run string, n int) {
	for i := range n {
		detail := ""
		switch reason {
		case "bad_row":
			detail = fmt.Sprintf("calls.csv:%d: start_time \"yesterday\" is not an RFC 3339 timestamp", 100+i)
		case "http_422":
			detail = "invalid skill"
		}
		f.ledger = append(f.ledger, state.LedgerRow{Entity: entity, ID: fmt.Sprintf("%s%04d", prefix, i+1), State: st, Reason: reason, Detail: detail, RunID: run})
	}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// storedRun is a run record stored in the form of version 0 (a JSON map),
// read as the state reads it.
func storedRun(v any, started time.Time) *engine.RunRecord {
	r, err := engine.DecodeRunRecord(mustJSON(v), started)
	if err != nil {
		panic(err)
	}
	return r
}

// storedEvent is a restore or purge as version 0 stored it.
func storedEvent(v any) *engine.EventRecord {
	e, err := engine.DecodeEventRecord(mustJSON(v))
	if err != nil {
		panic(err)
	}
	return e
}

// newFakeState is a customer two runs in: a first run that read 1 218
// call rows and sent most, a restore, an incremental run that sent 14 new
// calls (CXone refused 2), a purge of the first run's staged copy.
func newFakeState() *fakeState {
	f := &fakeState{}
	f.add("agent", "u", "imported", "", run1, 40)
	f.add("agent", "n", "excluded", "not_agent", run1, 6)
	f.add("agent", "d", "excluded", "duplicate_email", run1, 2)
	f.add("call", "C", "imported", "", run1, 980)
	f.add("call", "D", "imported", "", run2, 12)
	f.add("call", "U", "imported", "agent_unmapped", run1, 40)
	f.add("call", "S", "excluded", "too_short", run1, 95)
	f.add("call", "A", "excluded", "no_audio", run1, 60)
	f.add("call", "W", "excluded", "before_window", run1, 33)
	f.add("call", "F", "excluded", "filtered_out", run1, 7)
	f.add("call", "B", "failed", "bad_row", run1, 2)
	f.add("call", "H", "failed", "http_422", run2, 2)
	days := map[string]int{"2026-10-27": 31, "2026-10-28": 140, "2026-10-29": 152, "2026-10-30": 167, "2026-10-31": 12,
		"2026-11-01": 9, "2026-11-02": 180, "2026-11-03": 175, "2026-11-04": 154}
	sum1 := map[string]any{
		"agents": map[string]int{"imported/": 40, "excluded/not_agent": 6, "excluded/duplicate_email": 2},
		"calls": map[string]int{"imported/": 980, "imported/agent_unmapped": 40, "excluded/too_short": 95, "excluded/no_audio": 60,
			"excluded/before_window": 33, "excluded/filtered_out": 7, "failed/bad_row": 2},
		"source_rows": 1218, "imported_by_day": days, "bd_without_call": 3,
		"bd_without_call_samples": []string{"business_data.csv:41: call \"X1\" is not in calls.csv", "business_data.csv:42: call \"X1\" is not in calls.csv", "business_data.csv:97: call \"X2\" is not in calls.csv"},
		"bad_rows":                3, "bad_no_id": 1, "duplicates_seen": 0,
		"bad_samples": []string{"calls.csv:100: B0001: start_time \"yesterday\" is not an RFC 3339 timestamp",
			"calls.csv:101: B0002: start_time \"yesterday\" is not an RFC 3339 timestamp", "calls.csv:733: record has 9 fields, the header 15"},
		"agent_diff": map[string]any{"New": 48, "Drift": []any{}}, "sent": map[string]int{"Agents": 40, "Calls": 1020},
	}
	days2 := map[string]int{}
	for k, v := range days {
		days2[k] = v
	}
	days2["2026-11-09"] = 14 // two of them CXone refused afterwards
	sum2 := map[string]any{
		"agents": map[string]int{"imported/": 40, "excluded/not_agent": 6, "excluded/duplicate_email": 2},
		"calls": map[string]int{"imported/": 992, "imported/agent_unmapped": 40, "excluded/too_short": 95, "excluded/no_audio": 60,
			"excluded/before_window": 33, "excluded/filtered_out": 7, "failed/bad_row": 2, "failed/http_422": 2},
		"source_rows": 1232, "imported_by_day": days2,
		"counted":       map[string]int{"excluded/before_window": 250, "excluded/other_tenant": 40},
		"field_omitted": map[string]int{"Customer": 7},
		"field_omitted_samples": map[string][]string{"Customer": {
			`call C0003: main.hcl:12,36-47: bd.Customer: unknown name`, `call C0009: main.hcl:12,36-47: bd.Customer: unknown name`,
			// A long reason without spaces must wrap inside its cell (issue 21.7).
			`call C0011: /srv/applink/customers/acme-emea-production/specs/acme/main.hcl:12,36-47: field Customer: float: cannot parse "0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"`}},
		"findings": []map[string]string{{"kind": "unknown_bd", "suggest": "Region",
			"text": `field "Region" (main.hcl:20,12): bd.Regoin: no business data of the source is named "Regoin". Did you mean "Region"?`}},
		"failed": []map[string]string{{"Entity": "call", "ID": "H0001", "State": "failed", "Reason": "http_422", "Detail": "invalid skill"},
			{"Entity": "call", "ID": "H0002", "State": "failed", "Reason": "http_422", "Detail": "invalid skill"}}, "bd_without_call": 3,
		"bd_without_call_samples": sum1["bd_without_call_samples"], "bad_rows": 3, "bad_no_id": 1, "duplicates_seen": 0,
		"bad_samples": sum1["bad_samples"],
		"agent_diff":  map[string]any{"Drift": []map[string]string{{"UserID": "u0007", "Change": "deactivated"}}},
		"sent":        map[string]int{"Agents": 0, "Calls": 14},
		"delivered":   []map[string]any{{"what": "calls", "n": 12}, {"what": "media files", "n": 12}, {"what": "calls with business data", "n": 12}},
	}
	f.runs = []state.RunRecord{
		{RunID: run1, Kind: "run", PlanHash: "p1", Started: t1, Ended: t1.Add(9 * time.Second), Record: storedRun(sum1, t1)},
		{RunID: "restore-20261104T090000.000000Z", Kind: "restore", Started: t1.Add(25 * time.Hour), Ended: t1.Add(25 * time.Hour),
			Event: storedEvent(map[string]any{"from_run": run1, "agents": 0, "calls": 3, "missing": []string{}})},
		{RunID: run2, Kind: "run", PlanHash: "p1", Started: t2, Ended: t2.Add(4 * time.Second), Record: storedRun(sum2, t2)},
		// A run that failed before it committed is in the list too.
		{RunID: "20261111T080000.000000Z", Kind: "failed", Started: t2.Add(23 * time.Hour), Ended: t2.Add(23 * time.Hour),
			Event: storedEvent(map[string]any{"error": "source dc1: cannot connect to engage-db.acme.example:1433: connection refused (is SQL Server listening there? check host, port and firewall)"})},
		{RunID: "purge-20261111T090000.000000Z", Kind: "purge", Started: t2.Add(25 * time.Hour), Ended: t2.Add(25 * time.Hour),
			Event: storedEvent(map[string]any{"runs": []string{run1}, "before": t2})},
	}
	purged := t2.Add(25 * time.Hour)
	f.staging = []state.StagedRun{
		{RunID: run1, Path: "/x/staging/" + run1, Created: t1, Calls: 1020, Agents: 40, PurgedAt: &purged},
		{RunID: run2, Path: "/x/staging/" + run2, Created: t2, Calls: 14, Agents: 0},
	}
	return f
}
