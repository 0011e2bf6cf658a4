package snapshot

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"os"
)

// The sort path joins business data in any order, in bounded memory
// (sortJoin): (1) every call's id with its index in calls.csv, and (2)
// every business-data row, go into a first sort, by call_id; (3) walking
// it gives each row the index of the first call of its id (or makes it a
// row of no call) in a second sort, by call index then line; (4) the read
// loop reads calls.csv again beside that sort, each call taking the rows
// of its index, and (5) the rows of no call, sorted last, follow.

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

// sortJoin is the slow path for business data in any order (the steps
// above).
func (s *Source) sortJoin(ctx context.Context, j *joiner) error {
	x := s.newJoinSort()
	defer x.close()
	if err := x.addCalls(ctx, s); err != nil {
		return err
	}
	if err := x.addBD(ctx, s, &j.b); err != nil {
		return err
	}
	if err := x.assignCalls(); err != nil {
		return err
	}
	gs, err := x.groups(j)
	if err != nil {
		return err
	}
	cf, cs, err := s.openCSV(CallsFile, callsHeader)
	if err != nil {
		return err
	}
	defer cf.Close()
	return j.readCalls(ctx, cs, gs)
}

// joinSort holds the two sorts of the slow path.
type joinSort struct {
	byID   *extSorter // calls' ids and bd rows, by call_id (encByID)
	byCall *extSorter // bd rows by call index, then line (encByCall)
	seed   maphash.Seed
	rec    []byte // the record being added
}

func (s *Source) newJoinSort() *joinSort {
	dir, limit := s.TempDir, s.SortMemory
	if dir == "" {
		dir = os.TempDir()
	}
	if limit <= 0 {
		limit = 32 << 20
	}
	return &joinSort{
		byID:   newExtSorter(dir, limit, cmpByID, prefixByID),
		byCall: newExtSorter(dir, limit, cmpByCall, prefixByCall),
		seed:   maphash.MakeSeed(),
	}
}

func (x *joinSort) close() {
	x.byID.close()
	x.byCall.close()
}

// addCalls is step 1: every call's id and index k into byID. k counts
// records, unreadable ones too, as the read loop does.
func (x *joinSort) addCalls(ctx context.Context, s *Source) error {
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
			return nil
		}
		id, err := recordID(f, err)
		if err != nil {
			return fmt.Errorf("snapshot: %s: %w", CallsFile, err)
		}
		if id == nil {
			continue
		}
		x.rec = encByID(x.rec, x.seed, id, 0, k, 0, nil, nil)
		if err := x.byID.add(x.rec); err != nil {
			return err
		}
	}
}

// addBD is step 2: every business-data row into byID; those without a
// call_id that can be read go straight to the end of byCall. b is scratch
// for nextBD.
func (x *joinSort) addBD(ctx context.Context, s *Source, b *bdBatch) error {
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
		ok, err := nextBD(bs, b, &row)
		if err != nil {
			return err
		}
		if err := x.addNoCall(b); err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if row.pe != nil {
			x.rec = encByID(x.rec, x.seed, row.id, 1, uint64(row.line), flagBad, nil, []byte(row.pe.Row().Error()))
		} else {
			x.rec = encByID(x.rec, x.seed, row.id, 1, uint64(row.line), flagOK, row.name, row.value)
		}
		if err := x.byID.add(x.rec); err != nil {
			return err
		}
	}
}

// addNoCall moves the rows of no call nextBD put in b to byCall.
func (x *joinSort) addNoCall(b *bdBatch) error {
	for _, nc := range b.noCall {
		x.rec = encByCall(x.rec, noCall, uint64(nc.line), flagOK, nil, nil, []byte(nc.err.(*noCallError).detail))
		if err := x.byCall.add(x.rec); err != nil {
			return err
		}
	}
	b.reset()
	return nil
}

// assignCalls is step 3: byID in order holds each call_id's calls (in
// calls.csv order) before its rows; each row goes to byCall with the index
// of the first call of its id, or as a row of no call when there is none.
func (x *joinSort) assignCalls() error {
	it, err := x.byID.iter()
	if err != nil {
		return err
	}
	var cur []byte // the call_id being walked
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
		x.rec = rowByCall(x.rec, curK, hasCall, id, seq, flag, name, value)
		if err := x.byCall.add(x.rec); err != nil {
			return err
		}
	}
	x.byID.close()
	return nil
}

// rowByCall is the byCall record of a business-data row of call_id id on
// line: of call k when hasCall, else of no call, saying why.
func rowByCall(dst []byte, k uint64, hasCall bool, id []byte, line uint64, flag byte, name, value []byte) []byte {
	switch {
	case hasCall:
		return encByCall(dst, k, line, flag, id, name, value)
	case flag == flagBad:
		return encByCall(dst, noCall, line, flagOK, nil, nil, []byte(orphanMsg(id, string(value)).detail))
	}
	return encByCall(dst, noCall, line, flagOK, nil, nil, []byte(orphanMsg(id, "").detail))
}

// groups starts step 4: byCall in order, as the read loop's groups.
func (x *joinSort) groups(j *joiner) (*sortedGroups, error) {
	it, err := x.byCall.iter()
	if err != nil {
		return nil, err
	}
	gs := &sortedGroups{j: j, it: it}
	if gs.head, gs.have, err = it.next(); err != nil {
		return nil, err
	}
	return gs, nil
}

// sortedGroups are the sort path's groups: call k's are the byCall records
// of index k, which come in call order; those of no call come last.
type sortedGroups struct {
	j    *joiner
	it   *sortIter
	head []byte // the next record, valid until it.next
	have bool   // head holds one
}

func (gs *sortedGroups) of(k uint64, _ []byte) (*bdBatch, *bdGroup, error) {
	if !gs.have || prefixByCall(gs.head) != k {
		return nil, nil, nil
	}
	b := &gs.j.b
	b.reset() // the previous group's call has been emitted
	_, line, _, id, _, _ := decByCall(gs.head)
	b.startGroup(id, int(line))
	gs.j.namer.start()
	for gs.have && prefixByCall(gs.head) == k {
		_, line, flag, _, name, value := decByCall(gs.head)
		if flag == flagBad {
			b.fail(int(line), bdUnreadableMsg(string(value)))
		} else {
			b.add(gs.j.namer.id(name), name, value, int(line))
		}
		var err error
		if gs.head, gs.have, err = gs.it.next(); err != nil {
			return nil, nil, err
		}
	}
	b.seal()
	return b, b.cur(), nil
}

// rest is step 5: what belongs to no call, in line order.
func (gs *sortedGroups) rest() error {
	for gs.have {
		_, line, _, _, _, value := decByCall(gs.head)
		if err := gs.j.emit(noCallRecord(badRow{int(line), &noCallError{string(value)}})); err != nil {
			return err
		}
		var err error
		if gs.head, gs.have, err = gs.it.next(); err != nil {
			return err
		}
	}
	return nil
}
