package snapshot

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"os"
	"strconv"

	"github.com/applink-dev/applink/engine"
)

// checkOrder reports whether business_data.csv can be merge-joined in one
// pass: each call's rows together, the groups in calls.csv order. It reads
// only the call_id column of both files in a merge (every bd group's call_id
// must be found moving forward in calls.csv, each group once), in O(1)
// memory. A bd row whose call_id is in no call also fails the check, so that
// the slow path reports it without a second reading.
func (s *Source) checkOrder(ctx context.Context) (bool, error) {
	cf, cs, err := s.openCSV(CallsFile, callsHeader)
	if err != nil {
		return false, err
	}
	defer cf.Close()
	bf, bs, err := s.openCSV(BDFile, bdHeader)
	if err != nil {
		return false, err
	}
	defer bf.Close()
	cs.FirstOnly, bs.FirstOnly = true, true
	var cur []byte
	have := false
	for n := 0; ; n++ {
		if n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return false, err
			}
		}
		b, err := bs.Next()
		if err == io.EOF {
			return true, nil
		}
		id, err := recordID(b, err)
		if err != nil {
			return false, fmt.Errorf("snapshot: %s: %w", BDFile, err)
		}
		if id == nil {
			continue // reported by the join; it belongs to no group
		}
		if have && bytes.Equal(id, cur) {
			continue
		}
		cur, have = append(cur[:0], id...), true
		bs.SkipSame(cur)
		for {
			c, err := cs.Next()
			if err == io.EOF {
				return false, nil
			}
			id, err := recordID(c, err)
			if err != nil {
				return false, fmt.Errorf("snapshot: %s: %w", CallsFile, err)
			}
			if bytes.Equal(id, cur) {
				break
			}
		}
	}
}

// recordID is the id (first field) of what Scanner.Next returned: a record's,
// a ParseError's when it could be read, else nil. A non-nil error is final.
func recordID(f [][]byte, err error) ([]byte, error) {
	var pe *ParseError
	switch {
	case err == nil:
		if len(f[0]) == 0 {
			return nil, nil
		}
		return f[0], nil
	case asParse(err, &pe):
		if pe.ID == "" {
			return nil, nil
		}
		return []byte(pe.ID), nil
	}
	return nil, err
}

// bdUnreadable is the error a call gets for a business_data.csv record of
// it that could not be read: the call fails (bad_row) rather than go out
// with business data silently missing.
func bdUnreadable(pe *ParseError) error { return bdUnreadableMsg(pe.Row().Error()) }

// bdUnreadableMsg is bdUnreadable for the text of pe.Row(), as the sort
// path keeps it.
func bdUnreadableMsg(row string) error {
	return errors.New("business data could not be read: " + row)
}

// noCallError is the error of a business_data.csv row that no call gets:
// its call_id is not in calls.csv, or cannot be read. It wraps
// engine.ErrBDWithoutCall, so that the engine counts the row on its own
// line with its file:line, never as a call row (issue 10.2: a row whose
// call_id cannot be read may belong to no call at all; counting it as an
// unreadable call row would make "source call rows" more than calls.csv
// has). Such a row makes the run exit 1 all the same.
type noCallError struct{ detail string }

func (e *noCallError) Error() string { return engine.ErrBDWithoutCall.Error() + ": " + e.detail }
func (e *noCallError) Unwrap() error { return engine.ErrBDWithoutCall }

// bdNoID is the error of a business_data.csv row whose call_id cannot be
// read.
func bdNoID(pe *ParseError) error {
	return &noCallError{"its call_id cannot be read: " + pe.Row().Error()}
}

var errEmptyBDCallID = &noCallError{"its call_id is empty"}

// joiner assembles a call's business data and emits records; it is shared by
// both join paths so that they behave the same.
type joiner struct {
	names *engine.Names
	emit  func(*engine.CallRecord) error
	cp    callParser
	g     group
	bad   []badRow // bd rows of no call (noCallError), to emit after the current call

	// Names come in the same order call after call: cache[i] is the name
	// last seen at position i of a group, so most lookups are one compare.
	cache []cachedName
	local map[string]int32
}

type cachedName struct {
	name []byte
	id   int32
}

type badRow struct {
	line int
	err  error
}

// bdRow is the business_data.csv record a join has in hand: a good row
// (f set), or one that could not be read but whose call_id could (pe set).
type bdRow struct {
	id   []byte
	f    [][]byte
	pe   *ParseError
	line int
}

// next reads the next business_data.csv record that belongs to a call;
// rows that cannot be given to one (no readable call_id) are queued in
// j.bad. ok is false at the end.
func (j *joiner) next(bs *Scanner, r *bdRow) (ok bool, err error) {
	for {
		f, err := bs.Next()
		if err == io.EOF {
			return false, nil
		}
		var pe *ParseError
		switch {
		case err == nil && len(f[0]) > 0:
			*r = bdRow{id: f[0], f: f, line: bs.Line()}
			return true, nil
		case err == nil:
			j.bad = append(j.bad, badRow{bs.Line(), errEmptyBDCallID})
		case asParse(err, &pe) && pe.ID != "":
			*r = bdRow{id: []byte(pe.ID), pe: pe, line: pe.Line}
			return true, nil
		case pe != nil:
			j.bad = append(j.bad, badRow{pe.Line, bdNoID(pe)})
		default:
			return false, fmt.Errorf("snapshot: %s: %w", BDFile, err)
		}
	}
}

// take adds a record of next to the current group.
func (j *joiner) take(r *bdRow) {
	if r.pe != nil {
		j.g.fail(r.line, bdUnreadable(r.pe))
		return
	}
	j.addBD(r.f[1], r.f[2], r.line)
}

func (j *joiner) nameID(name []byte, i int) int32 {
	if i < len(j.cache) && bytes.Equal(j.cache[i].name, name) {
		return j.cache[i].id
	}
	id, ok := j.local[string(name)]
	if !ok {
		id = j.names.ID(name)
		j.local[string(name)] = id
	}
	switch {
	case i < len(j.cache):
		j.cache[i] = cachedName{append(j.cache[i].name[:0], name...), id}
	case i == len(j.cache) && i < 256:
		j.cache = append(j.cache, cachedName{append([]byte(nil), name...), id})
	}
	return id
}

// addBD adds a good business-data value to the current group. A name given
// twice fails the call: which value is meant cannot be known.
func (j *joiner) addBD(name, value []byte, line int) {
	if prev, dup := j.g.add(j.nameID(name, j.g.rows), value, line); dup {
		j.g.fail(line, fmt.Errorf("business data %q given twice, on lines %d and %d", name, prev, line))
	}
}

// emitCall emits a call with the current group, then the bad bd rows seen.
func (j *joiner) emitCall(r *engine.CallRecord) error {
	r.BD = j.g.finish()
	if e := j.g.err(); e != nil {
		r.Err = joinErr(r.Err, e)
	}
	err := j.emit(r)
	j.g.reset()
	if err != nil {
		return err
	}
	return j.flushBad()
}

func (j *joiner) flushBad() error {
	for i, b := range j.bad {
		r := &engine.CallRecord{Pos: BDFile + ":" + strconv.Itoa(b.line), Err: b.err}
		if err := j.emit(r); err != nil {
			j.bad = j.bad[:0]
			return err
		}
		j.bad[i] = badRow{}
	}
	j.bad = j.bad[:0]
	return nil
}

// joinErr adds a second error to a record's.
func joinErr(a, b error) error {
	if a == nil {
		return b
	}
	return errors.Join(a, b)
}

// group is one call's business data. Values are copied into vals because
// the scanner reuses its buffer row by row.
type group struct {
	fields []engine.BDField
	spans  []span
	lines  []int // by field: the line it came from
	vals   []byte
	rows   int      // rows added, duplicates included
	stamp  []uint32 // by name ID: the seq of the last group that has it
	slot   []int32  // by name ID: its index in fields
	seq    uint32
	nBad   int    // rows of the call that fail it
	bad    badRow // the first of them
}

// fail records a row that makes the call fail.
func (g *group) fail(line int, err error) {
	if g.nBad == 0 {
		g.bad = badRow{line, err}
	}
	g.nBad++
}

// err is the call's error from its business data, nil when none.
func (g *group) err() error {
	if g.nBad == 0 {
		return nil
	}
	e := fmt.Errorf("%s:%d: %w", BDFile, g.bad.line, g.bad.err)
	switch {
	case g.nBad == 2:
		e = fmt.Errorf("%w (and 1 more business-data row of this call)", e)
	case g.nBad > 2:
		e = fmt.Errorf("%w (and %d more business-data rows of this call)", e, g.nBad-1)
	}
	return e
}

// add adds a value and reports whether the name was in the group already,
// with the line it came from (the new value replaces the old one).
func (g *group) add(name int32, v []byte, line int) (prev int, dup bool) {
	if g.seq == 0 {
		g.seq = 1
	}
	for int(name) >= len(g.stamp) {
		g.stamp = append(g.stamp, 0)
		g.slot = append(g.slot, 0)
	}
	g.rows++
	st := len(g.vals)
	g.vals = append(g.vals, v...)
	sp := span{st, len(g.vals)}
	if g.stamp[name] == g.seq {
		i := g.slot[name]
		prev = g.lines[i]
		g.spans[i], g.lines[i] = sp, line
		return prev, true
	}
	g.stamp[name] = g.seq
	g.slot[name] = int32(len(g.fields))
	g.fields = append(g.fields, engine.BDField{Name: name})
	g.spans = append(g.spans, sp)
	g.lines = append(g.lines, line)
	return 0, false
}

func (g *group) finish() []engine.BDField {
	if len(g.fields) == 0 {
		return nil
	}
	for i, sp := range g.spans {
		g.fields[i].Value = g.vals[sp.s:sp.e:sp.e]
	}
	return g.fields
}

func (g *group) reset() {
	g.fields, g.spans, g.lines, g.vals, g.rows = g.fields[:0], g.spans[:0], g.lines[:0], g.vals[:0], 0
	g.nBad, g.bad = 0, badRow{}
	g.seq++
	if g.seq == 0 { // wrapped: forget every stamp
		clear(g.stamp)
		g.seq = 1
	}
}

// orphanErr is the error of a business-data row whose call is not in
// calls.csv (pe set: a row that could not be read either).
func orphanErr(id []byte, pe *ParseError) error {
	if pe != nil {
		return orphanMsg(id, pe.Row().Error())
	}
	return orphanMsg(id, "")
}

func orphanMsg(id []byte, bad string) *noCallError {
	if bad != "" {
		return &noCallError{fmt.Sprintf("call %q is not in %s, and the row could not be read: %s", id, CallsFile, bad)}
	}
	return &noCallError{fmt.Sprintf("call %q is not in %s", id, CallsFile)}
}

// mergeJoin is the fast path: one pass over both files, business data rows
// consumed while their call_id equals the current call's.
func (s *Source) mergeJoin(ctx context.Context, j *joiner) error {
	cf, cs, err := s.openCSV(CallsFile, callsHeader)
	if err != nil {
		return err
	}
	defer cf.Close()
	bf, bs, err := s.openCSV(BDFile, bdHeader)
	if err != nil {
		return err
	}
	defer bf.Close()

	// The pending bd row stays valid while only the calls scanner moves.
	var row bdRow
	have, err := j.next(bs, &row)
	if err != nil {
		return err
	}
	for n := 0; ; n++ {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		r, id, err := j.readCall(cs)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		for have && id != nil && bytes.Equal(row.id, id) {
			j.take(&row)
			if have, err = j.next(bs, &row); err != nil {
				return err
			}
		}
		if err := j.emitCall(r); err != nil {
			return err
		}
	}
	// Only reached when the files changed since the order check.
	for have {
		j.bad = append(j.bad, badRow{row.line, orphanErr(row.id, row.pe)})
		if have, err = j.next(bs, &row); err != nil {
			return err
		}
	}
	return j.flushBad()
}

// readCall reads the next calls.csv record as the record to emit and the
// call_id to join business data on (nil: none can be read). io.EOF at the
// end; other errors are final.
func (j *joiner) readCall(cs *Scanner) (*engine.CallRecord, []byte, error) {
	f, err := cs.Next()
	if err == io.EOF {
		return nil, nil, err
	}
	var pe *ParseError
	if asParse(err, &pe) {
		r := callParseError(pe)
		if pe.ID == "" {
			return r, nil, nil
		}
		return r, []byte(pe.ID), nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot: %s: %w", CallsFile, err)
	}
	r := j.cp.parse(f, cs.Line())
	if len(f[cCallID]) == 0 {
		return r, nil, nil
	}
	return r, f[cCallID], nil
}

// Records of the slow path's first sort, grouping by call_id: a call (kind
// 0, seq = its index in calls.csv) sorts before the bd rows of its call_id
// (kind 1, seq = line). The order is by a hash of the id first (the groups
// need not be in id order, and a hash prefix settles nearly every
// comparison without touching the record): hash(8) uvarint(len id) id kind
// seq(8, big endian) [flag uvarint(len name) name value]. A bd row that
// could not be read has flag flagBad and its error as value.
func encByID(dst []byte, seed maphash.Seed, id []byte, kind byte, seq uint64, flag byte, name, value []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst[:0], maphash.Bytes(seed, id))
	dst = binary.AppendUvarint(dst, uint64(len(id)))
	dst = append(dst, id...)
	dst = append(dst, kind)
	dst = binary.BigEndian.AppendUint64(dst, seq)
	if kind == 1 {
		dst = append(dst, flag)
		dst = binary.AppendUvarint(dst, uint64(len(name)))
		dst = append(dst, name...)
		dst = append(dst, value...)
	}
	return dst
}

func decByID(r []byte) (id []byte, kind byte, seq uint64, flag byte, name, value []byte) {
	r = r[8:]
	n, w := binary.Uvarint(r)
	id = r[w : w+int(n)]
	r = r[w+int(n):]
	kind, seq = r[0], binary.BigEndian.Uint64(r[1:9])
	if kind == 1 {
		flag, r = r[9], r[10:]
		n, w = binary.Uvarint(r)
		name, value = r[w:w+int(n)], r[w+int(n):]
	}
	return
}

func prefixByID(r []byte) uint64 { return binary.BigEndian.Uint64(r) }

func cmpByID(a, b []byte) int {
	if c := bytes.Compare(a[:8], b[:8]); c != 0 {
		return c
	}
	a, b = a[8:], b[8:]
	na, wa := binary.Uvarint(a)
	nb, wb := binary.Uvarint(b)
	ea, eb := wa+int(na), wb+int(nb)
	if c := bytes.Compare(a[wa:ea], b[wb:eb]); c != 0 {
		return c
	}
	return bytes.Compare(a[ea:ea+9], b[eb:eb+9])
}

// Records of the second sort, by call index then line: k(8) line(8) flag
// uvarint(len id) id uvarint(len name) name value. flagBad: a row of the
// call that could not be read, pe.Row()'s text as value. Rows of no call
// get k = noCall, sort last and carry their noCallError's detail as value.
const (
	noCall  = math.MaxUint64
	flagOK  = 0
	flagBad = 1
)

func encByCall(dst []byte, k, line uint64, flag byte, id, name, value []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst[:0], k)
	dst = binary.BigEndian.AppendUint64(dst, line)
	dst = append(dst, flag)
	dst = binary.AppendUvarint(dst, uint64(len(id)))
	dst = append(dst, id...)
	dst = binary.AppendUvarint(dst, uint64(len(name)))
	dst = append(dst, name...)
	return append(dst, value...)
}

func decByCall(r []byte) (k, line uint64, flag byte, id, name, value []byte) {
	k, line, flag = binary.BigEndian.Uint64(r), binary.BigEndian.Uint64(r[8:]), r[16]
	r = r[17:]
	n, w := binary.Uvarint(r)
	id, r = r[w:w+int(n)], r[w+int(n):]
	n, w = binary.Uvarint(r)
	name, value = r[w:w+int(n)], r[w+int(n):]
	return
}

func cmpByCall(a, b []byte) int { return bytes.Compare(a[:16], b[:16]) }

func prefixByCall(r []byte) uint64 { return binary.BigEndian.Uint64(r) }

// sortJoin is the slow path for business data in any order, in bounded
// memory: sort calls' ids and bd rows together by call_id to give each bd
// row its call's index in calls.csv, sort the rows by that index, then read
// calls.csv again beside the sorted rows.
func (s *Source) sortJoin(ctx context.Context, j *joiner) error {
	dir, limit := s.TempDir, s.SortMemory
	if dir == "" {
		dir = os.TempDir()
	}
	if limit <= 0 {
		limit = 32 << 20
	}
	byID := newExtSorter(dir, limit, cmpByID, prefixByID)
	defer byID.close()
	byCall := newExtSorter(dir, limit, cmpByCall, prefixByCall)
	defer byCall.close()
	var rec []byte
	seed := maphash.MakeSeed()

	// 1. Every call's id and index (k counts records, unreadable ones too,
	// as step 4 does).
	cf, cs, err := s.openCSV(CallsFile, callsHeader)
	if err != nil {
		return err
	}
	defer cf.Close()
	cs.FirstOnly = true
	for k := uint64(0); ; k++ {
		if k&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		f, err := cs.Next()
		if err == io.EOF {
			break
		}
		id, err := recordID(f, err)
		if err != nil {
			return fmt.Errorf("snapshot: %s: %w", CallsFile, err)
		}
		if id == nil {
			continue
		}
		rec = encByID(rec, seed, id, 0, k, 0, nil, nil)
		if err := byID.add(rec); err != nil {
			return err
		}
	}
	cf.Close()

	// 2. Every bd row; those without a call_id go straight to the end of
	// the second sort.
	bf, bs, err := s.openCSV(BDFile, bdHeader)
	if err != nil {
		return err
	}
	defer bf.Close()
	var row bdRow
	for n := 0; ; n++ {
		if n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		ok, err := j.next(bs, &row)
		if err != nil {
			return err
		}
		for _, b := range j.bad {
			rec = encByCall(rec, noCall, uint64(b.line), flagOK, nil, nil, []byte(b.err.(*noCallError).detail))
			if err := byCall.add(rec); err != nil {
				return err
			}
		}
		clear(j.bad)
		j.bad = j.bad[:0]
		if !ok {
			break
		}
		if row.pe != nil {
			rec = encByID(rec, seed, row.id, 1, uint64(row.line), flagBad, nil, []byte(row.pe.Row().Error()))
		} else {
			rec = encByID(rec, seed, row.id, 1, uint64(row.line), flagOK, row.f[1], row.f[2])
		}
		if err := byID.add(rec); err != nil {
			return err
		}
	}
	bf.Close()

	// 3. Give each bd row its call's index: the first call with its id.
	it, err := byID.iter()
	if err != nil {
		return err
	}
	var cur []byte
	var curK uint64
	have, hasCall := false, false
	for {
		r, ok, err := it.next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		id, kind, seq, flag, name, value := decByID(r)
		if !have || !bytes.Equal(id, cur) {
			cur, have, hasCall = append(cur[:0], id...), true, false
		}
		if kind == 0 {
			if !hasCall {
				curK, hasCall = seq, true
			}
			continue
		}
		switch {
		case hasCall:
			rec = encByCall(rec, curK, seq, flag, id, name, value)
		case flag == flagBad:
			rec = encByCall(rec, noCall, seq, flagOK, nil, nil, []byte(orphanMsg(id, string(value)).detail))
		default:
			rec = encByCall(rec, noCall, seq, flagOK, nil, nil, []byte(orphanMsg(id, "").detail))
		}
		if err := byCall.add(rec); err != nil {
			return err
		}
	}
	byID.close()

	// 4. calls.csv again, beside the rows sorted by call index.
	it, err = byCall.iter()
	if err != nil {
		return err
	}
	head, hok, err := it.next()
	if err != nil {
		return err
	}
	cf, cs, err = s.openCSV(CallsFile, callsHeader)
	if err != nil {
		return err
	}
	defer cf.Close()
	for k := uint64(0); ; k++ {
		if k&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		r, _, err := j.readCall(cs)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		for hok {
			hk, line, flag, _, name, value := decByCall(head)
			if hk != k {
				break
			}
			if flag == flagBad {
				j.g.fail(int(line), bdUnreadableMsg(string(value)))
			} else {
				j.addBD(name, value, int(line))
			}
			if head, hok, err = it.next(); err != nil {
				return err
			}
		}
		if err := j.emitCall(r); err != nil {
			return err
		}
	}
	// 5. What belongs to no call, in line order.
	for hok {
		_, line, _, _, _, value := decByCall(head)
		j.bad = append(j.bad, badRow{int(line), &noCallError{string(value)}})
		if len(j.bad) >= 1024 {
			if err := j.flushBad(); err != nil {
				return err
			}
		}
		if head, hok, err = it.next(); err != nil {
			return err
		}
	}
	return j.flushBad()
}
