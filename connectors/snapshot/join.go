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

	"github.com/applink-dev/applink/engine"
)

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

// joiner emits calls with their business data; every join path uses one.
type joiner struct {
	emit  func(*engine.CallRecord) error
	cp    callParser
	namer *namer
	b     bdBatch          // the sequential and sort paths: the current call's group
	view  []engine.BDField // the business data of the call being emitted
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

// emitWith emits a call with group g of batch b (nil: none), then the rows
// of no call that came after the group.
func (j *joiner) emitWith(r *engine.CallRecord, b *bdBatch, g *bdGroup) error {
	if g != nil {
		j.view = b.bd(g, j.view[:0])
		if len(j.view) > 0 {
			r.BD = j.view
		}
		if e := g.err(); e != nil {
			r.Err = joinErr(r.Err, e)
		}
	}
	if err := j.emit(r); err != nil {
		return err
	}
	if g != nil {
		return j.emitNoCall(b.noCall[g.ns:g.ne])
	}
	return nil
}

func (j *joiner) emitNoCall(rows []badRow) error {
	for _, r := range rows {
		if err := j.emit(noCallRecord(r)); err != nil {
			return err
		}
	}
	return nil
}

// joinErr adds a second error to a record's.
func joinErr(a, b error) error {
	if a == nil {
		return b
	}
	return errors.Join(a, b)
}

// mergeJoin is the fast path on one goroutine: one pass over both files,
// business data rows consumed while their call_id equals the current
// call's.
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
	b := &j.b
	var row bdRow
	have, err := nextBD(bs, b, &row)
	if err != nil {
		return err
	}
	if err := j.emitNoCall(b.noCall); err != nil { // before any group
		return err
	}
	b.reset()
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
		if !have || id == nil || !bytes.Equal(row.id, id) {
			if err := j.emit(r); err != nil {
				return err
			}
			continue
		}
		b.startGroup(row.id, row.line)
		j.namer.start()
		for have && bytes.Equal(row.id, id) {
			b.take(j.namer, &row)
			if have, err = nextBD(bs, b, &row); err != nil {
				return err
			}
		}
		b.seal()
		if err := j.emitWith(r, b, b.cur()); err != nil {
			return err
		}
		b.reset()
	}
	// Only reached when the files changed since the order check.
	for have {
		b.addNoCall(row.line, orphanErr(row.id, row.pe))
		if have, err = nextBD(bs, b, &row); err != nil {
			return err
		}
	}
	return j.emitNoCall(b.noCall)
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
	b := &j.b
	for n := 0; ; n++ {
		if n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		ok, err := nextBD(bs, b, &row)
		if err != nil {
			return err
		}
		for _, nc := range b.noCall {
			rec = encByCall(rec, noCall, uint64(nc.line), flagOK, nil, nil, []byte(nc.err.(*noCallError).detail))
			if err := byCall.add(rec); err != nil {
				return err
			}
		}
		b.reset()
		if !ok {
			break
		}
		if row.pe != nil {
			rec = encByID(rec, seed, row.id, 1, uint64(row.line), flagBad, nil, []byte(row.pe.Row().Error()))
		} else {
			rec = encByID(rec, seed, row.id, 1, uint64(row.line), flagOK, row.name, row.value)
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
		var g *bdGroup
		for hok {
			hk, line, flag, id, name, value := decByCall(head)
			if hk != k {
				break
			}
			if g == nil {
				b.startGroup(id, int(line))
				j.namer.start()
				g = b.cur()
			}
			if flag == flagBad {
				b.fail(int(line), bdUnreadableMsg(string(value)))
			} else {
				b.add(j.namer.id(name), name, value, int(line))
			}
			if head, hok, err = it.next(); err != nil {
				return err
			}
		}
		b.seal()
		if err := j.emitWith(r, b, g); err != nil {
			return err
		}
		b.reset()
	}
	// 5. What belongs to no call, in line order.
	for hok {
		_, line, _, _, _, value := decByCall(head)
		if err := j.emit(noCallRecord(badRow{int(line), &noCallError{string(value)}})); err != nil {
			return err
		}
		if head, hok, err = it.next(); err != nil {
			return err
		}
	}
	return nil
}
