package snapshot

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"
)

// The sorter merges many spilled runs into order, and its run files are
// gone from the folder while it uses them (where the system lets an open
// file be removed), so that a run killed mid-sort leaves nothing behind.
func TestExtSorterRunsLeaveNothing(t *testing.T) {
	dir := t.TempDir()
	cmp := func(a, b []byte) int { return bytes.Compare(a, b) }
	prefix := func(r []byte) uint64 { return binary.BigEndian.Uint64(r) }
	s := newExtSorter(dir, 1<<10, cmp, prefix)
	defer s.close()
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 5000
	for range n {
		var rec [12]byte
		binary.BigEndian.PutUint64(rec[:], rng.Uint64())
		binary.BigEndian.PutUint32(rec[8:], rng.Uint32())
		if err := s.add(rec[:]); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.runs) < 10 {
		t.Fatalf("%d runs spilled, want many", len(s.runs))
	}
	it, err := s.iter()
	if err != nil {
		t.Fatal(err)
	}
	if left, err := os.ReadDir(dir); err != nil || (runtime.GOOS != "windows" && len(left) != 0) {
		t.Fatalf("run files in the folder while sorting: %v, %v", left, err)
	}
	var prev []byte
	for i := 0; ; i++ {
		r, ok, err := it.next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			if i != n {
				t.Fatalf("%d records merged, want %d", i, n)
			}
			break
		}
		if prev != nil && bytes.Compare(prev, r) > 0 {
			t.Fatalf("record %d out of order", i)
		}
		prev = append(prev[:0], r...)
	}
	s.close()
	if left, err := os.ReadDir(dir); err != nil || len(left) != 0 {
		t.Fatalf("run files left after close: %v, %v", left, err)
	}
}
