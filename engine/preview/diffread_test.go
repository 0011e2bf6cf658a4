package preview

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/applink-dev/applink/engine/connector"
)

// TestDiffPagesAndJumps: the diff of 1 200 calls against a state where
// changes sit far past the first 500 rows. Pages are read anywhere, and
// NextChange finds every change in both directions, the rows no longer in
// the source included.
func TestDiffPagesAndJumps(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const n = 1200
	src := func() *memSource { return manyCalls(n, "C%04d") }
	first := filepath.Join(dir, "first.duckdb")
	runPreview(t, first, "", src(), false)
	d, err := OpenDB(first)
	if err != nil {
		t.Fatal(err)
	}
	fps := map[string]uint64{}
	rows, err := d.db.QueryContext(ctx, `SELECT call_id, fp FROM results`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var fp uint64
		if err := rows.Scan(&id, &fp); err != nil {
			t.Fatal(err)
		}
		fps[id] = fp
	}
	rows.Close()
	d.Close()

	// The last run knew every call but C0701, saw C0003 and C1101
	// otherwise, and had two calls the source no longer has.
	var led []stateRow
	for id, fp := range fps {
		switch id {
		case "C0701":
			continue
		case "C0003", "C1101":
			fp ^= 2
		}
		led = append(led, stateRow{row: connector.LedgerRow{Entity: "call", ID: id, State: "imported"}, fp: fp})
	}
	for _, id := range []string{"Z2", "Z1"} {
		led = append(led, stateRow{row: connector.LedgerRow{Entity: "call", ID: id, State: "imported"}, fp: 1})
	}
	statePath := filepath.Join(dir, "state.duckdb")
	buildState(t, statePath, led)
	dbPath := filepath.Join(dir, "preview.duckdb")
	runPreview(t, dbPath, statePath, src(), false)
	d, err = OpenDB(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	var lo, hi, cnt int
	if err := d.db.QueryRowContext(ctx, `SELECT min(pos), max(pos), count(*) FROM results`).Scan(&lo, &hi, &cnt); err != nil {
		t.Fatal(err)
	}
	if lo != 0 || hi != n-1 || cnt != n {
		t.Fatalf("results.pos is not dense: min %d max %d count %d (DiffRows and NextChange rely on it)", lo, hi, cnt)
	}

	lens := map[string]int{"": n + 2, ChangeNew: 1, ChangeChanged: 2, ChangeUnchanged: n - 3, ChangeRemoved: 2}
	for kind, want := range lens {
		if got, err := d.DiffLen(ctx, kind); err != nil || got != want {
			t.Errorf("DiffLen(%q) = %d, %v; want %d", kind, got, err, want)
		}
	}
	if _, err := d.DiffLen(ctx, "moved"); err == nil {
		t.Error("an unknown kind was accepted")
	}

	pages := []struct {
		q    DiffQuery
		want []string
	}{
		{DiffQuery{Offset: 0, Limit: 3}, []string{"C0001", "C0002", "C0003"}},
		{DiffQuery{Offset: 640, Limit: 3}, []string{"C0641", "C0642", "C0643"}},
		{DiffQuery{Offset: 1197, Limit: 10}, []string{"C1198", "C1199", "C1200", "Z1", "Z2"}},
		{DiffQuery{Offset: 1201, Limit: 10}, []string{"Z2"}},
		{DiffQuery{Offset: 1300, Limit: 10}, nil},
		{DiffQuery{Change: ChangeChanged, Limit: 10}, []string{"C0003", "C1101"}},
		{DiffQuery{Change: ChangeNew, Limit: 10}, []string{"C0701"}},
		{DiffQuery{Change: ChangeRemoved, Offset: 1, Limit: 10}, []string{"Z2"}},
	}
	for _, p := range pages {
		got, err := d.DiffRows(ctx, p.q)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for i, r := range got {
			ids = append(ids, r.CallID)
			if p.q.Change == "" && r.Pos >= 0 && r.Pos != int64(p.q.Offset+i) {
				t.Errorf("%+v: row %s at index %d has pos %d", p.q, r.CallID, p.q.Offset+i, r.Pos)
			}
		}
		if !slices.Equal(ids, p.want) {
			t.Errorf("DiffRows(%+v) = %v, want %v", p.q, ids, p.want)
		}
	}

	// ] from the top visits every change; [ from the bottom, the same ones
	// in reverse.
	var fwd, back []int
	for i := 0; ; {
		next, err := d.NextChange(ctx, "", i, 1)
		if err != nil {
			t.Fatal(err)
		}
		if next < 0 {
			break
		}
		fwd = append(fwd, next)
		i = next
	}
	for i := n + 2; ; {
		prev, err := d.NextChange(ctx, "", i, -1)
		if err != nil {
			t.Fatal(err)
		}
		if prev < 0 {
			break
		}
		back = append(back, prev)
		i = prev
	}
	wantFwd := []int{2, 700, 1100, 1200, 1201}
	if !slices.Equal(fwd, wantFwd) {
		t.Errorf("forward jumps %v, want %v", fwd, wantFwd)
	}
	slices.Reverse(wantFwd)
	if !slices.Equal(back, wantFwd) {
		t.Errorf("backward jumps %v, want %v", back, wantFwd)
	}
	for _, c := range []struct {
		kind           string
		from, dir, out int
	}{
		{ChangeChanged, 0, 1, 1}, {ChangeChanged, 1, 1, -1}, {ChangeChanged, 1, -1, 0},
		{ChangeUnchanged, 0, 1, -1}, {"", 1201, 1, -1}, {"", 2, -1, -1},
	} {
		if got, err := d.NextChange(ctx, c.kind, c.from, c.dir); err != nil || got != c.out {
			t.Errorf("NextChange(%q, %d, %d) = %d, %v; want %d", c.kind, c.from, c.dir, got, err, c.out)
		}
	}
}

// manyCalls is a source of n calls that pass every rule, ids in format.
func manyCalls(n int, format string) *memSource {
	s := &memSource{agents: []connector.AgentRecord{agentRec("u1", "a1", "one@acme.example")}}
	for i := range n {
		s.calls = append(s.calls, memCall{call: goodCall(fmt.Sprintf(format, i+1), "a1"), bd: bd("K", "1", "gold")})
	}
	return s
}

func TestOpenIfExists(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "preview.duckdb")
	res, db, err := OpenIfExists(ctx, path)
	if res != nil || db != nil || err != nil {
		t.Fatalf("no file: got %v, %v, %v", res, db, err)
	}
	runPreview(t, path, "", testSource(), false)
	res, db, err = OpenIfExists(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if res.Summary.SourceRows == 0 || res.DBPath != path {
		t.Errorf("result %+v", res)
	}
}
