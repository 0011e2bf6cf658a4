package preview

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/state/duckstate"
)

func TestRunStoresEveryStage(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, ".applink", "preview.duckdb")
	res := runPreview(t, dbPath, filepath.Join(dir, ".applink", "state.duckdb"), testSource(), false)

	wantReasons := map[string]int{
		"imported": 2, "imported/agent_unmapped": 1, "excluded/before_window": 1, "excluded/filtered_out": 1,
		"excluded/mapping_error": 1, "failed/bad_row": 1, "excluded/agent_without_email": 1,
		"excluded/agent_filtered": 1, "excluded/too_short": 1,
	}
	if !reflect.DeepEqual(res.Reasons, wantReasons) {
		t.Errorf("reasons %v\nwant %v", res.Reasons, wantReasons)
	}
	if !reflect.DeepEqual(res.Reasons, tallyMap(&res.Summary.Calls)) {
		t.Errorf("reasons %v differ from the engine's summary %v", res.Reasons, tallyMap(&res.Summary.Calls))
	}
	wantAgents := map[string]int{"imported": 1, "excluded/no_email": 1, "excluded/filtered_out": 1, "excluded/not_agent": 1}
	if !reflect.DeepEqual(res.Agents, wantAgents) {
		t.Errorf("agents %v, want %v", res.Agents, wantAgents)
	}
	wantStages := []StageCount{
		{Stage: "source", In: 11, Out: 9, Left: map[string]int{"bad_row": 2}},
		{Stage: "after_rules", In: 9, Out: 5, Left: map[string]int{"before_window": 1, "agent_without_email": 1, "agent_filtered": 1, "too_short": 1}},
		{Stage: "after_filters", In: 5, Out: 4, Left: map[string]int{"filtered_out": 1}},
		{Stage: "mapped", In: 4, Out: 3, Left: map[string]int{"mapping_error": 1}},
	}
	if !reflect.DeepEqual(res.Stages, wantStages) {
		t.Errorf("stages %+v\nwant %+v", res.Stages, wantStages)
	}
	if want := (DiffCounts{Calls: ChangeCounts{New: 10}, Agents: ChangeCounts{New: 4}}); res.Diff != want {
		t.Errorf("diff %+v, want %+v", res.Diff, want)
	}
	if res.WouldSend.Calls != 3 || res.WouldSend.Agents != 1 {
		t.Errorf("would send %+v", res.WouldSend)
	}
	if _, err := os.Stat(filepath.Join(dir, ".applink", "state.duckdb")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a preview created the state file: %v", err)
	}
	if names := dirNames(t, filepath.Join(dir, ".applink")); !slices.Equal(names, []string{"preview.duckdb"}) {
		t.Errorf("files left beside the preview: %v", names)
	}

	d, err := OpenDB(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	// The stored rows agree with the engine's counts, table by table.
	stored := map[string]int{}
	rows, err := d.db.QueryContext(ctx, `SELECT state, reason, count(*) FROM results GROUP BY ALL`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s, r string
		var n int
		rows.Scan(&s, &r, &n)
		stored[reasonKey(s, r)] = n
	}
	rows.Close()
	if !reflect.DeepEqual(stored, tallyMap(&res.Summary.Calls)) {
		t.Errorf("results table %v, summary %v", stored, tallyMap(&res.Summary.Calls))
	}
	for _, c := range []struct {
		q    string
		want int
	}{
		{`SELECT count(*) FROM calls`, 10},
		{`SELECT count(*) FROM after_rules`, 5},
		{`SELECT count(*) FROM after_filters`, 4},
		{`SELECT count(*) FROM mapped_calls`, 3},
		{`SELECT count(*) FROM rejects`, 7},
		{`SELECT count(*) FROM agents`, 4},
		{`SELECT count(*) FROM diff`, 14},
		{`SELECT count(*) FROM bd`, 0},
	} {
		var n int
		if err := d.db.QueryRowContext(ctx, c.q).Scan(&n); err != nil || n != c.want {
			t.Errorf("%s: %d (%v), want %d", c.q, n, err, c.want)
		}
	}

	back, err := d.Result(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := res.JSON()
	b, _ := back.JSON()
	if !bytes.Equal(a, b) {
		t.Errorf("stored result differs from Run's:\n%s\n%s", b, a)
	}
	if !reflect.DeepEqual(back.Summary.Calls, res.Summary.Calls) {
		t.Errorf("stored tally %+v, run's %+v", back.Summary.Calls, res.Summary.Calls)
	}

	normalize(res)
	js, err := res.JSON()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "result.json.golden", js)
	var text bytes.Buffer
	res.WriteText(&text)
	golden(t, "result.txt.golden", text.Bytes())
}

func TestRows(t *testing.T) {
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "preview.duckdb")
	runPreview(t, dbPath, "", testSource(), false)
	d, err := OpenDB(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cases := []struct {
		name string
		q    RowQuery
		want []string
	}{
		{"all", RowQuery{}, []string{"C1", "C2", "C3", "C4", "C5", "C6", "C8", "C9", "C10", "C11"}},
		{"after rules", RowQuery{Stage: "after_rules"}, []string{"C1", "C2", "C4", "C5", "C8"}},
		{"after filters", RowQuery{Stage: "after_filters"}, []string{"C1", "C2", "C5", "C8"}},
		{"mapped", RowQuery{Stage: "mapped"}, []string{"C1", "C2", "C8"}},
		{"rejects", RowQuery{Stage: "rejects"}, []string{"C3", "C4", "C5", "C6", "C9", "C10", "C11"}},
		{"reason", RowQuery{Reason: "too_short"}, []string{"C11"}},
		{"state", RowQuery{State: "failed"}, []string{"C6"}},
		{"state and reason", RowQuery{State: "imported", Reason: "agent_unmapped"}, []string{"C8"}},
		{"change", RowQuery{Change: "new", Limit: 2}, []string{"C1", "C2"}},
		{"offset", RowQuery{Limit: 2, Offset: 8}, []string{"C10", "C11"}},
		{"filter call id", RowQuery{Filter: "c1"}, []string{"C1", "C10", "C11"}},
		{"filter ani", RowQuery{Filter: "70000C9"}, []string{"C9"}},
		{"filter agent user", RowQuery{Filter: "U1", Stage: "mapped"}, []string{"C1", "C2"}},
		{"removed: none", RowQuery{Change: "removed"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows, err := d.Rows(ctx, c.q)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range rows {
				ids = append(ids, r.CallID)
			}
			if !slices.Equal(ids, c.want) {
				t.Errorf("got %v, want %v", ids, c.want)
			}
		})
	}
	if _, err := d.Rows(ctx, RowQuery{Stage: "nope"}); err == nil {
		t.Error("unknown stage accepted")
	}
	rows, _ := d.Rows(ctx, RowQuery{Reason: "mapping_error"})
	if len(rows) != 1 || rows[0].Stage != StageMapping || !strings.Contains(rows[0].Detail, "field Total") || rows[0].Source != "dc1" {
		t.Errorf("mapping error row %+v", rows)
	}
}

func TestCall(t *testing.T) {
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "preview.duckdb")
	runPreview(t, dbPath, "", testSource(), true)
	d, err := OpenDB(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	c, err := d.Call(ctx, "C1")
	if err != nil {
		t.Fatal(err)
	}
	want := goodCall("C1", "a1")
	if c.Call != want {
		t.Errorf("call %+v\nwant %+v", c.Call, want)
	}
	if got := string(c.BusinessData); got != `{"text":{"Customer":"Zoë \"Q\"\n"},"number":{"Total":12.5},"boolean":{"VIP":true}}` {
		t.Errorf("business data %s", got)
	}
	if c.State != "imported" || c.Stage != "mapped" || c.AgentUserID != "u1" || c.Change != "new" || c.Prev != nil || c.FP == 0 {
		t.Errorf("verdict %+v", c)
	}
	if wantBD := [][2]string{{"Customer", "Zoë \"Q\"\n"}, {"Total", "12.5"}, {"Tier", "gold"}}; !reflect.DeepEqual(c.SourceBD, wantBD) {
		t.Errorf("source bd %q", c.SourceBD)
	}

	c, err = d.Call(ctx, "C8")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(c.BusinessData); got != `{"text":{},"number":{"Total":7},"boolean":{"VIP":true}}` || c.Reason != "agent_unmapped" || c.AgentUserID != "" {
		t.Errorf("unmapped call %+v %s", c, c.BusinessData)
	}
	c, err = d.Call(ctx, "C10")
	if err != nil {
		t.Fatal(err)
	}
	if c.BusinessData != nil || c.Reason != "agent_filtered" || c.Stage != "rules" {
		t.Errorf("excluded call %+v", c)
	}
	c, err = d.Call(ctx, "C6")
	if err != nil {
		t.Fatal(err)
	}
	if c.State != "failed" || c.Stage != "source" || c.Detail != "calls.csv:7: bad start_time" {
		t.Errorf("bad row %+v", c)
	}
	if _, err := d.Call(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown call: %v", err)
	}
}

// buildState commits a ledger with the given rows, as a run would.
func buildState(t testing.TB, path string, rows []stateRow) {
	t.Helper()
	ctx := context.Background()
	s, err := duckstate.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := s.Begin("r1", "spec", filepath.Join(t.TempDir(), "staging"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := l.Row(r.row, r.fp, r.active); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Commit(ctx, &engine.RunRecord{RunID: "r1", PlanHash: "p"}); err != nil {
		t.Fatal(err)
	}
}

type stateRow struct {
	row    connector.LedgerRow
	fp     uint64
	active bool
}

func TestDiffAgainstState(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	first := filepath.Join(dir, "first.duckdb")
	runPreview(t, first, "", testSource(), false)
	d, err := OpenDB(first)
	if err != nil {
		t.Fatal(err)
	}
	fp := func(id string) uint64 {
		c, err := d.Call(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return c.FP
	}
	var agentFP uint64
	if err := d.db.QueryRowContext(ctx, `SELECT fp FROM agents WHERE user_id = 'u1'`).Scan(&agentFP); err != nil {
		t.Fatal(err)
	}
	c1, c3 := fp("C1"), fp("C3")
	d.Close()

	statePath := filepath.Join(dir, "state", "state.duckdb")
	buildState(t, statePath, []stateRow{
		{connector.LedgerRow{Entity: "call", ID: "C1", State: "imported"}, c1, false},                          // unchanged
		{connector.LedgerRow{Entity: "call", ID: "C2", State: "excluded", Reason: "too_short"}, 42, false},     // changed
		{connector.LedgerRow{Entity: "call", ID: "C3", State: "excluded", Reason: "before_window"}, c3, false}, // unchanged
		{connector.LedgerRow{Entity: "call", ID: "C0", State: "imported", Detail: "gone"}, 7, false},           // removed
		{connector.LedgerRow{Entity: "agent", ID: "u1", State: "imported"}, agentFP, false},                    // unchanged, reactivated
		{connector.LedgerRow{Entity: "agent", ID: "u2", State: "imported"}, 9, true},                           // changed
		{connector.LedgerRow{Entity: "agent", ID: "u0", State: "imported"}, 9, true},                           // removed
		{connector.LedgerRow{Entity: "agent", ID: "C1", State: "excluded", Reason: "not_agent"}, c1, true},     // an agent id equal to a call id: removed, not confused
	})
	before := fileHash(t, statePath)
	beforeNames := dirNames(t, filepath.Dir(statePath))

	dbPath := filepath.Join(dir, "preview.duckdb")
	res := runPreview(t, dbPath, statePath, testSource(), false)

	if after := fileHash(t, statePath); after != before {
		t.Error("the preview changed the state file")
	}
	if names := dirNames(t, filepath.Dir(statePath)); !slices.Equal(names, beforeNames) {
		t.Errorf("state folder %v, was %v", names, beforeNames)
	}
	want := DiffCounts{
		Calls:  ChangeCounts{New: 7, Changed: 1, Unchanged: 2, Removed: 1},
		Agents: ChangeCounts{New: 2, Changed: 1, Unchanged: 1, Removed: 2},
	}
	if res.Diff != want {
		t.Errorf("diff %+v\nwant %+v", res.Diff, want)
	}
	s := res.Summary
	if s.CallDiff.New != 7 || s.CallDiff.Changed != 1 || s.CallDiff.Unchanged != 2 || s.Removed.Calls != 1 || s.Removed.Agents != 2 {
		t.Errorf("summary diff %+v removed %+v", s.CallDiff, s.Removed)
	}
	if wantDrift := []engine.DriftRow{{UserID: "u1", Change: "reactivated"}}; !reflect.DeepEqual(s.AgentDiff.Drift, wantDrift) {
		t.Errorf("drift %+v", s.AgentDiff.Drift)
	}
	if res.WouldSend.Calls != 2 { // C2 changed, C8 new; C1 unchanged
		t.Errorf("would send %+v", res.WouldSend)
	}

	d, err = OpenDB(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, c := range []struct {
		id, change string
		prev       *PrevState
	}{
		{"C1", "unchanged", &PrevState{State: "imported"}},
		{"C2", "changed", &PrevState{State: "excluded", Reason: "too_short"}},
		{"C5", "new", nil},
		{"C0", "removed", &PrevState{State: "imported", Detail: "gone"}},
	} {
		got, err := d.Call(ctx, c.id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Change != c.change || !reflect.DeepEqual(got.Prev, c.prev) {
			t.Errorf("%s: change %s prev %+v, want %s %+v", c.id, got.Change, got.Prev, c.change, c.prev)
		}
	}
	for _, c := range []struct {
		change string
		want   []string
	}{{"changed", []string{"C2"}}, {"unchanged", []string{"C1", "C3"}}, {"removed", []string{"C0"}}} {
		rows, err := d.Rows(ctx, RowQuery{Change: c.change})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range rows {
			ids = append(ids, r.CallID)
		}
		if !slices.Equal(ids, c.want) {
			t.Errorf("%s rows %v, want %v", c.change, ids, c.want)
		}
	}
}

func TestCancelledPreviewKeepsPrevious(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "preview.duckdb")
	runPreview(t, dbPath, "", testSource(), false)
	before := fileHash(t, dbPath)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := testSource()
	for range 3000 { // enough calls for several batches to reach the appender first
		src.calls = append(src.calls, memCall{call: goodCall("X", "a1"), bd: bd("a", "1", "gold")})
	}
	src.cancelAfter, src.cancel = 2500, cancel
	_, err := Run(ctx, testPlan(t), Options{DBPath: dbPath, Sources: []connector.Source{src}})
	if err == nil || !errors.Is(err, engine.ErrInterrupted) {
		t.Fatalf("cancelled preview: %v", err)
	}
	if after := fileHash(t, dbPath); after != before {
		t.Error("a cancelled preview changed the previous preview file")
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"preview.duckdb"}) {
		t.Errorf("files left: %v", names)
	}
	d, err := OpenDB(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if r, err := d.Result(context.Background()); err != nil || r.Summary.SourceRows != 11 {
		t.Errorf("previous preview unreadable: %v", err)
	}
}

func TestBadInputs(t *testing.T) {
	dir := t.TempDir()
	plan := testPlan(t)
	ctx := context.Background()
	notDuck := filepath.Join(dir, "state.duckdb")
	os.WriteFile(notDuck, []byte("not a database"), 0o644)
	cases := []struct {
		name string
		plan *engine.Plan
		opts Options
		want string
	}{
		{"no plan", nil, Options{DBPath: filepath.Join(dir, "p.duckdb")}, "no plan"},
		{"no path", plan, Options{}, "no preview file"},
		{"preview is the state", plan, Options{DBPath: notDuck, StatePath: notDuck}, "is the state file"},
		{"state not a database", plan, Options{DBPath: filepath.Join(dir, "p.duckdb"), StatePath: notDuck, Sources: []connector.Source{testSource()}}, "read-only"},
		{"no connector", plan, Options{DBPath: filepath.Join(dir, "p.duckdb")}, "no connector"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Run(ctx, c.plan, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want it to mention %q", err, c.want)
			}
		})
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"state.duckdb"}) {
		t.Errorf("failed previews left files: %v", names)
	}
	if got, _ := os.ReadFile(notDuck); string(got) != "not a database" {
		t.Error("the state file was written")
	}
	if _, err := OpenDB(filepath.Join(dir, "missing.duckdb")); err == nil {
		t.Error("opened a missing preview file")
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.duckdb")); !errors.Is(err, os.ErrNotExist) {
		t.Error("OpenDB created a file")
	}
}

// TestCommitsInSlices: a preview longer than one transaction stores every
// row once, and a cancel after some commits still leaves no file behind.
func TestCommitsInSlices(t *testing.T) {
	defer func(n int) { commitEvery = n }(commitEvery)
	commitEvery = 1000
	big := func() *memSource {
		src := testSource()
		for i := range 5000 {
			src.calls = append(src.calls, memCall{call: goodCall(fmt.Sprintf("X%05d", i), "a1"), bd: bd("a", "1", "gold")})
		}
		return src
	}
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "preview.duckdb")
	res := runPreview(t, dbPath, "", big(), false)
	if res.Reasons["imported"] != 5002 || res.Summary.SourceRows != 5011 {
		t.Fatalf("reasons %v, rows %d", res.Reasons, res.Summary.SourceRows)
	}
	d, err := OpenDB(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		q    string
		want int
	}{{`SELECT count(*) FROM calls`, 5010}, {`SELECT count(DISTINCT pos) FROM results`, 5010}, {`SELECT count(*) FROM mapped_calls`, 5003}} {
		var n int
		if err := d.db.QueryRow(c.q).Scan(&n); err != nil || n != c.want {
			t.Errorf("%s: %d (%v), want %d", c.q, n, err, c.want)
		}
	}
	d.Close()
	before := fileHash(t, dbPath)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := big()
	src.cancelAfter, src.cancel = 4500, cancel
	if _, err := Run(ctx, testPlan(t), Options{DBPath: dbPath, Sources: []connector.Source{src}}); !errors.Is(err, engine.ErrInterrupted) {
		t.Fatalf("cancelled: %v", err)
	}
	if fileHash(t, dbPath) != before {
		t.Error("the previous preview changed")
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"preview.duckdb"}) {
		t.Errorf("files left: %v", names)
	}
}
