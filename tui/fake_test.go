package tui_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/preview"
	"github.com/applink-dev/applink/engine/workspace"
	"github.com/applink-dev/applink/tui"
)

// fakeStore is a preview file in memory: canned rows, filtered the way
// preview.DB documents RowQuery.
type fakeStore struct {
	rows   []preview.Row
	closed bool
}

var stageReached = map[string]map[string]bool{
	preview.ViewAfterRules:   {"filters": true, "mapping": true, "mapped": true},
	preview.ViewAfterFilters: {"mapping": true, "mapped": true},
	preview.ViewMapped:       {"mapped": true},
}

func (f *fakeStore) Rows(ctx context.Context, q preview.RowQuery) ([]preview.Row, error) {
	var out []preview.Row
	for _, r := range f.rows {
		if (q.Change == preview.ChangeRemoved) != (r.Change == preview.ChangeRemoved) {
			continue
		}
		if reached, ok := stageReached[q.Stage]; ok && !reached[r.Stage] {
			continue
		}
		if q.Stage == "rejects" && r.State == connector.StateImported {
			continue
		}
		if (q.State != "" && r.State != q.State) || (q.Reason != "" && r.Reason != q.Reason) ||
			(q.Change != "" && r.Change != q.Change) {
			continue
		}
		if q.Filter != "" && !strings.Contains(strings.ToLower(r.CallID+" "+r.AgentID+" "+r.ANI+" "+r.DNIS), strings.ToLower(q.Filter)) {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// diffRows is the full diff of a kind as preview.DB orders it: the calls
// in the order read, then the removed ones.
func (f *fakeStore) diffRows(change string) []preview.Row {
	var src, gone []preview.Row
	for _, r := range f.rows {
		switch {
		case change != "" && r.Change != change:
		case r.Change == preview.ChangeRemoved:
			gone = append(gone, r)
		default:
			src = append(src, r)
		}
	}
	return append(src, gone...)
}

func (f *fakeStore) DiffRows(ctx context.Context, q preview.DiffQuery) ([]preview.Row, error) {
	all := f.diffRows(q.Change)
	lo := min(q.Offset, len(all))
	return all[lo:min(lo+q.Limit, len(all))], nil
}

func (f *fakeStore) NextChange(ctx context.Context, change string, from, dir int) (int, error) {
	all := f.diffRows(change)
	for i := from + dir; i >= 0 && i < len(all); i += dir {
		if c := all[i].Change; c != "" && c != preview.ChangeUnchanged {
			return i, nil
		}
	}
	return -1, nil
}

func (f *fakeStore) Call(ctx context.Context, id string) (*preview.CallDetail, error) {
	for _, r := range f.rows {
		if r.CallID != id {
			continue
		}
		cd := &preview.CallDetail{Pos: r.Pos, Source: r.Source, State: r.State, Reason: r.Reason, Detail: r.Detail,
			Stage: r.Stage, AgentUserID: r.AgentUserID, Change: r.Change,
			Call: dsl.Call{CallID: r.CallID, TenantID: 1, Site: r.Site, AgentID: r.AgentID, StartTime: r.StartTime,
				DurationMS: r.DurationMS, Direction: r.Direction, ANI: r.ANI, DNIS: r.DNIS, Archived: r.Reason != connector.ReasonNotArchived,
				AudioPackets: 120, Status: "ok", Skill: "billing"}}
		if r.State == connector.StateImported {
			cd.BusinessData = []byte(`{"text":{"CustomerID":"K-` + r.CallID + `","Tier":"gold"},"number":{"OrderTotal":129.5},"boolean":{"VIP":true}}`)
		}
		switch {
		case r.CallID == "C010": // imported before too: a value changed
			cd.Prev = &preview.PrevState{State: connector.StateImported}
		case r.Change == preview.ChangeChanged:
			cd.Prev = &preview.PrevState{State: connector.StateExcluded, Reason: connector.ReasonNotArchived}
		case r.Change == preview.ChangeUnchanged:
			cd.Prev = &preview.PrevState{State: r.State, Reason: r.Reason}
		case r.Change == preview.ChangeRemoved:
			cd.Pos = -1
			cd.Prev = &preview.PrevState{State: r.State, Reason: r.Reason}
			cd.State, cd.Reason = "", ""
		}
		return cd, nil
	}
	return nil, preview.ErrNotFound
}

func (f *fakeStore) Close() error {
	f.closed = true
	return nil
}

var t0 = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

func row(i int, id, state, reason, stage, change string) preview.Row {
	return preview.Row{Pos: int64(i), Source: "main", CallID: id, Site: "main", AgentID: "A" + id[len(id)-2:], AgentUserID: "U" + id[len(id)-2:],
		StartTime: t0.Add(time.Duration(i) * 7 * time.Minute), DurationMS: int64(30000 + 1000*i), Direction: "in",
		ANI: "+4420700000" + id[len(id)-2:], DNIS: "+442071111111", State: state, Reason: reason, Stage: stage, Change: change}
}

// newFakeStore holds ten calls across every stage and one call only in the
// ledger.
func newFakeStore() *fakeStore {
	imp, exc := connector.StateImported, connector.StateExcluded
	return &fakeStore{rows: []preview.Row{
		row(0, "C001", imp, "", "mapped", preview.ChangeUnchanged),
		row(1, "C002", exc, connector.ReasonNotArchived, "rules", preview.ChangeNew),
		row(2, "C003", imp, connector.ReasonAgentUnmapped, "mapped", preview.ChangeChanged),
		row(3, "C004", exc, connector.ReasonTooShort, "rules", preview.ChangeUnchanged),
		row(4, "C005", exc, connector.ReasonFilteredOut, "filters", preview.ChangeNew),
		row(5, "C006", imp, "", "mapped", preview.ChangeNew),
		row(6, "C007", exc, connector.ReasonMappingError, "mapping", preview.ChangeUnchanged),
		row(7, "C008", exc, connector.ReasonNotArchived, "rules", preview.ChangeUnchanged),
		row(8, "C009", exc, connector.ReasonBeforeWindow, "rules", preview.ChangeUnchanged),
		row(9, "C010", imp, "", "mapped", preview.ChangeChanged),
		{Pos: -1, CallID: "C900", State: imp, Change: preview.ChangeRemoved},
	}}
}

func fakeResult() *preview.Result {
	sum := &engine.RunRecord{RunID: "preview", SourceRows: 10}
	return &preview.Result{
		DBPath:  "/tmp/preview.duckdb",
		Summary: sum,
		Stages: []preview.StageCount{
			{Stage: preview.ViewSource, In: 10, Out: 10},
			{Stage: preview.ViewAfterRules, In: 10, Out: 6, Left: map[string]int{"not_archived": 2, "too_short": 1, "before_window": 1}},
			{Stage: preview.ViewAfterFilters, In: 6, Out: 5, Left: map[string]int{"filtered_out": 1}},
			{Stage: preview.ViewMapped, In: 5, Out: 4, Left: map[string]int{"mapping_error": 1}},
		},
		Diff: preview.DiffCounts{
			Calls:  preview.ChangeCounts{New: 3, Changed: 2, Unchanged: 5, Removed: 1},
			Agents: preview.ChangeCounts{New: 1, Changed: 0, Unchanged: 4, Removed: 0},
		},
		WouldSend: struct{ Agents, Calls int }{1, 3},
	}
}

// fakePreview reports progress once, like the engine, and answers with the
// canned result; err makes it fail instead.
func fakePreview(st *fakeStore, err error) func(context.Context, func(engine.Progress)) (*preview.Result, tui.Store, error) {
	return func(ctx context.Context, progress func(engine.Progress)) (*preview.Result, tui.Store, error) {
		progress(engine.Progress{Phase: "calls", Agents: 5, Calls: 10, Elapsed: 1500 * time.Millisecond})
		if err != nil {
			return nil, nil, err
		}
		return fakeResult(), st, nil
	}
}

func fakeSummary() *engine.RunRecord {
	s := &engine.RunRecord{RunID: "20261125T080000.000000Z", PlanHash: "e4a26d3b3be86dde00", Elapsed: 2 * time.Second, SourceRows: 10}
	s.Agents = engine.Tally{Total: 5, By: map[connector.StateReason]int{{State: "imported"}: 4, {State: "excluded", Reason: "filtered_out"}: 1}}
	s.Calls = engine.Tally{Total: 10, By: map[connector.StateReason]int{
		{State: "imported"}: 3, {State: "imported", Reason: "agent_unmapped"}: 1, {State: "excluded", Reason: "not_archived"}: 2,
		{State: "excluded", Reason: "too_short"}: 1, {State: "excluded", Reason: "before_window"}: 1,
		{State: "excluded", Reason: "filtered_out"}: 1, {State: "excluded", Reason: "mapping_error"}: 1}}
	s.CallDiff = engine.Diff{New: 3, Changed: 2, Unchanged: 5}
	s.Sent.Agents, s.Sent.Calls = 1, 3
	return s
}

var errSource = errors.New("open source main: snapshot data: no such file or directory")

// newBigStore holds n calls, all unchanged but three (at rows 3, 641 and
// 1101 when n ≥ 1200), and one call only in the ledger: the changes past
// the first page are what ] must reach.
func newBigStore(n int) *fakeStore {
	f := &fakeStore{}
	for i := range n {
		change := preview.ChangeUnchanged
		switch i {
		case 2, 1100:
			change = preview.ChangeNew
		case 640:
			change = preview.ChangeChanged
		}
		f.rows = append(f.rows, row(i, fmt.Sprintf("C%05d", i+1), connector.StateImported, "", "mapped", change))
	}
	f.rows = append(f.rows, preview.Row{Pos: -1, CallID: "C99999", State: connector.StateImported, Change: preview.ChangeRemoved})
	return f
}

func bigResult(n int) *preview.Result {
	r := fakeResult()
	r.Summary.SourceRows = n
	r.Diff.Calls = preview.ChangeCounts{New: 2, Changed: 1, Unchanged: n - 3, Removed: 1}
	return r
}

// sentC010 is what the last run sent of C010, as its staged copy holds it:
// the order total and the VIP flag have changed since.
func sentC010(plan *engine.Plan) *workspace.SentCopy {
	idx := func(name string) int {
		for i, f := range plan.Fields {
			if f.Name == name {
				return i
			}
		}
		panic(name)
	}
	r := row(9, "C010", connector.StateImported, "", "mapped", preview.ChangeChanged)
	return &workspace.SentCopy{RunID: "20261124T080000.000000Z", SentBy: "20261124T080000.000000Z", State: connector.StateImported,
		StagedAt: time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC), Fields: plan.Fields,
		Call: &connector.OutCall{CallID: "C010", AgentUserID: r.AgentUserID, StartTime: r.StartTime, DurationMS: r.DurationMS,
			Direction: r.Direction, ANI: r.ANI, DNIS: r.DNIS, Values: []connector.Value{
				{Field: idx("CustomerID"), Text: []byte("K-C010")}, {Field: idx("Tier"), Text: []byte("silver")},
				{Field: idx("OrderTotal"), Number: 99.5}, {Field: idx("VIP"), Bool: false},
			}}}
}
