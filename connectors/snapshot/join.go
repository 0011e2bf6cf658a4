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
		var pe *ParseError
		if asParse(err, &pe) {
			continue // reported by the join; it belongs to no group
		}
		if err != nil {
			return false, fmt.Errorf("snapshot: %s: %w", BDFile, err)
		}
		if have && bytes.Equal(b[0], cur) {
			continue
		}
		cur, have = append(cur[:0], b[0]...), true
		bs.SkipSame(cur)
		for {
			c, err := cs.Next()
			if err == io.EOF {
				return false, nil
			}
			if asParse(err, &pe) {
				continue
			}
			if err != nil {
				return false, fmt.Errorf("snapshot: %s: %w", CallsFile, err)
			}
			if bytes.Equal(c[0], cur) {
				break
			}
		}
	}
}

// joiner assembles a call's business data and emits records; it is shared by
// both join paths so that they behave the same.
type joiner struct {
	names *engine.Names
	emit  func(*engine.CallRecord) error
	cp    callParser
	g     group
	bad   []badRow // bd rows to report after the current call

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

// addRow adds a business_data.csv record to the current group.
func (j *joiner) addRow(f [][]byte, line int) {
	if len(f) != len(bdHeader) {
		j.bad = append(j.bad, badRow{line, fmt.Errorf("call %q: %d columns, want %d", f[0], len(f), len(bdHeader))})
		return
	}
	j.addBD(f[0], f[1], f[2], line)
}

func (j *joiner) addBD(id, name, value []byte, line int) {
	if j.g.add(j.nameID(name, j.g.rows), value) {
		j.bad = append(j.bad, badRow{line, fmt.Errorf("call %q: business data %q given again: the last value wins", id, name)})
	}
}

// emitCall emits a call with the current group, then the bad bd rows seen.
func (j *joiner) emitCall(r *engine.CallRecord) error {
	r.BD = j.g.finish()
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

// group is one call's business data. Values are copied into vals because
// the scanner reuses its buffer row by row.
type group struct {
	fields []engine.BDField
	spans  []span
	vals   []byte
	rows   int      // rows added, duplicates included
	stamp  []uint32 // by name ID: the seq of the last group that has it
	slot   []int32  // by name ID: its index in fields
	seq    uint32
}

// add adds a value and reports whether the name was in the group already
// (the new value replaces the old one in place).
func (g *group) add(name int32, v []byte) (dup bool) {
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
		g.spans[g.slot[name]] = sp
		return true
	}
	g.stamp[name] = g.seq
	g.slot[name] = int32(len(g.fields))
	g.fields = append(g.fields, engine.BDField{Name: name})
	g.spans = append(g.spans, sp)
	return false
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
	g.fields, g.spans, g.vals, g.rows = g.fields[:0], g.spans[:0], g.vals[:0], 0
	g.seq++
	if g.seq == 0 { // wrapped: forget every stamp
		clear(g.stamp)
		g.seq = 1
	}
}

func orphanErr(id []byte) error {
	return fmt.Errorf("%w: call %q is not in %s", engine.ErrBDWithoutCall, id, CallsFile)
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
	var row [][]byte
	var rowLine int
	have := false
	advance := func() error {
		for {
			f, err := bs.Next()
			if err == io.EOF {
				have = false
				return nil
			}
			var pe *ParseError
			if asParse(err, &pe) {
				j.bad = append(j.bad, badRow{pe.Line, pe.Err})
				continue
			}
			if err != nil {
				return fmt.Errorf("snapshot: %s: %w", BDFile, err)
			}
			row, rowLine, have = f, bs.Line(), true
			return nil
		}
	}
	if err := advance(); err != nil {
		return err
	}
	for n := 0; ; n++ {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		f, err := cs.Next()
		if err == io.EOF {
			break
		}
		var pe *ParseError
		if asParse(err, &pe) {
			if err := j.emit(callParseError(pe)); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("snapshot: %s: %w", CallsFile, err)
		}
		r := j.cp.parse(f, cs.Line())
		for have && bytes.Equal(row[0], f[0]) {
			j.addRow(row, rowLine)
			if err := advance(); err != nil {
				return err
			}
		}
		if err := j.emitCall(r); err != nil {
			return err
		}
	}
	// Only reached when the files changed since the order check.
	for have {
		j.bad = append(j.bad, badRow{rowLine, orphanErr(row[0])})
		if err := advance(); err != nil {
			return err
		}
	}
	return j.flushBad()
}

// Records of the slow path's first sort, grouping by call_id: a call (kind
// 0, seq = its index in calls.csv) sorts before the bd rows of its call_id
// (kind 1, seq = line). The order is by a hash of the id first (the groups
// need not be in id order, and a hash prefix settles nearly every
// comparison without touching the record): hash(8) uvarint(len id) id kind
// seq(8, big endian) [uvarint(len name) name value].
func encByID(dst []byte, seed maphash.Seed, id []byte, kind byte, seq uint64, name, value []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst[:0], maphash.Bytes(seed, id))
	dst = binary.AppendUvarint(dst, uint64(len(id)))
	dst = append(dst, id...)
	dst = append(dst, kind)
	dst = binary.BigEndian.AppendUint64(dst, seq)
	if kind == 1 {
		dst = binary.AppendUvarint(dst, uint64(len(name)))
		dst = append(dst, name...)
		dst = append(dst, value...)
	}
	return dst
}

func decByID(r []byte) (id []byte, kind byte, seq uint64, name, value []byte) {
	r = r[8:]
	n, w := binary.Uvarint(r)
	id = r[w : w+int(n)]
	r = r[w+int(n):]
	kind, seq = r[0], binary.BigEndian.Uint64(r[1:9])
	if kind == 1 {
		r = r[9:]
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
// uvarint(len id) id uvarint(len name) name value. Rows of no call get
// k = noCall and sort last; a flagBad row carries its message as value.
const (
	noCall   = math.MaxUint64
	flagOK   = 0
	flagBad  = 1
	flagOrph = 2
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

	// 1. Every call's id and index.
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
		var pe *ParseError
		if asParse(err, &pe) {
			continue
		}
		if err != nil {
			return fmt.Errorf("snapshot: %s: %w", CallsFile, err)
		}
		rec = encByID(rec, seed, f[0], 0, k, nil, nil)
		if err := byID.add(rec); err != nil {
			return err
		}
	}
	cf.Close()

	// 2. Every bd row; bad ones go straight to the end of the second sort.
	bf, bs, err := s.openCSV(BDFile, bdHeader)
	if err != nil {
		return err
	}
	defer bf.Close()
	for n := 0; ; n++ {
		if n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		f, err := bs.Next()
		if err == io.EOF {
			break
		}
		var pe *ParseError
		switch {
		case asParse(err, &pe):
			rec = encByCall(rec, noCall, uint64(pe.Line), flagBad, nil, nil, []byte(pe.Err.Error()))
			err = byCall.add(rec)
		case err != nil:
			return fmt.Errorf("snapshot: %s: %w", BDFile, err)
		case len(f) != len(bdHeader):
			msg := fmt.Sprintf("call %q: %d columns, want %d", f[0], len(f), len(bdHeader))
			rec = encByCall(rec, noCall, uint64(bs.Line()), flagBad, nil, nil, []byte(msg))
			err = byCall.add(rec)
		default:
			rec = encByID(rec, seed, f[0], 1, uint64(bs.Line()), f[1], f[2])
			err = byID.add(rec)
		}
		if err != nil {
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
		id, kind, seq, name, value := decByID(r)
		if !have || !bytes.Equal(id, cur) {
			cur, have, hasCall = append(cur[:0], id...), true, false
		}
		if kind == 0 {
			if !hasCall {
				curK, hasCall = seq, true
			}
			continue
		}
		if hasCall {
			rec = encByCall(rec, curK, seq, flagOK, id, name, value)
		} else {
			rec = encByCall(rec, noCall, seq, flagOrph, id, nil, nil)
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
		f, err := cs.Next()
		if err == io.EOF {
			break
		}
		var pe *ParseError
		if asParse(err, &pe) {
			if err := j.emit(callParseError(pe)); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("snapshot: %s: %w", CallsFile, err)
		}
		r := j.cp.parse(f, cs.Line())
		for hok {
			hk, line, _, id, name, value := decByCall(head)
			if hk != k {
				break
			}
			j.addBD(id, name, value, int(line))
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
		_, line, flag, id, _, value := decByCall(head)
		e := orphanErr(id)
		if flag == flagBad {
			e = errors.New(string(value))
		}
		j.bad = append(j.bad, badRow{int(line), e})
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
