package snapshot

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
)

// extSorter sorts byte records of any number with bounded memory: records
// collect in memory up to limit bytes, are sorted and written to a run file,
// and the runs are merged at the end. It backs the slow path of the business
// data join, taken only when business_data.csv is not in calls.csv order.
type extSorter struct {
	dir    string
	cmp    func(a, b []byte) int
	prefix func(rec []byte) uint64 // orders like cmp where it differs
	limit  int

	data     []byte
	recs     []keyed
	runs     []*os.File
	unlinked int // runs already removed from the folder
}

type span struct{ s, e int }

// keyed is a record in memory with a prefix of its key, so that most
// comparisons of the in-memory sort touch no record bytes (cache misses
// dominated sorting otherwise).
type keyed struct {
	key  uint64
	s, e int
}

func newExtSorter(dir string, limit int, cmp func(a, b []byte) int, prefix func([]byte) uint64) *extSorter {
	return &extSorter{dir: dir, cmp: cmp, prefix: prefix, limit: limit}
}

func (s *extSorter) add(rec []byte) error {
	if len(s.data)+len(rec) > cap(s.data) {
		// Grow by hand: append's doubling would overshoot the limit.
		n := min(max(2*cap(s.data), 4<<10), s.limit+len(rec))
		if n < len(s.data)+len(rec) {
			n = len(s.data) + len(rec)
		}
		nd := make([]byte, len(s.data), n)
		copy(nd, s.data)
		s.data = nd
	}
	st := len(s.data)
	s.data = append(s.data, rec...)
	s.recs = append(s.recs, keyed{s.prefix(rec), st, len(s.data)})
	if len(s.data) >= s.limit {
		return s.spill()
	}
	return nil
}

func (s *extSorter) sortMem() {
	slices.SortFunc(s.recs, func(a, b keyed) int {
		if a.key != b.key {
			if a.key < b.key {
				return -1
			}
			return 1
		}
		return s.cmp(s.data[a.s:a.e], s.data[b.s:b.e])
	})
}

// spill writes the records in memory to a new sorted run file.
func (s *extSorter) spill() error {
	s.sortMem()
	f, err := os.CreateTemp(s.dir, "applink-snapshot-sort-*")
	if err != nil {
		return fmt.Errorf("sort run: %w", err)
	}
	// Unlinked at once where the system allows it (the open file stays
	// readable), so that a killed run leaves nothing behind; else close
	// removes it.
	if os.Remove(f.Name()) == nil {
		s.unlinked++
	}
	s.runs = append(s.runs, f)
	w := bufio.NewWriterSize(f, s.bufSize(1<<20))
	var hdr [binary.MaxVarintLen64]byte
	for _, r := range s.recs {
		n := binary.PutUvarint(hdr[:], uint64(r.e-r.s))
		w.Write(hdr[:n])
		w.Write(s.data[r.s:r.e])
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("sort run %s: %w", f.Name(), err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("sort run %s: %w", f.Name(), err)
	}
	s.data, s.recs = s.data[:0], s.recs[:0]
	return nil
}

// bufSize is the buffer of a run file's writer or reader: n, or less when
// the memory limit is smaller (tests and fuzzing sort with a tiny limit, and
// a megabyte per spill of a few hundred bytes was most of their time).
func (s *extSorter) bufSize(n int) int { return min(n, max(4<<10, s.limit)) }

// close removes the run files.
func (s *extSorter) close() {
	for _, f := range s.runs {
		f.Close()
		if s.unlinked < len(s.runs) {
			os.Remove(f.Name())
		}
	}
	s.runs, s.unlinked = nil, 0
}

// iter returns the records in order. Each record returned by next is valid
// until the following call.
func (s *extSorter) iter() (*sortIter, error) {
	if len(s.runs) == 0 {
		s.sortMem()
		return &sortIter{mem: s}, nil
	}
	if len(s.recs) > 0 {
		if err := s.spill(); err != nil {
			return nil, err
		}
	}
	s.data, s.recs = nil, nil // memory goes to the run readers now
	it := &sortIter{cmp: s.cmp}
	for _, f := range s.runs {
		r := &runReader{r: bufio.NewReaderSize(f, s.bufSize(256<<10)), name: f.Name()}
		ok, err := r.next()
		if err != nil {
			return nil, err
		}
		if ok {
			it.heap = append(it.heap, r)
		}
	}
	for i := len(it.heap)/2 - 1; i >= 0; i-- {
		it.down(i)
	}
	return it, nil
}

type runReader struct {
	r    *bufio.Reader
	name string
	cur  []byte
}

func (r *runReader) next() (bool, error) {
	n, err := binary.ReadUvarint(r.r)
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sort run %s: %w", r.name, err)
	}
	if uint64(cap(r.cur)) < n {
		r.cur = make([]byte, n)
	}
	r.cur = r.cur[:n]
	if _, err := io.ReadFull(r.r, r.cur); err != nil {
		return false, fmt.Errorf("sort run %s: %w", r.name, err)
	}
	return true, nil
}

// sortIter merges run files through a binary heap (or walks the in-memory
// records when nothing was spilled).
type sortIter struct {
	mem  *extSorter
	i    int
	cmp  func(a, b []byte) int
	heap []*runReader
	top  bool // heap[0] was returned and must advance before the next
}

func (it *sortIter) next() ([]byte, bool, error) {
	if it.mem != nil {
		if it.i >= len(it.mem.recs) {
			return nil, false, nil
		}
		r := it.mem.recs[it.i]
		it.i++
		return it.mem.data[r.s:r.e], true, nil
	}
	if it.top {
		ok, err := it.heap[0].next()
		if err != nil {
			return nil, false, err
		}
		if !ok {
			last := len(it.heap) - 1
			it.heap[0] = it.heap[last]
			it.heap = it.heap[:last]
		}
		if len(it.heap) > 0 {
			it.down(0)
		}
	}
	if len(it.heap) == 0 {
		it.top = false
		return nil, false, nil
	}
	it.top = true
	return it.heap[0].cur, true, nil
}

func (it *sortIter) down(i int) {
	h := it.heap
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && it.cmp(h[r].cur, h[l].cur) < 0 {
			m = r
		}
		if it.cmp(h[m].cur, h[i].cur) >= 0 {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
