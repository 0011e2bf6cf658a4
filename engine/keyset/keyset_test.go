package keyset

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// Every way of building gives the same set: in memory or spilled, pairs
// in key order, reversed or shuffled, one sort group or many.
func TestBuildAndFind(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	keys := make([]uint64, 5000)
	for i := range keys {
		keys[i] = r.Uint64()
	}
	sorted := slices.Sorted(slices.Values(keys))
	reversed := slices.Clone(sorted)
	slices.Reverse(reversed)
	for _, tc := range []struct {
		name    string
		lim     Limits
		in      []uint64
		spilled bool
	}{
		{"in memory", Limits{Mem: 8000}, keys, false},
		{"spilled, key order", Limits{Mem: 300, Group: 64}, sorted, true},
		{"spilled, any order", Limits{Mem: 300, Group: 64}, keys, true},
		{"spilled, reverse order", Limits{Mem: 300, Group: 100}, reversed, true},
		{"spilled, one group", Limits{Mem: 1000, Group: 1 << 20}, keys, true},
		{"spilled at the first pair", Limits{Mem: -1, Group: 10}, keys, true},
		{"empty", Limits{}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuilder(len(tc.in), tc.lim)
			for _, k := range tc.in {
				b.Add(k, ^k)
			}
			s, err := b.Finish()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Len() != len(tc.in) || s.Spilled() != tc.spilled {
				t.Fatalf("%d pairs, spilled %v", s.Len(), s.Spilled())
			}
			for _, k := range tc.in {
				pos, v, ok := s.Find(k)
				if !ok || v != ^k || sorted[pos] != k {
					t.Fatalf("key %x: pos %d value %x %v", k, pos, v, ok)
				}
			}
			if _, _, ok := s.Find(sorted[0] - 1); ok && len(tc.in) > 0 {
				t.Error("a key below the smallest found")
			}
			var got []uint64
			s.Each(func(pos int, key, val uint64) {
				if pos != len(got) || val != ^key {
					t.Fatalf("Each: pos %d after %d pairs, value %x for key %x", pos, len(got), val, key)
				}
				got = append(got, key)
			})
			if !slices.Equal(got, sorted[:len(got)]) || len(got) != len(tc.in) {
				t.Error("Each is not the pairs in key order")
			}
			if s.Repeats() {
				t.Error("distinct keys reported as repeated")
			}
		})
	}
}

// Keys at the extremes of the range and runs of neighbours land on block
// boundaries of the sparse index.
func TestEdgeKeys(t *testing.T) {
	keys := []uint64{0, 1, 2, 1<<64 - 1, 1<<64 - 2, 1 << 63}
	for i := range uint64(600) {
		keys = append(keys, 1<<40+i*2)
	}
	for _, sorted := range []bool{true, false} {
		b := NewBuilder(0, Limits{Mem: 10, Group: 7})
		in := slices.Clone(keys)
		if sorted {
			slices.Sort(in)
		}
		for _, k := range in {
			b.Add(k, k<<1)
		}
		s, err := b.Finish()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if _, got, ok := s.Find(k); !ok || got != k<<1 {
				t.Errorf("sorted %v: key %x: %x %v", sorted, k, got, ok)
			}
		}
		for _, k := range []uint64{3, 1<<40 + 1, 1<<40 + 5000, 1<<64 - 3} {
			if _, _, ok := s.Find(k); ok {
				t.Errorf("sorted %v: absent key %x found", sorted, k)
			}
		}
		s.Close()
	}
}

// Repeats finds a key added twice wherever it falls: in memory, or in a
// spilled file, first or last in key order.
func TestRepeats(t *testing.T) {
	distinct := func(n int) []uint64 {
		keys := make([]uint64, n)
		for i := range keys {
			keys[i] = uint64(i) * 0x9E3779B97F4A7C15
		}
		return keys
	}
	for _, tc := range []struct {
		name string
		mem  int
		keys []uint64
		want bool
	}{
		{"none, in memory", 1000, distinct(500), false},
		{"one, in memory", 1000, append(distinct(500), distinct(8)[7]), true},
		{"none, spilled", 50, distinct(3000), false},
		{"the smallest key, spilled", 50, append(distinct(3000), 0), true},
		{"the largest key, spilled", 50, append(distinct(3000), slices.Max(distinct(3000))), true},
		{"no pairs", 50, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuilder(0, Limits{Mem: tc.mem, Group: 64})
			for _, k := range tc.keys {
				b.Add(k, 0)
			}
			s, err := b.Finish()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got := s.Repeats(); got != tc.want {
				t.Errorf("Repeats %v, want %v", got, tc.want)
			}
		})
	}
}
