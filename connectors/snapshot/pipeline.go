package snapshot

import (
	"bytes"
	"context"
	"io"
	"sync"

	"github.com/applink-dev/applink/engine"
)

// The parallel merge join: a producer goroutine scans business_data.csv
// into batches of finished groups (values copied, names interned,
// duplicates resolved) while the caller's goroutine scans calls.csv, matches
// and emits. Scanning business data is most of the reading work, so this
// puts it on the second core. Batches are recycled; a batch goes back to
// the producer only after the emit of its last group has returned, which is
// what keeps BD values valid during emit.

const (
	batchVals   = 256 << 10 // value bytes per batch
	batchGroups = 1024
	batches     = 4 // in flight: bounds memory
)

type bdBatch struct {
	groups []bdGroup
	ids    []byte
	fields []engine.BDField
	spans  []span
	vals   []byte
	bad    []badRow
	err    error // the producer's final error
}

type bdGroup struct {
	id         span
	line       int // first row
	noCall     bool
	fs, fe     int   // fields
	bs, be     int   // bad rows to report after the call
	err        error // the call's error from its business data
	fieldsView []engine.BDField
}

func (b *bdBatch) reset() {
	b.groups, b.ids, b.fields, b.spans, b.vals = b.groups[:0], b.ids[:0], b.fields[:0], b.spans[:0], b.vals[:0]
	clear(b.bad)
	b.bad, b.err = b.bad[:0], nil
}

type producer struct {
	j     *joiner // its group, names and bad-row list; never emits
	sc    *Scanner
	full  chan *bdBatch
	free  chan *bdBatch
	done  chan struct{}
	made  int
	b     *bdBatch
	curID []byte
}

// get returns an empty batch, false when the consumer has gone.
func (p *producer) get() bool {
	if p.made < batches {
		select {
		case b := <-p.free:
			b.reset()
			p.b = b
			return true
		default:
		}
		p.made++
		p.b = &bdBatch{}
		return true
	}
	select {
	case b := <-p.free:
		b.reset()
		p.b = b
		return true
	case <-p.done:
		return false
	}
}

func (p *producer) send() bool {
	b := p.b
	for i, sp := range b.spans {
		b.fields[i].Value = b.vals[sp.s:sp.e:sp.e]
	}
	for i := range b.groups {
		g := &b.groups[i]
		if g.fe > g.fs {
			g.fieldsView = b.fields[g.fs:g.fe:g.fe]
		}
	}
	select {
	case p.full <- b:
		p.b = nil
		return true
	case <-p.done:
		return false
	}
}

// closeGroup moves the finished group (and the bad rows seen meanwhile)
// into the batch.
func (p *producer) closeGroup(id []byte, line int, noCall bool) {
	b, j := p.b, p.j
	g := bdGroup{line: line, noCall: noCall, fs: len(b.fields), bs: len(b.bad)}
	st := len(b.ids)
	b.ids = append(b.ids, id...)
	g.id = span{st, len(b.ids)}
	for i, f := range j.g.finish() {
		_ = i
		vs := len(b.vals)
		b.vals = append(b.vals, f.Value...)
		b.fields = append(b.fields, engine.BDField{Name: f.Name})
		b.spans = append(b.spans, span{vs, len(b.vals)})
	}
	g.fe = len(b.fields)
	g.err = j.g.err()
	b.bad = append(b.bad, j.bad...)
	g.be = len(b.bad)
	b.groups = append(b.groups, g)
	j.g.reset()
	clear(j.bad)
	j.bad = j.bad[:0]
}

func (p *producer) run(ctx context.Context) {
	defer close(p.full)
	if !p.get() {
		return
	}
	open, line := false, 0
	fail := func(err error) {
		p.b.err = err
		p.send()
	}
	var row bdRow
	for n := 0; ; n++ {
		if n&4095 == 0 && ctx.Err() != nil {
			fail(ctx.Err())
			return
		}
		ok, err := p.j.next(p.sc, &row)
		if err != nil {
			fail(err)
			return
		}
		if !ok {
			break
		}
		if open && !bytes.Equal(row.id, p.curID) {
			p.closeGroup(p.curID, line, false)
			open = false
			if len(p.b.vals) >= batchVals || len(p.b.groups) >= batchGroups {
				if !p.send() || !p.get() {
					return
				}
			}
		}
		if !open {
			p.curID, open, line = append(p.curID[:0], row.id...), true, row.line
		}
		p.j.take(&row)
	}
	if open {
		p.closeGroup(p.curID, line, false)
	}
	if len(p.j.bad) > 0 {
		p.closeGroup(nil, 0, true)
	}
	if len(p.b.groups) > 0 {
		p.send()
	}
}

// mergeJoinParallel is mergeJoin with business data read by a producer.
func (s *Source) mergeJoinParallel(ctx context.Context, j *joiner) error {
	cf, cs, err := s.openCSV(CallsFile, callsHeader)
	if err != nil {
		return err
	}
	defer cf.Close()
	bf, bsc, err := s.openCSV(BDFile, bdHeader)
	if err != nil {
		return err
	}
	defer bf.Close()

	p := &producer{
		j:    &joiner{names: j.names, local: map[string]int32{}},
		sc:   bsc,
		full: make(chan *bdBatch, batches),
		free: make(chan *bdBatch, batches),
		done: make(chan struct{}),
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.run(ctx)
	}()
	defer wg.Wait()
	defer close(p.done)

	var b *bdBatch
	gi := 0
	// group returns the current group, nil at the end.
	group := func() (*bdGroup, error) {
		for b == nil || gi == len(b.groups) {
			if b != nil {
				p.free <- b // capacity batches: never blocks
				b = nil
			}
			nb, ok := <-p.full
			if !ok {
				return nil, nil
			}
			if nb.err != nil {
				return nil, nb.err
			}
			b, gi = nb, 0
		}
		return &b.groups[gi], nil
	}
	emitBad := func(g *bdGroup) error {
		for _, r := range b.bad[g.bs:g.be] {
			if err := j.emit(&engine.CallRecord{Pos: BDFile + ":" + itoa(r.line), Err: r.err}); err != nil {
				return err
			}
		}
		return nil
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
		g, err := group()
		if err != nil {
			return err
		}
		if g == nil || g.noCall || id == nil || !bytes.Equal(b.ids[g.id.s:g.id.e], id) {
			if err := j.emit(r); err != nil {
				return err
			}
			continue
		}
		r.BD = g.fieldsView
		if g.err != nil {
			r.Err = joinErr(r.Err, g.err)
		}
		if err := j.emit(r); err != nil {
			return err
		}
		if err := emitBad(g); err != nil {
			return err
		}
		gi++
	}
	// What is left belongs to no call: only bad rows after a passed order
	// check, unless the files changed since.
	for {
		g, err := group()
		if err != nil {
			return err
		}
		if g == nil {
			return nil
		}
		if !g.noCall {
			if err := j.emit(&engine.CallRecord{Pos: BDFile + ":" + itoa(g.line), Err: orphanErr(b.ids[g.id.s:g.id.e], nil)}); err != nil {
				return err
			}
		}
		if err := emitBad(g); err != nil {
			return err
		}
		gi++
	}
}
