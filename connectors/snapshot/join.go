package snapshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/applink-dev/applink/engine/connector"
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
	emit  func(*connector.CallRecord) error
	cp    callParser
	namer *namer
	b     bdBatch             // the sequential and sort paths: the current call's group
	view  []connector.BDField // the business data of the call being emitted
}

// readCall reads the next calls.csv record as the record to emit and the
// call_id to join business data on (nil: none can be read). io.EOF at the
// end; other errors are final.
func (j *joiner) readCall(cs *Scanner) (*connector.CallRecord, []byte, error) {
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
func (j *joiner) emitWith(r *connector.CallRecord, b *bdBatch, g *bdGroup) error {
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

// groups is where a join path finds each call's business data. Every path
// emits through one read loop (joiner.readCalls); they differ only in where
// the groups come from: the sequential merge join reads business_data.csv
// beside calls.csv, the parallel one takes the workers' batches in file
// order, the sort path reads its rows sorted by call index.
type groups interface {
	// of returns the group of calls.csv record k (unreadable records
	// counted too), whose call_id is id (nil: none can be read), with the
	// batch holding it; nil when the call has none. Both stay valid until
	// the next call of of or rest.
	of(k uint64, id []byte) (*bdBatch, *bdGroup, error)
	// rest emits, once calls.csv is read, what no call got.
	rest() error
}

// readCalls is the join's read loop: every calls.csv record in file order,
// emitted with its group, then what belongs to no call.
func (j *joiner) readCalls(ctx context.Context, cs *Scanner, gs groups) error {
	for k := uint64(0); ; k++ {
		if k&1023 == 0 {
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
		b, g, err := gs.of(k, id)
		if err != nil {
			return err
		}
		if err := j.emitWith(r, b, g); err != nil {
			return err
		}
	}
	return gs.rest()
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

	gs := &seqGroups{j: j, bs: bs}
	b := &j.b
	if gs.have, err = nextBD(bs, b, &gs.row); err != nil {
		return err
	}
	if err := j.emitNoCall(b.noCall); err != nil { // before any group
		return err
	}
	b.reset()
	return j.readCalls(ctx, cs, gs)
}

// seqGroups are the groups of the sequential merge join: a call's group is
// the business_data.csv rows that follow with its call_id, read into the
// joiner's batch when the call comes.
type seqGroups struct {
	j    *joiner
	bs   *Scanner
	row  bdRow // the pending row: valid while only the calls scanner moves
	have bool  // row holds one
}

func (gs *seqGroups) of(_ uint64, id []byte) (*bdBatch, *bdGroup, error) {
	row := &gs.row
	if !gs.have || id == nil || !bytes.Equal(row.id, id) {
		return nil, nil, nil
	}
	b, n, bs := &gs.j.b, gs.j.namer, gs.bs
	b.reset() // the previous group's call has been emitted
	b.startGroup(row.id, row.line)
	n.start()
	have := true
	var err error
	for have && bytes.Equal(row.id, id) {
		b.take(n, row)
		if have, err = nextBD(bs, b, row); err != nil {
			return nil, nil, err
		}
	}
	gs.have = have
	b.seal()
	return b, b.cur(), nil
}

// rest has rows to emit only when the files changed since the order check.
func (gs *seqGroups) rest() error {
	b := &gs.j.b
	b.reset()
	for gs.have {
		b.addNoCall(gs.row.line, orphanErr(gs.row.id, gs.row.pe))
		var err error
		if gs.have, err = nextBD(gs.bs, b, &gs.row); err != nil {
			return err
		}
	}
	return gs.j.emitNoCall(b.noCall)
}
