package outbox

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
)

type cumRun struct {
	calls  map[string]string // imported call id -> Customer value
	ledger []connector.LedgerRow
}

func runCumulative(t *testing.T, dir, runID string, r cumRun, stage string) {
	t.Helper()
	ctx := context.Background()
	c := NewCumulative(dir)
	if stage != "" {
		c.StageTo(stage)
	}
	fields := []dsl.Field{{Type: dsl.TypeText, Name: "Customer"}}
	if err := c.Open(ctx, connector.RunInfo{RunID: runID, Fields: fields}); err != nil {
		t.Fatal(err)
	}
	for _, l := range r.ledger {
		if v, ok := r.calls[l.ID]; ok && l.Entity == "call" {
			call := &connector.OutCall{CallID: l.ID, StartTime: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC), Direction: "in",
				Values: []connector.Value{{Field: 0, Text: []byte(v)}}}
			if err := c.Call(ctx, call); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Ledger(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

func ids(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.HasPrefix(line, `{"call_id":"`) {
			id := strings.TrimPrefix(line, `{"call_id":"`)
			id = id[:strings.IndexByte(id, '"')]
			cust := line[strings.Index(line, `"Customer":"`)+12:]
			out = append(out, id+"="+cust[:strings.IndexByte(cust, '"')])
		} else {
			out = append(out, line)
		}
	}
	return strings.Join(out, " ")
}

func TestCumulativeMerge(t *testing.T) {
	dir := t.TempDir()
	imp := func(id string) connector.LedgerRow {
		return connector.LedgerRow{Entity: "call", ID: id, State: connector.StateImported}
	}
	runCumulative(t, dir, "r1", cumRun{calls: map[string]string{"C1": "a", "C2": "b"}, ledger: []connector.LedgerRow{imp("C1"), imp("C2")}}, filepath.Join(dir, "stage1"))
	// Run 2 changes C2, adds C3, and C1 is now excluded: its line goes.
	r2 := cumRun{calls: map[string]string{"C2": "b2", "C3": "c"},
		ledger: []connector.LedgerRow{{Entity: "call", ID: "C1", State: connector.StateExcluded, Reason: "too_short"}, imp("C2"), imp("C3")}}
	runCumulative(t, dir, "r2", r2, "")
	want := "C2=b2 C3=c"
	if got := ids(t, filepath.Join(dir, "calls.jsonl")); got != want {
		t.Fatalf("calls after run 2: %s, want %s", got, want)
	}
	wantLedger := "entity,id,state,reason call,C1,excluded,too_short call,C2,imported, call,C3,imported,"
	if got := ids(t, filepath.Join(dir, "ledger.csv")); got != wantLedger {
		t.Errorf("ledger: %s\nwant:   %s", got, wantLedger)
	}
	// The same run merged again (a crash before the state committed) gives
	// the same files.
	runCumulative(t, dir, "r2again", r2, "")
	if got := ids(t, filepath.Join(dir, "calls.jsonl")); got != want {
		t.Errorf("calls after re-merge: %s, want %s", got, want)
	}
	if got := ids(t, filepath.Join(dir, "ledger.csv")); got != wantLedger {
		t.Errorf("ledger after re-merge: %s", got)
	}
	// A run that touches nothing leaves the files alone.
	st, _ := os.Stat(filepath.Join(dir, "calls.jsonl"))
	runCumulative(t, dir, "r3", cumRun{}, "")
	st2, _ := os.Stat(filepath.Join(dir, "calls.jsonl"))
	if !os.SameFile(st, st2) {
		t.Error("a run that changed nothing rewrote calls.jsonl")
	}
	// The staged copy of run 1 still holds what run 1 sent.
	if got := ids(t, filepath.Join(dir, "stage1", "calls.jsonl")); got != "C1=a C2=b" {
		t.Errorf("stage of run 1: %s", got)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".run-*")); len(left) != 0 {
		t.Errorf("run folders left: %v", left)
	}
}
