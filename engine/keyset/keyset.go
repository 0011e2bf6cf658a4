package keyset

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"slices"
	"unsafe"
)

// entry is one (key, value) pair, 16 bytes, as the scratch files hold it.
type entry struct {
	key, val uint64
}

const (
	entrySize = int(unsafe.Sizeof(entry{}))
	// blockEntries is how many pairs a lookup reads: 1 KiB (measured 15 to
	// 20 % less CPU per lookup than a 4 KiB page, for 8 bytes of memory
	// per 64 pairs instead of 256).
	blockEntries = 1024 / 16
)

// Limits bound a builder's memory. The zero value means the defaults;
// tests set small ones to exercise the file paths with a few rows.
type Limits struct {
	// Mem is the largest set kept in Go memory (default 65 536 pairs,
	// 1 MiB); past it the builder spills to a scratch file.
	Mem int
	// Group is the target size of a sort group when the input is not in
	// key order (default 65 536 pairs).
	Group int
}

func (l Limits) withDefaults() Limits {
	if l.Mem == 0 {
		l.Mem = 1 << 16
	}
	if l.Group == 0 {
		l.Group = 1 << 16
	}
	return l
}

// Builder collects pairs in any order (in key order is cheapest: they then
// go straight to their final place) and makes a Set of them.
type Builder struct {
	lim    Limits
	mem    []entry // the pairs while few
	n      int
	sorted bool
	last   uint64
	// Spilled: the pairs in arrival order in a scratch file.
	f      *os.File
	buf    []entry  // pairs not yet written to f
	sparse []uint64 // built on the way, valid when the input is sorted
	counts []uint32 // pairs per 16-bit key prefix, to group an unsorted input
	err    error
}

// NewBuilder starts a set; sizeHint is the expected number of pairs (0 when
// unknown).
func NewBuilder(sizeHint int, lim Limits) *Builder {
	lim = lim.withDefaults()
	return &Builder{lim: lim, mem: make([]entry, 0, max(min(sizeHint, lim.Mem), 0)), sorted: true}
}

// Add adds a pair. Write errors are returned by Finish.
func (b *Builder) Add(key, val uint64) {
	if b.n > 0 && key < b.last {
		b.sorted = false
	}
	b.last = key
	e := entry{key, val}
	if b.f == nil {
		if len(b.mem) < b.lim.Mem {
			b.mem = append(b.mem, e)
			b.n++
			return
		}
		b.spill()
	}
	b.write(e)
}

// Discard drops a builder that will not be finished.
func (b *Builder) Discard() {
	if b.f != nil {
		b.f.Close()
	}
	b.mem, b.buf, b.f = nil, nil, nil
}

// spill moves the pairs so far to a scratch file; later pairs follow them.
func (b *Builder) spill() {
	if b.err != nil {
		return
	}
	f, err := scratchFile()
	if err != nil {
		b.err = err
		return
	}
	b.f, b.buf = f, make([]entry, 0, 1<<16)
	b.counts = make([]uint32, 1<<16)
	mem := b.mem
	b.mem, b.n = nil, 0
	for _, e := range mem {
		b.write(e)
	}
}

func (b *Builder) write(e entry) {
	if b.err != nil {
		return
	}
	if b.n%blockEntries == 0 {
		b.sparse = append(b.sparse, e.key)
	}
	b.counts[e.key>>48]++
	b.n++
	if b.buf = append(b.buf, e); len(b.buf) == cap(b.buf) {
		b.flush()
	}
}

func (b *Builder) flush() {
	if b.err == nil && len(b.buf) > 0 {
		_, b.err = b.f.Write(entryBytes(b.buf))
	}
	b.buf = b.buf[:0]
}

// entryBytes views entries as bytes, as the scratch files hold them.
func entryBytes(e []entry) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(e))), len(e)*entrySize)
}

// Finish returns the set, sorted by key. The builder is not used after.
func (b *Builder) Finish() (*Set, error) {
	if b.f == nil {
		slices.SortFunc(b.mem, func(a, b entry) int { return cmp.Compare(a.key, b.key) })
		return &Set{n: len(b.mem), ents: b.mem}, nil
	}
	b.flush()
	if b.err != nil {
		b.f.Close()
		return nil, fmt.Errorf("keyset: %w", b.err)
	}
	f, sparse := b.f, b.sparse
	if !b.sorted {
		var err error
		f, sparse, err = b.group()
		b.f.Close()
		if err != nil {
			return nil, fmt.Errorf("keyset: %w", err)
		}
	}
	// The file is closed by Close, or by the os.File's own cleanup when
	// the Set is collected.
	return &Set{n: b.n, f: f, sparse: sparse, block: make([]entry, blockEntries)}, nil
}

// group sorts an unsorted spill: the pairs are scattered by key prefix into
// groups of about Limits.Group pairs laid out in key order in a second
// file, then each group is read, sorted and written back, one at a time.
func (b *Builder) group() (*os.File, []uint64, error) {
	// Consecutive prefixes make a group; start[g] is its first pair.
	groupOf := make([]uint32, len(b.counts))
	var start []int
	fill := b.lim.Group
	at := 0
	for p, c := range b.counts {
		if fill >= b.lim.Group && c > 0 {
			start = append(start, at)
			fill = 0
		}
		groupOf[p] = uint32(max(len(start)-1, 0))
		fill += int(c)
		at += int(c)
	}
	start = append(start, at)
	out, err := scratchFile()
	if err != nil {
		return nil, nil, err
	}
	if err := out.Truncate(int64(b.n * entrySize)); err != nil {
		out.Close()
		return nil, nil, err
	}
	if err := b.scatter(out, groupOf, start); err != nil {
		out.Close()
		return nil, nil, err
	}
	sparse := make([]uint64, 0, (b.n+blockEntries-1)/blockEntries)
	var grp []entry
	for g := 0; g+1 < len(start); g++ {
		lo, hi := start[g], start[g+1]
		grp = slices.Grow(grp[:0], hi-lo)[:hi-lo]
		if _, err := out.ReadAt(entryBytes(grp), int64(lo*entrySize)); err != nil {
			out.Close()
			return nil, nil, err
		}
		slices.SortFunc(grp, func(a, b entry) int { return cmp.Compare(a.key, b.key) })
		if _, err := out.WriteAt(entryBytes(grp), int64(lo*entrySize)); err != nil {
			out.Close()
			return nil, nil, err
		}
		for i := (lo + blockEntries - 1) / blockEntries * blockEntries; i < hi; i += blockEntries {
			sparse = append(sparse, grp[i-lo].key)
		}
	}
	return out, sparse, nil
}

// scatter copies the spill into out, each pair at its group's next slot,
// through a small write buffer per group.
func (b *Builder) scatter(out *os.File, groupOf []uint32, start []int) error {
	if _, err := b.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	ng := len(start) - 1
	next := slices.Clone(start[:ng])
	const bufEntries = 256
	bufs := make([]entry, ng*bufEntries)
	fill := make([]int, ng)
	flush := func(g int) error {
		if fill[g] == 0 {
			return nil
		}
		buf := bufs[g*bufEntries : g*bufEntries+fill[g]]
		_, err := out.WriteAt(entryBytes(buf), int64(next[g]*entrySize))
		next[g] += fill[g]
		fill[g] = 0
		return err
	}
	in := make([]entry, 1<<16)
	for left := b.n; left > 0; {
		chunk := in[:min(left, len(in))]
		if _, err := io.ReadFull(b.f, entryBytes(chunk)); err != nil {
			return err
		}
		left -= len(chunk)
		for _, e := range chunk {
			g := int(groupOf[e.key>>48])
			bufs[g*bufEntries+fill[g]] = e
			if fill[g]++; fill[g] == bufEntries {
				if err := flush(g); err != nil {
					return err
				}
			}
		}
	}
	for g := range ng {
		if err := flush(g); err != nil {
			return err
		}
	}
	return nil
}

// scratchFile creates a file in the temporary directory and unlinks it at
// once: it lives as long as it is open, and nothing is left after a kill.
func scratchFile() (*os.File, error) {
	f, err := os.CreateTemp("", "applink-keyset-*")
	if err != nil {
		return nil, err
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Set is a finished, sorted set of pairs: in memory when small, else in a
// scratch file with the first key of each 1 KiB block in memory. Its
// methods are for one goroutine at a time.
type Set struct {
	n      int
	ents   []entry  // the set in memory; nil when in a file
	f      *os.File // the set's file, nil when in memory
	sparse []uint64 // file: the first key of each block
	block  []entry  // file: the last block read
}

// Len is the number of pairs.
func (s *Set) Len() int { return s.n }

// Spilled reports whether the set lives in a file.
func (s *Set) Spilled() bool { return s.f != nil }

// Find returns key k's position in key order and its value. A file read
// error (the scratch file vanished under the run) panics: nothing sensible
// is left to compare against.
func (s *Set) Find(k uint64) (pos int, val uint64, ok bool) {
	lo, ents := 0, s.ents
	if s.f != nil {
		// The last block whose first key is ≤ k holds k, if any does.
		p, found := slices.BinarySearch(s.sparse, k)
		if !found {
			p--
		}
		if p < 0 {
			return 0, 0, false
		}
		lo = p * blockEntries
		ents = s.block[:min(blockEntries, s.n-lo)]
		if _, err := s.f.ReadAt(entryBytes(ents), int64(lo*entrySize)); err != nil {
			panic(fmt.Sprintf("keyset: %v", err))
		}
	}
	i, ok := slices.BinarySearchFunc(ents, k, func(e entry, k uint64) int { return cmp.Compare(e.key, k) })
	if !ok {
		return 0, 0, false
	}
	return lo + i, ents[i].val, true
}

// Each calls fn on every pair in key order, with its position.
func (s *Set) Each(fn func(pos int, key, val uint64)) {
	each := func(lo int, ents []entry) {
		for i, e := range ents {
			fn(lo+i, e.key, e.val)
		}
	}
	if s.f == nil {
		each(0, s.ents)
		return
	}
	buf := make([]entry, 1<<16)
	for lo := 0; lo < s.n; lo += len(buf) {
		ents := buf[:min(len(buf), s.n-lo)]
		if _, err := s.f.ReadAt(entryBytes(ents), int64(lo*entrySize)); err != nil {
			panic(fmt.Sprintf("keyset: %v", err))
		}
		each(lo, ents)
	}
}

// Repeats reports whether a key appears more than once.
func (s *Set) Repeats() bool {
	dup, prev := false, uint64(0)
	s.Each(func(pos int, key, _ uint64) {
		if pos > 0 && key == prev {
			dup = true
		}
		prev = key
	})
	return dup
}

// Close releases the set's scratch file at once rather than when the Set
// is collected. The Set is empty after.
func (s *Set) Close() error {
	if s.f == nil {
		return nil
	}
	f := s.f
	s.f, s.n, s.sparse, s.ents = nil, 0, nil, nil
	return f.Close()
}
