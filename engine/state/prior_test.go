package state

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/applink-dev/applink/engine/keyset"
)

// smallTunables makes tests exercise the spilled and grouped paths with a
// few thousand rows.
func smallTunables(t testing.TB, mem, group int) {
	t.Helper()
	l := indexLimits
	indexLimits = keyset.Limits{Mem: mem, Group: group}
	t.Cleanup(func() { indexLimits = l })
}

type priorRow struct {
	entity, id string
	fp         uint64
	active     bool
}

func priorRows(n int, seed uint64) []priorRow {
	r := rand.New(rand.NewPCG(seed, 7))
	rows := make([]priorRow, n)
	for i := range rows {
		rows[i] = priorRow{entity: "call", id: fmt.Sprintf("C%08d", i), fp: r.Uint64() &^ 1}
		if i%50 == 0 {
			rows[i].entity, rows[i].active = "agent", i%100 == 0
		}
	}
	return rows
}

// Every way of building gives the same answers: in memory or spilled,
// rows in key order or not, lookups in any order; Unseen counts exactly the
// rows not looked up.
func TestIndexBuildAndLookup(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		rows                 int
		mem, group           int
		sortedInput, reverse bool
	}{
		{name: "empty", rows: 0, mem: 64, group: 64},
		{name: "in memory", rows: 1000, mem: 4096, group: 64},
		{name: "spilled, key order", rows: 5000, mem: 300, group: 64, sortedInput: true},
		{name: "spilled, any order", rows: 5000, mem: 300, group: 64},
		{name: "spilled, reverse key order", rows: 5000, mem: 300, group: 100, sortedInput: true, reverse: true},
		{name: "spilled, one group", rows: 3000, mem: 1000, group: 1 << 20},
		{name: "spilled at the first row", rows: 777, mem: -1, group: 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			smallTunables(t, tc.mem, tc.group)
			rows := priorRows(tc.rows, 1)
			in := slices.Clone(rows)
			if tc.sortedInput {
				slices.SortFunc(in, func(a, b priorRow) int { return cmp.Compare(rowKey(a.entity, a.id), rowKey(b.entity, b.id)) })
				if tc.reverse {
					slices.Reverse(in)
				}
			}
			b := NewIndexBuilder(len(in))
			for _, r := range in {
				b.Add(rowKey(r.entity, r.id), r.fp, r.active)
			}
			x, err := b.Finish()
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			if x.Len() != len(rows) {
				t.Fatalf("Len %d, want %d", x.Len(), len(rows))
			}
			if spilled := x.set.Spilled(); spilled != (tc.rows > tc.mem) {
				t.Fatalf("spilled %v with %d rows, %d in memory at most", spilled, tc.rows, tc.mem)
			}
			// Look up two thirds of the rows, some twice, in a random order.
			order := rand.New(rand.NewPCG(2, 3)).Perm(len(rows))
			wantAgents, wantCalls := 0, 0
			for j, i := range order {
				r := rows[i]
				if j%3 == 2 {
					if r.entity == "agent" {
						wantAgents++
					} else {
						wantCalls++
					}
					continue
				}
				for range 1 + j%5/4 {
					fp, active, ok := x.Lookup(r.entity, r.id)
					if !ok || fp != r.fp || active != r.active {
						t.Fatalf("%s %s: %x %v %v, want %x %v", r.entity, r.id, fp, active, ok, r.fp, r.active)
					}
				}
			}
			for _, miss := range [][2]string{{"call", "nope"}, {"agent", "C00000001"}, {"call", ""}} {
				if _, _, ok := x.Lookup(miss[0], miss[1]); ok {
					t.Errorf("%s %q found", miss[0], miss[1])
				}
			}
			if a, c := x.Unseen(); a != wantAgents || c != wantCalls {
				t.Errorf("unseen %d agents %d calls, want %d and %d", a, c, wantAgents, wantCalls)
			}
		})
	}
}
