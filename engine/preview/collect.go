package preview

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strings"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/duckdb/duckdb-go/v2"
)

// Batches between the engine's writer goroutine and the appender goroutine.
// The pool bounds memory: 4 × 2048 calls, about 2 MB with 50 fields.
const (
	batchCalls = 2048
	poolSize   = 4
)

// obsCall is an observed call kept past the callback. The strings of
// dsl.Call may be kept (connector.CallRecord's contract); business data and
// mapped text are copied into the batch's arena.
type obsCall struct {
	pos          int64
	src          int32
	call         dsl.Call
	state        string
	reason       string
	detail       string
	agentUser    string
	fp           uint64
	imported     bool
	valLo, valHi int32
	bdLo, bdHi   int32
}

type obsBD struct {
	name   string
	lo, hi int32
}

type obsAgent struct {
	row     connector.LedgerRow
	agent   dsl.Agent
	isAgent bool
	fp      uint64
}

type obsBatch struct {
	calls  []obsCall
	vals   []bdValue
	bd     []obsBD
	arena  []byte
	agents []obsAgent
}

func (b *obsBatch) reset() {
	b.calls = b.calls[:0]
	b.vals = b.vals[:0]
	b.bd = b.bd[:0]
	b.arena = b.arena[:0]
	b.agents = b.agents[:0]
}

// collector receives the engine's Observe callbacks and hands full batches
// to its appender goroutine. Observe and ObserveAgent are never called
// concurrently (agents come before calls), so cur needs no lock.
type collector struct {
	plan     *engine.Plan
	sampleBD bool
	cancel   context.CancelCauseFunc

	cur  *obsBatch
	pos  int64
	free chan *obsBatch
	work chan *obsBatch
	done chan struct{}

	// Owned by the appender goroutine.
	app     *appenders
	commit  func() error // commits what the appenders flushed; nil: never
	pending int          // calls appended since the last commit
	err     error
	json    []byte
	row     []driver.Value
	srcName []string
}

// appenders are the DuckDB appenders of one preview file, one per table.
type appenders struct {
	calls, results, mapped, agents, bd *duckdb.Appender
}

func newCollector(plan *engine.Plan, app *appenders, sampleBD bool, cancel context.CancelCauseFunc) *collector {
	c := &collector{
		plan: plan, sampleBD: sampleBD, cancel: cancel, app: app,
		free: make(chan *obsBatch, poolSize), work: make(chan *obsBatch, poolSize), done: make(chan struct{}),
		row: make([]driver.Value, 0, 20),
	}
	for range poolSize - 1 {
		c.free <- &obsBatch{}
	}
	c.cur = &obsBatch{}
	for _, s := range plan.Sources {
		c.srcName = append(c.srcName, s.Name)
	}
	go c.loop()
	return c
}

func (c *collector) observeAgent(a *engine.ObservedAgent) {
	oa := obsAgent{row: a.Ledger, isAgent: a.IsAgent, fp: a.FP}
	if a.Agent != nil {
		oa.agent = *a.Agent
	}
	if len(oa.agent.AgentIDs) == 0 {
		oa.agent.AgentIDs = a.AgentIDs
	}
	c.cur.agents = append(c.cur.agents, oa)
	if len(c.cur.agents) >= batchCalls {
		c.send()
	}
}

func (c *collector) observe(o *engine.ObservedCall) {
	b := c.cur
	oc := obsCall{
		pos: c.pos, src: int32(o.Source), call: *o.Call,
		state: o.Ledger.State, reason: o.Ledger.Reason, detail: o.Ledger.Detail, fp: o.FP,
	}
	c.pos++
	if o.Out != nil {
		oc.imported = true
		oc.agentUser = o.Out.AgentUserID
		oc.valLo = int32(len(b.vals))
		for i := range o.Out.Values {
			v := &o.Out.Values[i]
			lo := int32(len(b.arena))
			b.arena = append(b.arena, v.Text...)
			b.vals = append(b.vals, bdValue{field: int32(v.Field), lo: lo, hi: int32(len(b.arena)), number: v.Number, boolean: v.Bool})
		}
		oc.valHi = int32(len(b.vals))
	}
	if c.sampleBD && o.Names != nil {
		oc.bdLo = int32(len(b.bd))
		for _, f := range o.BD {
			lo := int32(len(b.arena))
			b.arena = append(b.arena, f.Value...)
			b.bd = append(b.bd, obsBD{name: o.Names.Name(f.Name), lo: lo, hi: int32(len(b.arena))})
		}
		oc.bdHi = int32(len(b.bd))
	}
	b.calls = append(b.calls, oc)
	if len(b.calls) >= batchCalls {
		c.send()
	}
}

// send hands the current batch over and takes a free one, waiting when the
// appender is behind: that back-pressure is what keeps memory flat.
func (c *collector) send() {
	c.work <- c.cur
	c.cur = <-c.free
}

// finish hands over the last batch, waits for the appender goroutine and
// closes the appenders (which flushes them). It returns the first error.
func (c *collector) finish() error {
	if len(c.cur.calls)+len(c.cur.agents) > 0 {
		c.work <- c.cur
	}
	close(c.work)
	<-c.done
	for _, a := range []*duckdb.Appender{c.app.calls, c.app.results, c.app.mapped, c.app.agents, c.app.bd} {
		if err := a.Close(); err != nil && c.err == nil {
			c.err = fmt.Errorf("preview: store rows: %w", err)
		}
	}
	return c.err
}

// loop appends each batch. After an error it keeps draining (so the engine
// never blocks on a full pool) and has cancelled the run.
func (c *collector) loop() {
	defer close(c.done)
	for b := range c.work {
		if c.err == nil {
			if err := c.write(b); err != nil {
				c.err = fmt.Errorf("preview: store rows: %w", err)
				c.cancel(c.err)
			}
		}
		c.pending += len(b.calls)
		if c.err == nil && c.commit != nil && c.pending >= commitEvery {
			c.pending = 0
			if err := c.flushCommit(); err != nil {
				c.err = fmt.Errorf("preview: store rows: %w", err)
				c.cancel(c.err)
			}
		}
		b.reset()
		select {
		case c.free <- b:
		default: // the last batch: the pool is full
		}
	}
}

// commitEvery is how many calls go into one transaction. One transaction
// for everything would hold a whole preview's rows in DuckDB's memory until
// the end; one per Appender auto-flush would sync the WAL every few thousand
// rows. A variable for tests.
var commitEvery = 100_000

func (c *collector) flushCommit() error {
	for _, a := range []*duckdb.Appender{c.app.calls, c.app.results, c.app.mapped, c.app.agents, c.app.bd} {
		if err := a.Flush(); err != nil {
			return err
		}
	}
	return c.commit()
}

func (c *collector) write(b *obsBatch) error {
	for i := range b.agents {
		a := &b.agents[i]
		r := append(c.row[:0], a.row.ID, a.row.State, a.row.Reason, a.row.Detail, a.fp, a.agent.Active, a.isAgent,
			strings.Join(a.agent.AgentIDs, ";"), a.agent.FirstName, a.agent.LastName, a.agent.Email, a.agent.TenantID)
		if err := c.app.agents.AppendRow(r...); err != nil {
			return fmt.Errorf("agent %s: %w", a.row.ID, err)
		}
	}
	for i := range b.calls {
		oc := &b.calls[i]
		k := &oc.call
		src := ""
		if int(oc.src) < len(c.srcName) {
			src = c.srcName[oc.src]
		}
		r := append(c.row[:0], oc.pos, src, k.CallID, k.TenantID, k.Site, k.AgentID, k.StartTime, k.DurationMS,
			k.Direction, k.ANI, k.DNIS, k.Archived, k.AudioPackets, k.Status, k.ExceptionCode, k.MediaPath, k.Skill)
		if err := c.app.calls.AppendRow(r...); err != nil {
			return fmt.Errorf("call %s: %w", k.CallID, err)
		}
		r = append(c.row[:0], oc.pos, k.CallID, oc.state, oc.reason, oc.detail, stageOf(oc.state, oc.reason), oc.agentUser, oc.fp)
		if err := c.app.results.AppendRow(r...); err != nil {
			return fmt.Errorf("call %s: %w", k.CallID, err)
		}
		if oc.imported {
			c.json = appendBusinessData(c.json[:0], c.plan.Fields, b.vals[oc.valLo:oc.valHi], b.arena)
			if err := c.app.mapped.AppendRow(oc.pos, k.CallID, c.json); err != nil {
				return fmt.Errorf("call %s: %w", k.CallID, err)
			}
		}
		for j := oc.bdLo; j < oc.bdHi; j++ {
			f := &b.bd[j]
			if err := c.app.bd.AppendRow(oc.pos, k.CallID, f.name, b.arena[f.lo:f.hi]); err != nil {
				return fmt.Errorf("call %s: %w", k.CallID, err)
			}
		}
	}
	return nil
}
