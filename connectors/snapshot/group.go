package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/applink-dev/applink/engine/connector"
)

// bdBatch holds finished groups of business data, each a call's values with
// the names interned, a repeated name resolved and the rows that fail the
// call counted, and the rows of no call met among them. Every join fills
// batches the same way: the parallel one a batch per chunk of the file, the
// others a batch holding the current call's group.
type bdBatch struct {
	groups []bdGroup
	ids    []byte
	// By field, without pointers (a pointer stored per row would pay the
	// GC's write barrier, and pointers make the GC scan the batch): bd
	// makes engine.BDFields of a group's when it is emitted.
	rows   []bdField
	vals   []byte   // values, copied: scanners reuse their buffers
	noCall []badRow // rows no call gets, each after the group it came with
	err    error    // set by a worker that had to stop

	// While a group is open, by name ID: whether the group has the name
	// (stamp == seq), which field holds it and the line it came from.
	stamp []uint32
	slot  []int32
	first []int
	seq   uint32
	open  bool
}

// bdField is a field of a batch before seal: its name ID and where its
// value is in vals.
type bdField struct {
	name int32
	s, e int
}

// bdGroup is one call's business data in a batch.
type bdGroup struct {
	id     span
	line   int // its first row
	fs, fe int // its fields
	ns, ne int // the rows of no call to emit after its call
	nBad   int // rows that fail the call
	bad    badRow
}

type badRow struct {
	line int
	err  error
}

func (b *bdBatch) reset() {
	b.groups, b.ids, b.rows, b.vals = b.groups[:0], b.ids[:0], b.rows[:0], b.vals[:0]
	clear(b.noCall)
	b.noCall, b.err, b.open = b.noCall[:0], nil, false
}

// startGroup opens the group of call id, whose first row is on line.
func (b *bdBatch) startGroup(id []byte, line int) {
	b.seq++
	if b.seq == 0 { // wrapped: forget every stamp
		clear(b.stamp)
		b.seq = 1
	}
	if b.open {
		b.cur().fe = len(b.rows)
	}
	st := len(b.ids)
	b.ids = append(b.ids, id...)
	n := len(b.rows)
	b.groups = append(b.groups, bdGroup{id: span{st, len(b.ids)}, line: line, fs: n, fe: n, ns: len(b.noCall), ne: len(b.noCall)})
	b.open = true
}

// cur is the open group.
func (b *bdBatch) cur() *bdGroup { return &b.groups[len(b.groups)-1] }

func (b *bdBatch) groupID(g *bdGroup) []byte { return b.ids[g.id.s:g.id.e] }

// grow makes room for name IDs below n.
func (b *bdBatch) grow(n int) {
	for len(b.stamp) < n {
		b.stamp = append(b.stamp, 0)
		b.slot = append(b.slot, 0)
		b.first = append(b.first, 0)
	}
}

// add adds a value to the open group. A name given twice fails the call:
// which value is meant cannot be known (the later one is kept, for a
// preview to show).
func (b *bdBatch) add(nameID int32, name, value []byte, line int) {
	if int(nameID) < len(b.stamp) && b.stamp[nameID] != b.seq { // the common case, kept short
		b.stamp[nameID], b.slot[nameID], b.first[nameID] = b.seq, int32(len(b.rows)), line
		st := len(b.vals)
		b.vals = append(b.vals, value...)
		b.rows = append(b.rows, bdField{nameID, st, len(b.vals)})
		return
	}
	b.addSlow(nameID, name, value, line)
}

func (b *bdBatch) addSlow(nameID int32, name, value []byte, line int) {
	if int(nameID) >= len(b.stamp) {
		b.grow(int(nameID) + 1)
	}
	st := len(b.vals)
	b.vals = append(b.vals, value...)
	if b.stamp[nameID] == b.seq {
		b.fail(line, fmt.Errorf("business data %q given twice, on lines %d and %d", name, b.first[nameID], line))
		i := b.slot[nameID]
		b.rows[i].s, b.rows[i].e = st, len(b.vals)
		return
	}
	b.stamp[nameID], b.slot[nameID], b.first[nameID] = b.seq, int32(len(b.rows)), line
	b.rows = append(b.rows, bdField{nameID, st, len(b.vals)})
}

// fail records a row that makes the open group's call fail.
func (b *bdBatch) fail(line int, err error) {
	g := b.cur()
	if g.nBad == 0 {
		g.bad = badRow{line, err}
	}
	g.nBad++
}

// addNoCall records a row no call gets; it is emitted after the call of
// the last group opened (or before the first call when none is).
func (b *bdBatch) addNoCall(line int, err error) {
	b.noCall = append(b.noCall, badRow{line, err})
	if len(b.groups) > 0 {
		b.groups[len(b.groups)-1].ne = len(b.noCall)
	}
}

// seal ends the open group.
func (b *bdBatch) seal() {
	if b.open {
		b.cur().fe = len(b.rows)
	}
}

// bd appends a sealed group's business data to view; the values are
// valid while the batch is.
func (b *bdBatch) bd(g *bdGroup, view []connector.BDField) []connector.BDField {
	for _, r := range b.rows[g.fs:g.fe] {
		view = append(view, connector.BDField{Name: r.name, Value: b.vals[r.s:r.e:r.e]})
	}
	return view
}

// err is the error a group gives its call, nil when none.
func (g *bdGroup) err() error {
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

// namer interns business-data names. They come in the same order call
// after call, some calls leaving a few out: it predicts the next name from
// the order first met, looking a few names ahead, before a map lookup.
type namer struct {
	names *connector.Names
	local map[string]int32
	order []cachedName
	at    []int32 // by name ID: its index in order, -1 when not in it
	next  int     // index in order expected for the next row of the group
}

type cachedName struct {
	name word
	id   int32
}

// namerAhead is how many names of the order a prediction looks at.
const namerAhead = 4

func newNamer(names *connector.Names) *namer {
	return &namer{names: names, local: map[string]int32{}}
}

// start is called when a group starts.
func (n *namer) start() { n.next = 0 }

// predict is the name expected next, nil when none; after a match, hit.
func (n *namer) predict() *cachedName {
	if n.next < len(n.order) {
		return &n.order[n.next]
	}
	return nil
}

func (n *namer) hit() { n.next++ }

func (n *namer) id(name []byte) int32 {
	for k := n.next; k < len(n.order) && k < n.next+namerAhead; k++ {
		if bytes.Equal(n.order[k].name.s, name) {
			n.next = k + 1
			return n.order[k].id
		}
	}
	id, ok := n.local[string(name)]
	if !ok {
		id = n.names.ID(name)
		n.local[string(name)] = id
	}
	for int(id) >= len(n.at) {
		n.at = append(n.at, -1)
	}
	switch {
	case n.at[id] >= 0:
		n.next = int(n.at[id]) + 1
	case len(n.order) < 256:
		n.at[id] = int32(len(n.order))
		n.order = append(n.order, cachedName{newWord(append([]byte(nil), name...)), id})
		n.next = len(n.order)
	}
	return id
}

// word is a short byte string (an id, a name) held for comparisons in
// place: up to 16 bytes are compared by two 8-byte loads, not a call.
type word struct {
	s       []byte
	a, b, m uint64 // 8 ≤ len(s) ≤ 16: its first and last 8 bytes; < 8: a masked by m
}

func newWord(s []byte) word {
	w := word{s: s}
	var pad [8]byte
	switch n := len(s); {
	case n >= 8 && n <= 16:
		w.a, w.b = binary.LittleEndian.Uint64(s), binary.LittleEndian.Uint64(s[n-8:])
	case n < 8:
		copy(pad[:], s)
		w.a = binary.LittleEndian.Uint64(pad[:])
		w.m = ^uint64(0) >> (64 - 8*n)
		if n == 0 {
			w.m = 0
		}
	}
	return w
}

// at reports whether buf[i:i+len(w.s)] is w; the caller knows that
// i+len(w.s) <= len(buf).
func (w *word) at(buf []byte, i int) bool {
	n := len(w.s)
	switch {
	case n >= 8 && n <= 16:
		return binary.LittleEndian.Uint64(buf[i:]) == w.a && binary.LittleEndian.Uint64(buf[i+n-8:]) == w.b
	case n < 8 && i+8 <= len(buf):
		return binary.LittleEndian.Uint64(buf[i:])&w.m == w.a
	}
	return string(buf[i:i+n]) == string(w.s)
}

// bdRow is the business_data.csv record a join has in hand: a good row, or
// one that could not be read but whose call_id could (pe set).
type bdRow struct {
	id, name, value []byte
	pe              *ParseError
	line            int
}

// nextBD reads the next business_data.csv record that belongs to a call;
// the rows no call can get (no readable call_id) go to b as rows of no
// call. ok is false at the end.
func nextBD(bs *Scanner, b *bdBatch, r *bdRow) (ok bool, err error) {
	for {
		id, name, value, err := bs.Next3()
		if err == io.EOF {
			return false, nil
		}
		var pe *ParseError
		switch {
		case err == nil && len(id) > 0:
			*r = bdRow{id: id, name: name, value: value, line: bs.Line()}
			return true, nil
		case err == nil:
			b.addNoCall(bs.Line(), errEmptyBDCallID)
		case asParse(err, &pe) && pe.ID != "":
			*r = bdRow{id: []byte(pe.ID), pe: pe, line: pe.Line}
			return true, nil
		case pe != nil:
			b.addNoCall(pe.Line, bdNoID(pe))
		default:
			return false, fmt.Errorf("snapshot: %s: %w", BDFile, err)
		}
	}
}

// take adds a record of nextBD to the open group.
func (b *bdBatch) take(n *namer, r *bdRow) {
	if r.pe != nil {
		b.fail(r.line, bdUnreadable(r.pe))
		return
	}
	b.add(n.id(r.name), r.name, r.value, r.line)
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
// connector.ErrBDWithoutCall, so that the engine counts the row on its own
// line with its file:line, never as a call row (issue 10.2: a row whose
// call_id cannot be read may belong to no call at all; counting it as an
// unreadable call row would make "source call rows" more than calls.csv
// has). Such a row makes the run exit 1 all the same.
type noCallError struct{ detail string }

func (e *noCallError) Error() string { return connector.ErrBDWithoutCall.Error() + ": " + e.detail }
func (e *noCallError) Unwrap() error { return connector.ErrBDWithoutCall }

// bdNoID is the error of a business_data.csv row whose call_id cannot be
// read.
func bdNoID(pe *ParseError) error {
	return &noCallError{"its call_id cannot be read: " + pe.Row().Error()}
}

var errEmptyBDCallID = &noCallError{"its call_id is empty"}

// orphanErr is the error of a business-data row whose call is not in
// calls.csv (pe set: a row that could not be read either).
func orphanErr(id []byte, pe *ParseError) *noCallError {
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

// noCallRecord is the record emitted for a row of no call.
func noCallRecord(r badRow) *connector.CallRecord {
	return &connector.CallRecord{Pos: BDFile + ":" + strconv.Itoa(r.line), Err: r.err}
}
