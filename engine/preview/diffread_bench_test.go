package preview

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/applink-dev/applink/engine/connector"
)

// BenchmarkDiffRead: what a key of the TUI's diff pane costs on a big
// preview (APPLINK_BENCH_CALLS calls, default 100 000) whose one change is
// the last call: a page at the end, ] from the top to it, [ back, and a
// page of one kind far down.
//
//	APPLINK_BENCH_CALLS=1000000 go test -run XXX -bench DiffRead ./engine/preview
func BenchmarkDiffRead(b *testing.B) {
	ctx := context.Background()
	n := benchCalls()
	dir := b.TempDir()
	src := func() *memSource { return manyCalls(n, "C%07d") }
	first := filepath.Join(dir, "first.duckdb")
	if _, err := Run(ctx, testPlan(b), Options{DBPath: first, Sources: []connector.Source{src()}}); err != nil {
		b.Fatal(err)
	}
	d, err := OpenDB(first)
	if err != nil {
		b.Fatal(err)
	}
	var led []stateRow
	rows, err := d.db.QueryContext(ctx, `SELECT call_id, fp, pos FROM results`)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var id string
		var fp uint64
		var pos int
		if err := rows.Scan(&id, &fp, &pos); err != nil {
			b.Fatal(err)
		}
		if pos == n-1 {
			fp ^= 2 // the last call changed
		}
		led = append(led, stateRow{row: connector.LedgerRow{Entity: "call", ID: id, State: "imported"}, fp: fp})
	}
	rows.Close()
	d.Close()
	statePath := filepath.Join(dir, "state.duckdb")
	buildState(b, statePath, led)
	led = nil
	dbPath := filepath.Join(dir, "preview.duckdb")
	if _, err := Run(ctx, testPlan(b), Options{DBPath: dbPath, StatePath: statePath, Sources: []connector.Source{src()}}); err != nil {
		b.Fatal(err)
	}
	d, err = OpenDB(dbPath)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()

	for _, c := range []struct {
		name string
		fn   func() error
	}{
		{"page_at_end", func() error {
			r, err := d.DiffRows(ctx, DiffQuery{Offset: n - 200, Limit: 200})
			if err == nil && len(r) != 200 {
				err = fmt.Errorf("%d rows", len(r))
			}
			return err
		}},
		{"next_change_from_top", func() error {
			i, err := d.NextChange(ctx, "", 0, 1)
			if err == nil && i != n-1 {
				err = fmt.Errorf("next change at %d, want %d", i, n-1)
			}
			return err
		}},
		{"prev_change_none", func() error {
			i, err := d.NextChange(ctx, "", n-1, -1)
			if err == nil && i != -1 {
				err = fmt.Errorf("previous change at %d", i)
			}
			return err
		}},
		{"unchanged_page_far_down", func() error {
			_, err := d.DiffRows(ctx, DiffQuery{Change: ChangeUnchanged, Offset: n - 300, Limit: 200})
			return err
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := c.fn(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/key")
		})
	}
}
