package state

import (
	"cmp"
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"os"
	"slices"
	"unsafe"

	"github.com/zeebo/xxh3"
)

// Index is the committed ledger as the engine needs it during a run: one
// fingerprint per row, sorted by key. A large index lives in a scratch file
// (deleted as soon as it is created, so nothing is left behind even after a
// kill) and a lookup reads the one 1 KiB block that can hold its key: the
// file stays in the page cache, not in the process, so the run's resident
// memory does not grow with the rows it knows. In memory per row there is
// only the "looked up" bit and 8 bytes per 64 rows (the first key of each
// block): 30 M rows need 7.5 MB. A small index stays wholly in memory.
type Index struct {
	n      int
	ents   []entry  // the index held in memory; nil when in a file
	f      *os.File // the index's file, nil when in memory
	sparse []uint64 // file: the first key of each block of entries
	page   []entry  // file: the last block read
	seen   []uint64 // bitset over the sorted rows: looked up this run
}

// entry packs a row. key is rowKey(entity, id); fpa is the fingerprint, whose
// low bit the engine leaves 0, with the agent's active flag in that bit.
type entry struct {
	key uint64
	fpa uint64
}

const (
	entrySize = int(unsafe.Sizeof(entry{}))
	// pageEntries is how many rows a lookup reads: 1 KiB (measured 15 to
	// 20 % less CPU per lookup than a 4 KiB page, for 8 bytes of memory
	// per 64 rows instead of 256).
	pageEntries = 1024 / 16
)

// Tunables, variables for tests.
var (
	// memEntries is the largest index kept in Go memory (1 MiB); above it
	// the builder spills to a scratch file.
	memEntries = 1 << 16
	// groupEntries is the target size of a sort group when the builder's
	// input is not sorted (1 MiB of entries).
	groupEntries = 1 << 16
)

// rowKey is xxh3(entity, id) with the low bit replaced by "is agent", so an
// agent and a call with the same id never collide.
func rowKey(entity, id string) uint64 {
	h := xxh3.HashString(entity + "\x00" + id)
	h &^= 1
	if entity == "agent" {
		h |= 1
	}
	return h
}

// RowKey is the ledger's 8-byte key of a row: xxh3(entity, id) with the low
// bit replaced by "is agent", so an agent and a call with the same id never
// collide. Every backend stores it, so the prior index is built without
// reading ids.
func RowKey(entity, id string) uint64 { return rowKey(entity, id) }

// IndexBuilder builds the prior Index from a backend's committed ledger, one
// (key, fingerprint, active) row at a time, in any order (in key order is
// cheapest: the rows then go straight to their final place). It is the one
// way an Index is made, whatever the backend.
type IndexBuilder struct {
	mem    []entry // the rows while few
	n      int
	sorted bool
	last   uint64
	// Spilled: the rows in arrival order in a scratch file.
	f      *os.File
	buf    []entry  // rows not yet written to f
	sparse []uint64 // built on the way when the input is sorted
	counts []uint32 // rows per 16-bit key prefix, to group an unsorted input
	err    error
}

// NewIndexBuilder starts an index; sizeHint is the expected number of rows
// (0 when unknown).
func NewIndexBuilder(sizeHint int) *IndexBuilder {
	return &IndexBuilder{mem: make([]entry, 0, min(max(sizeHint, 0), memEntries)), sorted: true}
}

// Add adds one committed ledger row.
func (b *IndexBuilder) Add(key, fp uint64, active bool) {
	e := entry{key: key, fpa: fp &^ 1}
	if active {
		e.fpa |= 1
	}
	if b.n > 0 && key < b.last {
		b.sorted = false
	}
	b.last = key
	if b.f == nil {
		if len(b.mem) < memEntries {
			b.mem = append(b.mem, e)
			b.n++
			return
		}
		b.spill()
	}
	b.write(e)
}

// discard drops a builder that will not be finished.
func (b *IndexBuilder) discard() {
	if b.f != nil {
		b.f.Close()
	}
	b.mem, b.buf, b.f = nil, nil, nil
}

// spill moves the rows so far to a scratch file; later rows follow them.
func (b *IndexBuilder) spill() {
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

func (b *IndexBuilder) write(e entry) {
	if b.err != nil {
		return
	}
	if b.n%pageEntries == 0 {
		b.sparse = append(b.sparse, e.key)
	}
	b.counts[e.key>>48]++
	b.n++
	if b.buf = append(b.buf, e); len(b.buf) == cap(b.buf) {
		b.flush()
	}
}

func (b *IndexBuilder) flush() {
	if b.err == nil && len(b.buf) > 0 {
		_, b.err = b.f.Write(entryBytes(b.buf))
	}
	b.buf = b.buf[:0]
}

// entryBytes views entries as bytes, as the scratch files hold them.
func entryBytes(e []entry) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(e))), len(e)*entrySize)
}

// Finish returns the index, ready for lookups.
func (b *IndexBuilder) Finish() (*Index, error) {
	if b.f == nil {
		slices.SortFunc(b.mem, func(a, b entry) int { return cmp.Compare(a.key, b.key) })
		return &Index{n: len(b.mem), ents: b.mem, seen: make([]uint64, (len(b.mem)+63)/64)}, nil
	}
	b.flush()
	if b.err != nil {
		b.f.Close()
		return nil, fmt.Errorf("state: prior index: %w", b.err)
	}
	f, sparse := b.f, b.sparse
	if !b.sorted {
		var err error
		f, sparse, err = b.group()
		b.f.Close()
		if err != nil {
			return nil, fmt.Errorf("state: prior index: %w", err)
		}
	}
	// The file is closed by Close, or by the os.File's own cleanup when
	// the Index is collected.
	return &Index{n: b.n, f: f, sparse: sparse, page: make([]entry, pageEntries), seen: make([]uint64, (b.n+63)/64)}, nil
}

// group sorts an unsorted spill: the rows are scattered by key prefix into
// groups of about groupEntries rows laid out in key order in a second
// file, then each group is read, sorted and written back, one at a time.
func (b *IndexBuilder) group() (*os.File, []uint64, error) {
	// Consecutive prefixes make a group; start[g] is its first row.
	groupOf := make([]uint32, len(b.counts))
	var start []int
	fill := groupEntries
	at := 0
	for p, c := range b.counts {
		if fill >= groupEntries && c > 0 {
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
	sparse := make([]uint64, 0, (b.n+pageEntries-1)/pageEntries)
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
		for i := (lo + pageEntries - 1) / pageEntries * pageEntries; i < hi; i += pageEntries {
			sparse = append(sparse, grp[i-lo].key)
		}
	}
	return out, sparse, nil
}

// scatter copies the spill into out, each row at its group's next slot,
// through a small write buffer per group.
func (b *IndexBuilder) scatter(out *os.File, groupOf []uint32, start []int) error {
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
// once: it lives as long as it is open (or mapped), even across a crash.
func scratchFile() (*os.File, error) {
	f, err := os.CreateTemp("", "applink-prior-*")
	if err != nil {
		return nil, err
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// loadSlice is how many ledger rows one query of Prior returns at most,
// about: DuckDB materializes a query's whole result before the first row
// is read, so the ledger is read in key ranges of about this many rows.
var loadSlice = 1 << 20

// Prior loads the committed ledger into an Index. Rows come through the
// driver's own interface (database/sql's conversions cost more than the
// rest), fingerprint and active flag packed into one column.
func (s *Store) Prior(ctx context.Context) (*Index, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM ledger`).Scan(&n); err != nil {
		return nil, fmt.Errorf("state: count ledger: %w", err)
	}
	b := NewIndexBuilder(n)
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("state: load ledger: %w", err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		q, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("driver connection %T cannot query", dc)
		}
		parts := uint64(max(1, (n+loadSlice-1)/loadSlice))
		step := ^uint64(0) / parts
		dest := make([]driver.Value, 2)
		for p := range parts {
			lo, hi := p*step, p*step+step-1
			if p == parts-1 {
				hi = ^uint64(0)
			}
			rows, err := q.QueryContext(ctx, fmt.Sprintf(`SELECT key, fp | active::UBIGINT FROM ledger WHERE key BETWEEN %d AND %d`, lo, hi), nil)
			if err != nil {
				return err
			}
			for {
				if err = rows.Next(dest); err != nil {
					break
				}
				key, ok1 := dest[0].(uint64)
				fpa, ok2 := dest[1].(uint64)
				if !ok1 || !ok2 {
					err = fmt.Errorf("unexpected ledger row types %T, %T", dest[0], dest[1])
					break
				}
				b.Add(key, fpa, fpa&1 == 1)
			}
			rows.Close()
			if err != io.EOF {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("state: load ledger: %w", err)
	}
	return b.Finish()
}

// Len is the number of rows known.
func (x *Index) Len() int { return x.n }

// Lookup implements engine.Prior.
func (x *Index) Lookup(entity, id string) (uint64, bool, bool) {
	fpa, ok := x.lookup(rowKey(entity, id))
	return fpa &^ 1, fpa&1 == 1, ok
}

// lookup finds key k, marks it seen and returns its packed fingerprint.
func (x *Index) lookup(k uint64) (uint64, bool) {
	lo, ents := 0, x.ents
	if x.f != nil {
		// The last block whose first key is ≤ k holds k, if any does.
		p, found := slices.BinarySearch(x.sparse, k)
		if !found {
			p--
		}
		if p < 0 {
			return 0, false
		}
		lo = p * pageEntries
		ents = x.page[:min(pageEntries, x.n-lo)]
		if _, err := x.f.ReadAt(entryBytes(ents), int64(lo*entrySize)); err != nil {
			// The scratch file vanished under the run: nothing sensible
			// is left to compare against.
			panic(fmt.Sprintf("state: prior index: %v", err))
		}
	}
	i, ok := slices.BinarySearchFunc(ents, k, func(e entry, k uint64) int { return cmp.Compare(e.key, k) })
	if !ok {
		return 0, false
	}
	x.seen[(lo+i)/64] |= 1 << ((lo + i) % 64)
	return ents[i].fpa, true
}

// Unseen counts the rows never looked up: no longer in the source.
func (x *Index) Unseen() (agents, calls int) {
	x.each(func(lo int, ents []entry) {
		for i, e := range ents {
			i += lo
			if x.seen[i/64]&(1<<(i%64)) != 0 {
				continue
			}
			if e.key&1 == 1 {
				agents++
			} else {
				calls++
			}
		}
	})
	return agents, calls
}

// repeats reports whether a key appears more than once.
func (x *Index) repeats() bool {
	dup, prev := false, uint64(0)
	x.each(func(lo int, ents []entry) {
		for i, e := range ents {
			if (lo > 0 || i > 0) && e.key == prev {
				dup = true
			}
			prev = e.key
		}
	})
	return dup
}

// each calls fn on the sorted rows in order, a slice at a time (lo is the
// position of the slice's first row).
func (x *Index) each(fn func(lo int, ents []entry)) {
	if x.f == nil {
		fn(0, x.ents)
		return
	}
	buf := make([]entry, 1<<16)
	for lo := 0; lo < x.n; lo += len(buf) {
		ents := buf[:min(len(buf), x.n-lo)]
		if _, err := x.f.ReadAt(entryBytes(ents), int64(lo*entrySize)); err != nil {
			panic(fmt.Sprintf("state: prior index: %v", err))
		}
		fn(lo, ents)
	}
}

// Close releases the index's scratch file at once rather than when the
// Index is collected. The Index must not be used after.
func (x *Index) Close() error {
	if x.f == nil {
		return nil
	}
	f := x.f
	x.f, x.n, x.sparse = nil, 0, nil
	return f.Close()
}
