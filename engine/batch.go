package engine

import (
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
)

// batch is the unit that moves through the call pipeline. Records keep their
// business data as offsets into one arena, so a batch reaches a steady size
// and is reused without allocating.
type batch struct {
	src   int
	n     int
	recs  []rec
	bd    []bdRef
	arena []byte
	vals  []connector.Value // mapped values of the batch's imported calls
	view  []connector.BDField
}

type bdRef struct {
	name   int32
	lo, hi int32
}

// rec is one call of a batch with the evaluator's verdict.
type rec struct {
	call       dsl.Call
	bdLo, bdHi int32
	pos        string
	err        error

	state, reason, detail string
	agentUser             string
	valLo, valHi          int32
	hash                  uint64 // content hash of what is sent
	fp                    uint64 // fingerprint of the verdict (state, reason, hash)
	change                string // new | changed | unchanged
	skip                  bool   // seen from another site already: no second ledger row
	locate                bool   // imported by the rules, settled once its media is located
	mediaFile             string // the located media file (MediaLocator sources)
	mediaErr              error  // why the media could not be located
}

func newBatch(size int) *batch {
	return &batch{recs: make([]rec, size), arena: make([]byte, 0, size*256)}
}

// add copies a source record into the batch: the source reuses its buffers
// once emit returns.
func (b *batch) add(r *connector.CallRecord) {
	x := &b.recs[b.n]
	b.n++
	x.call = r.Call
	x.pos = r.Pos
	x.err = r.Err
	x.bdLo = int32(len(b.bd))
	for _, f := range r.BD {
		lo := int32(len(b.arena))
		b.arena = append(b.arena, f.Value...)
		b.bd = append(b.bd, bdRef{name: f.Name, lo: lo, hi: int32(len(b.arena))})
	}
	x.bdHi = int32(len(b.bd))
}

func (b *batch) reset() {
	for i := range b.n {
		b.recs[i] = rec{}
	}
	b.n = 0
	b.bd = b.bd[:0]
	b.arena = b.arena[:0]
	b.vals = b.vals[:0]
}

// bdOf is a record's business data as BDFields (for observers).
func (b *batch) bdOf(r *rec) []connector.BDField {
	b.view = b.view[:0]
	for _, f := range b.bd[r.bdLo:r.bdHi] {
		b.view = append(b.view, connector.BDField{Name: f.name, Value: b.arena[f.lo:f.hi]})
	}
	return b.view
}
