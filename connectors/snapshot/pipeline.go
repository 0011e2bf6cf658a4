package snapshot

import (
	"bytes"
	"context"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/applink-dev/applink/engine/connector"
)

// The parallel merge join: business_data.csv is cut into chunks at group
// starts (the order check notes where), worker goroutines parse chunks into
// batches of finished groups (values copied, names interned, a repeated
// name resolved, bad rows counted) concurrently, and the caller's goroutine
// scans calls.csv, takes the batches in file order, matches and emits.
// Parsing business data is most of the reading work; this spreads it over
// every core. A batch goes back to the workers only after the emit of its
// last group has returned, which is what keeps BD values valid during emit;
// the number of batches bounds memory.

// chunkJob is a chunk to parse, with the batch that receives it.
type chunkJob struct {
	off, end int64
	line     int
	b        *bdBatch
	done     chan struct{} // closed when b is ready
}

// parallel runs the workers of one ReadCalls.
type parallel struct {
	f      *os.File
	names  *connector.Names
	work   chan *chunkJob
	order  chan *chunkJob // in file order, to the consumer
	free   chan *bdBatch
	quit   chan struct{}
	wg     sync.WaitGroup
	width  int
	chunks []bdChunk
	end    int64
}

// workers is how many goroutines parse business data.
func workers() int { return max(1, min(runtime.GOMAXPROCS(0), 8)) }

// dispatch hands the chunks out in order, each with a free batch.
func (p *parallel) dispatch() {
	defer p.wg.Done()
	defer close(p.work)
	defer close(p.order)
	for i, c := range p.chunks {
		end := p.end
		if i+1 < len(p.chunks) {
			end = p.chunks[i+1].off
		}
		var b *bdBatch
		select {
		case b = <-p.free:
		case <-p.quit:
			return
		}
		job := &chunkJob{off: c.off, end: end, line: c.line, b: b, done: make(chan struct{})}
		select {
		case p.order <- job:
		case <-p.quit:
			return
		}
		select {
		case p.work <- job:
		case <-p.quit:
			return
		}
	}
}

// worker parses chunks until there are no more.
func (p *parallel) worker(ctx context.Context) {
	defer p.wg.Done()
	n := newNamer(p.names) // a namer per worker: its cache is not shared
	sc := NewScanner(nil)
	for job := range p.work {
		p.parse(ctx, sc, n, job)
		close(job.done)
	}
}

func (p *parallel) parse(ctx context.Context, sc *Scanner, n *namer, job *chunkJob) {
	b := job.b
	b.reset()
	sc.Reset(io.NewSectionReader(p.f, job.off, job.end-job.off), job.off, job.line)
	sc.Width = p.width
	var row bdRow
	for i := 0; ; i++ {
		if i&63 == 0 {
			select {
			case <-p.quit:
				b.err = context.Canceled
				return
			default:
			}
			if err := ctx.Err(); err != nil {
				b.err = err
				return
			}
		}
		fastBD(sc, b, n)
		ok, err := nextBD(sc, b, &row)
		if err != nil {
			b.err = err
			return
		}
		if !ok {
			break
		}
		if !b.open || !bytes.Equal(row.id, b.groupID(b.cur())) {
			b.startGroup(row.id, row.line)
			n.start()
		}
		b.take(n, &row)
	}
	b.seal()
}

// fastBD adds to b the business_data.csv records in sc's buffer for as long
// as they are plain: a line ending in '\n' (not "\r\n"), without quotes,
// with exactly three fields and a call_id. It is nextBD and take for the
// common line, on indexes into the buffer: the current call's id and the
// predicted name are compared in place, so that most lines cost one search
// for their end and one for a comma in the value. It stops before any
// other line, for nextBD, which also reads more into the buffer.
func fastBD(sc *Scanner, b *bdBatch, n *namer) {
	buf := sc.buf[:sc.end]
	pos, line := sc.pos, sc.line
	var cur word
	if b.open {
		cur = newWord(b.groupID(b.cur()))
	}
	for {
		i := bytes.IndexByte(buf[pos:], '\n')
		if i <= 0 || buf[pos+i-1] == '\r' {
			break // no whole line, an empty one or a CRLF
		}
		nl := pos + i
		if !sc.noQuote(pos, nl, len(buf)) {
			break
		}
		// The id: the current call's, or up to the first comma.
		c1 := pos + len(cur.s)
		if len(cur.s) == 0 || c1 >= nl || buf[c1] != ',' || !cur.at(buf, pos) {
			k := bytes.IndexByte(buf[pos:nl], ',')
			if k <= 0 {
				break
			}
			c1 = pos + k
			b.startGroup(buf[pos:c1], line+1)
			n.start()
			cur = newWord(b.groupID(b.cur()))
		}
		// The name: the predicted one, or up to the next comma.
		var id int32 = -1
		c2 := -1
		if p := n.predict(); p != nil {
			if e := c1 + 1 + len(p.name.s); e < nl && buf[e] == ',' && p.name.at(buf, c1+1) {
				id, c2 = p.id, e
				n.hit()
			}
		}
		if c2 < 0 {
			k := bytes.IndexByte(buf[c1+1:nl], ',')
			if k < 0 {
				break // the group is open: nextBD reports the line in it
			}
			c2 = c1 + 1 + k
		}
		if bytes.IndexByte(buf[c2+1:nl], ',') >= 0 {
			break
		}
		if id < 0 {
			id = n.id(buf[c1+1 : c2])
		}
		line++
		b.add(id, buf[c1+1:c2], buf[c2+1:nl], line)
		pos = nl + 1
	}
	sc.pos, sc.scan, sc.line = pos, pos, line
}

// mergeJoinParallel is the merge join with business data parsed by
// workers, chunk by chunk as plan says.
func (s *Source) mergeJoinParallel(ctx context.Context, j *joiner, plan *bdPlan) error {
	cf, cs, err := s.openCSV(CallsFile, callsHeader)
	if err != nil {
		return err
	}
	defer cf.Close()
	bf, err := os.Open(s.path(BDFile))
	if err != nil {
		return err
	}
	defer bf.Close()

	nw := workers()
	p := &parallel{
		f:      bf,
		names:  j.namer.names,
		work:   make(chan *chunkJob),
		order:  make(chan *chunkJob, nw+1),
		free:   make(chan *bdBatch, nw+1),
		quit:   make(chan struct{}),
		width:  len(bdHeader),
		chunks: plan.chunks,
		end:    plan.end,
	}
	for range nw + 1 {
		p.free <- &bdBatch{}
	}
	p.wg.Add(1 + nw)
	go p.dispatch()
	for range nw {
		go p.worker(ctx)
	}
	defer p.wg.Wait()
	defer close(p.quit)

	return j.readCalls(ctx, cs, &batchGroups{j: j, p: p})
}

// batchGroups are the groups of the parallel merge join: the workers'
// batches, taken in file order, their groups matched in turn.
type batchGroups struct {
	j  *joiner
	p  *parallel
	b  *bdBatch // the batch taken last
	gi int      // its next group
}

// next is the next group, nil at the end. Rows of no call before a batch's
// first group are emitted as the batch is taken: they came after the
// previous batch's last group. A batch goes back to the workers here, once
// its last group has been used: the emit of that group has returned.
func (gs *batchGroups) next() (*bdGroup, error) {
	for gs.b == nil || gs.gi == len(gs.b.groups) {
		if gs.b != nil {
			gs.p.free <- gs.b // never blocks: there are as many places as batches
			gs.b = nil
		}
		job, ok := <-gs.p.order
		if !ok {
			return nil, nil
		}
		<-job.done
		if job.b.err != nil {
			return nil, job.b.err
		}
		b := job.b
		gs.b, gs.gi = b, 0
		pre := len(b.noCall)
		if len(b.groups) > 0 {
			pre = b.groups[0].ns
		}
		if err := gs.j.emitNoCall(b.noCall[:pre]); err != nil {
			return nil, err
		}
	}
	return &gs.b.groups[gs.gi], nil
}

func (gs *batchGroups) of(_ uint64, id []byte) (*bdBatch, *bdGroup, error) {
	g, err := gs.next()
	if err != nil || g == nil || id == nil || !bytes.Equal(gs.b.groupID(g), id) {
		return nil, nil, err
	}
	gs.gi++
	return gs.b, g, nil
}

// rest has groups left only when the files changed since the order check:
// they belong to no call.
func (gs *batchGroups) rest() error {
	for {
		g, err := gs.next()
		if err != nil {
			return err
		}
		if g == nil {
			return nil
		}
		if err := gs.j.emit(noCallRecord(badRow{g.line, orphanErr(gs.b.groupID(g), nil)})); err != nil {
			return err
		}
		if err := gs.j.emitNoCall(gs.b.noCall[g.ns:g.ne]); err != nil {
			return err
		}
		gs.gi++
	}
}
