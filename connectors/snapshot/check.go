package snapshot

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sync"
)

// The order check: whether business_data.csv can be merge-joined in one
// pass (each call's rows together, the groups in calls.csv order), proved
// before the first call is emitted, since a row found out of order later
// would mean calls already sent without it. It reads only the call_id
// column of both files in a merge: every bd group's call_id must be found
// moving forward in calls.csv. A bd row whose call_id is in no call fails
// it too, so that the slow path reports it without a second reading.
//
// It runs before anything else of the run can, so it uses every core:
// business_data.csv is cut into ranges at line starts, each checked on
// its own goroutine against calls.csv from where its first group's call
// is. The ranges are then put together: each must start where the one
// before it stopped reading (a range start inside a multi-line quoted
// record is not a record start), and the calls.csv positions must keep
// increasing. When they do not, the check runs again on one goroutine, so
// the answer is always the sequential check's.

// bdChunk is where a part of business_data.csv starts that the parallel
// join may parse on its own: at the first record of a group (or right after
// the header), with the number of lines before it.
type bdChunk struct {
	off  int64
	line int
}

// chunkSize is about how many bytes of business_data.csv a chunk holds:
// with one batch per worker plus one in flight, it bounds the join's
// memory (a batch holds about twice its chunk).
const chunkSize = 1 << 20

// minRange is the least a range of the parallel check is given.
const minRange = 8 << 20

// bdPlan is what the order check found: whether the merge join may run,
// and the chunks of business_data.csv up to end.
type bdPlan struct {
	inOrder bool
	chunks  []bdChunk
	end     int64
	ranges  int // how many ranges gave the verdict (1 after a fall back)
}

// rangeCheck is the check of the records of business_data.csv that start
// in [start, end).
type rangeCheck struct {
	start, end int64
	chunkSize  int64

	// What it found.
	ok              bool
	stop            int64 // where the first record at or after end starts
	lines           int   // lines before stop, from start
	firstID, lastID []byte
	firstCall       int // the calls.csv record index of firstID's call
	lastCall        int
	chunks          []bdChunk // group starts chunkSize apart, lines counted from start
	err             error
}

// checkOrder runs the order check and notes the chunks of the parallel
// join.
func (s *Source) checkOrder(ctx context.Context) (*bdPlan, error) {
	bf, bs, err := s.openCSV(BDFile, bdHeader)
	if err != nil {
		return nil, err
	}
	defer bf.Close()
	fi, err := bf.Stat()
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	dataStart, headerLines := bs.off+int64(bs.pos), bs.line
	size := fi.Size()
	cs := int64(s.chunkSize)
	if cs <= 0 {
		cs = chunkSize
	}
	n := int(min(int64(workers()), max(1, (size-dataStart)/minRange)))
	if s.checkRanges > 0 {
		n = s.checkRanges
	}
	ranges := make([]*rangeCheck, n)
	for k := range ranges {
		r := &rangeCheck{end: size, chunkSize: cs}
		if k == 0 {
			r.start = dataStart
		} else {
			r.start, err = lineStartAfter(bf, dataStart+(size-dataStart)*int64(k)/int64(n))
			if err != nil {
				return nil, err
			}
		}
		if k > 0 {
			ranges[k-1].end = r.start
		}
		ranges[k] = r
	}
	if n > 1 {
		var wg sync.WaitGroup
		for _, r := range ranges {
			wg.Go(func() { s.checkRange(ctx, bf, r) })
		}
		wg.Wait()
		if plan, ok, err := joinRanges(ranges, dataStart, headerLines, size); err != nil || ok {
			return plan, err
		}
	}
	// One range, or ranges that did not fit together: the sequential check.
	r := &rangeCheck{start: dataStart, end: size, chunkSize: cs}
	s.checkRange(ctx, bf, r)
	plan, _, err := joinRanges([]*rangeCheck{r}, dataStart, headerLines, size)
	return plan, err
}

// joinRanges puts the ranges' findings together. ok is false when they do
// not fit (the sequential check must decide).
func joinRanges(ranges []*rangeCheck, dataStart int64, headerLines int, size int64) (*bdPlan, bool, error) {
	plan := &bdPlan{chunks: []bdChunk{{dataStart, headerLines}}, end: size, inOrder: true, ranges: len(ranges)}
	line := headerLines
	var lastID []byte
	lastCall := -1
	for k, r := range ranges {
		if r.err != nil {
			return nil, false, r.err
		}
		if k > 0 && ranges[k-1].stop != r.start {
			return nil, false, nil // r did not start at a record
		}
		if !r.ok {
			// A real verdict: r started at a record, and a group not found
			// moving forward from where r's search started is not found
			// from further on either.
			plan.inOrder = false
			return plan, true, nil
		}
		if r.firstID != nil {
			switch {
			case lastID != nil && bytes.Equal(r.firstID, lastID):
				if r.firstCall != lastCall {
					return nil, false, nil
				}
			case r.firstCall <= lastCall:
				return nil, false, nil // its search started before the last match
			case k > 0:
				// r starts a group: the chunk before may end here.
				plan.chunks = appendChunk(plan.chunks, bdChunk{r.start, line}, r.chunkSize)
			}
			lastID, lastCall = r.lastID, r.lastCall
		}
		for _, c := range r.chunks {
			plan.chunks = appendChunk(plan.chunks, bdChunk{c.off, line + c.line}, r.chunkSize)
		}
		line += r.lines
	}
	return plan, true, nil
}

// appendChunk adds a group start as a chunk start when the chunk before it
// is big enough.
func appendChunk(chunks []bdChunk, c bdChunk, size int64) []bdChunk {
	if c.off-chunks[len(chunks)-1].off >= size {
		chunks = append(chunks, c)
	}
	return chunks
}

// lineStartAfter is the offset of the first start of a non-empty line
// after off.
func lineStartAfter(f *os.File, off int64) (int64, error) {
	var buf [4096]byte
	nl := false // a '\n' was passed
	for {
		n, err := f.ReadAt(buf[:], off)
		for i, c := range buf[:n] {
			switch {
			case c == '\n':
				nl = true
			case nl && c != '\r':
				return off + int64(i), nil
			}
		}
		off += int64(n)
		if err == io.EOF {
			return off, nil
		}
		if err != nil {
			return 0, fmt.Errorf("snapshot: %s: %w", BDFile, err)
		}
	}
}

// checkRange checks the records of business_data.csv that start in
// [r.start, r.end).
func (s *Source) checkRange(ctx context.Context, bf *os.File, r *rangeCheck) {
	cf, cs, err := s.openCSV(CallsFile, callsHeader)
	if err != nil {
		r.err = err
		return
	}
	defer cf.Close()
	cs.FirstOnly = true
	bs := NewScanner(nil)
	bs.Reset(io.NewSectionReader(bf, r.start, 1<<62), r.start, 0)
	bs.Width, bs.FirstOnly = len(bdHeader), true
	var cur []byte
	have := false
	call := -1 // index of the call cs returned last
	// findCall moves the calls cursor to the next call with id.
	findCall := func(id []byte) (bool, error) {
		for {
			c, err := cs.Next()
			if err == io.EOF {
				return false, nil
			}
			call++
			cid, err := recordID(c, err)
			if err != nil {
				return false, fmt.Errorf("snapshot: %s: %w", CallsFile, err)
			}
			if bytes.Equal(cid, id) {
				return true, nil
			}
		}
	}
	lastChunk := r.start
	for n := 0; ; n++ {
		if n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				r.err = err
				return
			}
		}
		if p := bs.off + int64(bs.pos); p >= r.end {
			r.ok, r.stop, r.lines = true, p, bs.line
			return
		}
		b, err := bs.Next()
		if err == io.EOF {
			r.ok, r.stop, r.lines = true, bs.off+int64(bs.end), bs.line
			return
		}
		if off := bs.Offset(); off >= r.end { // after empty lines: the next range's
			r.ok, r.stop, r.lines = true, off, bs.Line()-1
			return
		}
		id, err := recordID(b, err)
		if err != nil {
			r.err = fmt.Errorf("snapshot: %s: %w", BDFile, err)
			return
		}
		if id == nil {
			continue // reported by the join; it belongs to no group
		}
		if have && bytes.Equal(id, cur) {
			bs.SkipSame(cur, r.end) // on past a quoted row, back on the fast path
			continue
		}
		if off := bs.Offset(); have && off-lastChunk >= r.chunkSize {
			r.chunks = append(r.chunks, bdChunk{off, bs.Line() - 1})
			lastChunk = off
		}
		cur, have = append(cur[:0], id...), true
		found, err := findCall(cur)
		if err != nil || !found {
			r.err = err
			return // r.ok false: not in calls.csv moving forward
		}
		if r.firstID == nil {
			r.firstID, r.firstCall = append([]byte(nil), cur...), call
		}
		r.lastID, r.lastCall = cur, call
		bs.SkipSame(cur, r.end)
	}
}
