package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/killpoint"
	"golang.org/x/sync/errgroup"
)

// Options configure one run. Sink and Registry are required.
type Options struct {
	Registry  Registry
	Sink      connector.Sink
	RunID     string                // default: start time, UTC, compact
	BatchSize int                   // calls per pipeline batch; default 1024
	Progress  func(p Progress)      // called from the run's goroutine, at most every 200 ms
	Now       func() time.Time      // default time.Now
	Observe   func(c *ObservedCall) // optional: every call's outcome, for preview and tests
	// ObserveAgent, optional: every user's outcome.
	ObserveAgent func(a *ObservedAgent)
	Sources      []connector.Source // optional: already opened sources, one per plan source (tests)
	Prior        Prior              // optional: the last committed ledger; only changes are sent
	Ledger       LedgerWriter       // optional: made durable after the sink commits
	// Delivered, optional, says what the sink delivered (a sink that counts
	// it, DeliveryCounter); asked after the sink commits, for the summary.
	Delivered connector.DeliveryCounter
	// Queue says the ledger queues the calls sent to the sink for delivery
	// workers (a PostgreSQL state's RunLedger.Queues): the run counts them
	// queued, not imported.
	Queue bool
}

// Progress is a snapshot of a run's counters.
type Progress struct {
	Phase    string // agents | calls | commit
	Agents   int
	Calls    int
	Imported int
	Elapsed  time.Duration
}

// ObservedCall is a call's outcome as Options.Observe sees it: valid only
// during the callback.
type ObservedCall struct {
	Source int
	Call   *dsl.Call
	BD     []connector.BDField
	Names  *connector.Names
	Ledger connector.LedgerRow
	Out    *connector.OutCall // nil unless imported and sent
	Change string             // new | changed | unchanged against the prior ledger
	FP     uint64             // fingerprint of the verdict, as the state ledger stores it
}

// ObservedAgent is a user's outcome as Options.ObserveAgent sees it.
type ObservedAgent struct {
	Ledger   connector.LedgerRow
	Agent    *dsl.Agent // the merged user, as the agents filter saw it
	IsAgent  bool
	AgentIDs []string
	Change   string
	FP       uint64
}

// ErrInterrupted is returned when the context is cancelled: nothing of the
// run is committed, and running again resumes from the last committed state.
var ErrInterrupted = errors.New("run interrupted before commit; nothing was committed: run again to resume")

// Run executes a plan: agents first (they are few and calls refer to them),
// then calls, streamed through a three-stage pipeline (read ∥ evaluate ∥
// write) over a fixed pool of batches, so memory does not grow with the
// number of calls.
func Run(ctx context.Context, plan *Plan, opts Options) (sum *RunRecord, err error) {
	// Whatever ends the run before its state commits — an error, an
	// interrupt, a panic — the ledger writer is aborted (its changes file
	// closed and removed) and so is the sink (deferred below, after Open).
	ledgerDone := false
	defer func() {
		if opts.Ledger != nil && !ledgerDone {
			opts.Ledger.Abort()
		}
	}()
	agent := ""
	defer recoverTo(&err, func() string {
		if agent != "" {
			return "classifying and sending agent " + agent
		}
		return "reading agents"
	})
	if opts.Sink == nil {
		return nil, fmt.Errorf("run: no sink")
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	sum = &RunRecord{Version: RecordVersion, PlanHash: plan.Hash(), Started: now(), FieldOmitted: map[string]int{}, Watermarks: map[string]Watermark{}}
	if opts.RunID == "" {
		opts.RunID = sum.Started.UTC().Format("20060102T150405.000Z")
	}
	sum.RunID = opts.RunID
	if opts.BatchSize <= 0 {
		opts.BatchSize = 1024
	}

	srcs := opts.Sources
	if srcs == nil {
		srcs, err = OpenSources(ctx, plan, opts.Registry)
		if err != nil {
			return nil, err
		}
		defer CloseSources(srcs)
	}
	if len(srcs) != len(plan.Sources) {
		return nil, fmt.Errorf("run: %d sources opened for %d in the plan", len(srcs), len(plan.Sources))
	}

	fails := &failures{}
	info := connector.RunInfo{RunID: opts.RunID, PlanHash: plan.Hash(), Fields: plan.Fields, Fail: fails.add}
	if mr, ok := opts.Ledger.(MediaRecorder); ok {
		// What the sink sent of each call's media goes to its ledger row.
		info.MediaSent = mr.MediaSent
	}
	if err := opts.Sink.Open(ctx, info); err != nil {
		return nil, fmt.Errorf("open sink: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = opts.Sink.Abort()
		}
	}()

	ev, err := newEvaluator(plan, sum, opts.Prior)
	if err != nil {
		return nil, err
	}
	ev.queue = opts.Queue
	prog := newProgressTicker(opts.Progress, sum.Started, now)

	// Agents.
	prog.phase("agents")
	idx, err := readAgents(ctx, srcs, sum)
	if err != nil {
		return nil, err
	}
	classifyAgents(idx, plan.Agents, ev.tenantOK, sum.warn)
	for _, u := range idx.users {
		agent = u.rec.UserID
		if err := sendAgent(ctx, u, opts, sum); err != nil {
			return nil, err
		}
	}
	agent = ""
	prog.agents = len(idx.users)
	ev.agents = idx

	// Calls.
	prog.phase("calls")
	if err := runCalls(ctx, plan, srcs, ev, opts, sum, prog); err != nil {
		if ctx.Err() != nil {
			return sum, fmt.Errorf("%w (%v)", ErrInterrupted, context.Cause(ctx))
		}
		return sum, err
	}
	if ctx.Err() != nil {
		return sum, ErrInterrupted
	}
	for i, wm := range ev.wms {
		if wm.CallID != "" {
			sum.Watermarks[plan.Sources[i].Name] = wm
		}
	}
	sum.ImportedByDay = ev.importedByDay()
	sum.Findings = append(sum.Findings, ev.findings()...)

	prog.phase("commit")
	killpoint.Hit(killpoint.CommitBegin)
	if err := opts.Sink.Commit(ctx); err != nil {
		return sum, fmt.Errorf("commit sink: %w", err)
	}
	committed = true
	if opts.Delivered != nil {
		sum.Delivered = opts.Delivered.Delivered()
	}
	for _, f := range fails.list() {
		t := &sum.Calls
		if f.Entity == "agent" {
			t = &sum.Agents
		}
		t.moveImported(connector.StateReason{State: f.State, Reason: f.Reason})
		if f.State == connector.StateFailed {
			sum.Failed = append(sum.Failed, f)
		}
		if opts.Ledger != nil {
			// Replaces the imported row written during the run; the next run
			// retries it (its fingerprint no longer matches).
			if err := opts.Ledger.Row(f, fingerprint(f.State, f.Reason, 0), false); err != nil {
				return sum, fmt.Errorf("state ledger: %w", err)
			}
		}
	}
	sum.Elapsed = now().Sub(sum.Started)
	sum.Delivery.Queued = sum.Calls.Count(connector.StateQueued)
	if opts.Ledger != nil {
		// The sink has the rows: from here a crash only makes the next run
		// resend them, which sinks absorb by id. Commit cleans up after
		// itself whether or not it succeeds.
		ledgerDone = true
		if err := opts.Ledger.Commit(ctx, sum); err != nil {
			return sum, fmt.Errorf("commit state (the sink has the rows; the next run resends them): %w", err)
		}
	}
	prog.done()
	return sum, nil
}

// sendAgent gives one user its ledger row and sends it when it changed.
func sendAgent(ctx context.Context, u *user, opts Options, sum *RunRecord) error {
	row := u.ledger()
	sum.Agents.add(row.State, row.Reason)
	var content uint64
	var out *connector.OutAgent
	if row.State == connector.StateImported {
		out = u.outAgent()
		content = agentContent(out)
	}
	fp := fingerprint(row.State, row.Reason, content)
	change := ChangeNew
	activeChanged := false
	if opts.Prior != nil {
		old, oldActive, ok := opts.Prior.Lookup("agent", row.ID)
		switch {
		case !ok:
		case old != fp:
			change = ChangeChanged
		default:
			change = ChangeUnchanged
		}
		if ok && oldActive != u.rec.Active && u.isAgent {
			activeChanged = true
			kind := "deactivated"
			if u.rec.Active {
				kind = "reactivated"
			}
			sum.AgentDiff.Drift = append(sum.AgentDiff.Drift, DriftRow{UserID: row.ID, Change: kind})
		}
	}
	sum.AgentDiff.count(change)
	if opts.ObserveAgent != nil {
		opts.ObserveAgent(&ObservedAgent{Ledger: row, Agent: &u.env, IsAgent: u.isAgent, AgentIDs: u.agentIDs, Change: change, FP: fp})
	}
	if change != ChangeUnchanged {
		if out != nil {
			if err := opts.Sink.Agent(ctx, out); err != nil {
				return fmt.Errorf("send agent %s: %w", row.ID, err)
			}
			sum.Sent.Agents++
		}
		if err := opts.Sink.Ledger(ctx, row); err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
	}
	if opts.Ledger != nil && (change != ChangeUnchanged || activeChanged) {
		if err := opts.Ledger.Row(row, fp, u.rec.Active); err != nil {
			return fmt.Errorf("state ledger: %w", err)
		}
	}
	return nil
}

// OpenSources opens every source of a plan, in spec order; on an error it
// closes those it opened. A caller that opens them itself (to fail before
// creating any state) passes them in Options.Sources and closes them.
func OpenSources(ctx context.Context, plan *Plan, reg Registry) ([]connector.Source, error) {
	var srcs []connector.Source
	for _, s := range plan.Sources {
		d := reg.Source(s.Driver)
		if d == nil {
			CloseSources(srcs)
			return nil, fmt.Errorf("source %q: no connector for driver %q in this build", s.Name, s.Driver)
		}
		src, err := d.Open(ctx, s)
		if err != nil {
			CloseSources(srcs)
			if strings.HasPrefix(err.Error(), "source "+s.Name+":") {
				return nil, err // the connector named the source already: prefix once
			}
			return nil, fmt.Errorf("open source %q: %w", s.Name, err)
		}
		srcs = append(srcs, src)
	}
	return srcs, nil
}

// CloseSources closes sources opened by OpenSources.
func CloseSources(srcs []connector.Source) {
	for _, s := range srcs {
		_ = s.Close()
	}
}

// runCalls wires the pipeline. Batches circulate: free → reader → evaluator
// → writer → free; the pools' size bounds memory. The sites of one system are
// read concurrently, each with its own pool (a few batches of read-ahead),
// but evaluated in spec order: a call seen at two sites is imported from the
// first source of the spec, whatever the timing.
func runCalls(ctx context.Context, plan *Plan, srcs []connector.Source, ev *evaluator, opts Options, sum *RunRecord, prog *progressTicker) error {
	poolSize := 8
	if len(srcs) > 1 {
		poolSize = 4
	}
	free := make([]chan *batch, len(srcs))
	read := make([]chan *batch, len(srcs))
	for i := range srcs {
		free[i] = make(chan *batch, poolSize)
		read[i] = make(chan *batch, poolSize)
		for range poolSize {
			free[i] <- newBatch(opts.BatchSize)
		}
	}
	done := make(chan *batch, poolSize)
	names := make([]*connector.Names, len(srcs))
	for i := range names {
		names[i] = connector.NewNames()
	}
	ev.names = names
	ev.media = make([]connector.MediaResolver, len(srcs))
	ev.locators = make([]connector.MediaLocator, len(srcs))
	for i, s := range srcs {
		if l, ok := s.(connector.MediaLocator); ok {
			ev.locators[i] = l
		} else if m, ok := s.(connector.MediaResolver); ok {
			ev.media[i] = m
		}
	}
	ev.multiSite = len(srcs) > 1

	g, gctx := errgroup.WithContext(ctx)
	ev.ctx = gctx
	for i, src := range srcs {
		g.Go(func() (err error) {
			defer close(read[i])
			last := "" // where the source was: its last record's position
			defer recoverTo(&err, func() string {
				if last == "" {
					return fmt.Sprintf("reading source %q, before its first call", plan.Sources[i].Name)
				}
				return fmt.Sprintf("reading source %q after %s", plan.Sources[i].Name, last)
			})
			return readSource(gctx, i, src, plan, names[i], free[i], read[i], &last, sum)
		})
	}
	// Evaluator: source by source, in spec order.
	g.Go(func() (err error) {
		defer close(done)
		defer recoverTo(&err, func() string { return "evaluating " + recDesc(ev.cur) })
		for i := range srcs {
			for b := range read[i] {
				ev.evalBatch(b)
				select {
				case done <- b:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
		}
		return nil
	})
	// Writer: the sink is called from this goroutine only.
	g.Go(func() (err error) {
		out := &connector.OutCall{SystemID: plan.SystemID}
		var cur *rec
		defer recoverTo(&err, func() string { return "sending " + recDesc(cur) })
		for b := range done {
			if err := writeBatch(gctx, b, ev, opts, prog, out, &cur); err != nil {
				return err
			}
			prog.calls += b.n
			prog.tick()
			killpoint.Hit(killpoint.BatchWritten)
			b.reset()
			free[b.src] <- b
		}
		return nil
	})
	return g.Wait()
}

func readSource(ctx context.Context, si int, src connector.Source, plan *Plan, names *connector.Names, free <-chan *batch, read chan<- *batch, last *string, sum *RunRecord) error {
	var cur *batch
	take := func() error {
		select {
		case cur = <-free:
			cur.src = si
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := take(); err != nil {
		return err
	}
	q := connector.CallQuery{From: plan.Window.From, Names: names}
	if plan.Tenant != nil {
		if n, ok := dsl.TenantEquals(plan.Tenant); ok {
			q.TenantEquals = &n
		}
	}
	err := src.ReadCalls(ctx, q, func(r *connector.CallRecord) error {
		*last = r.Pos
		cur.add(r)
		if cur.n == cap(cur.recs) {
			select {
			case read <- cur:
			case <-ctx.Done():
				return ctx.Err()
			}
			return take()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read calls of source %q: %w", plan.Sources[si].Name, err)
	}
	if cur.n > 0 {
		select {
		case read <- cur:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fc, ok := src.(connector.FilteredCounter); ok {
		counts, err := fc.CountFiltered(ctx, q)
		if err != nil {
			return fmt.Errorf("count the calls source %q filtered in the database: %w", plan.Sources[si].Name, err)
		}
		sum.addCounted(counts)
	}
	return nil
}

func writeBatch(ctx context.Context, b *batch, ev *evaluator, opts Options, prog *progressTicker, out *connector.OutCall, cur **rec) error {
	for i := range b.n {
		r := &b.recs[i]
		*cur = r
		if r.skip {
			continue
		}
		if r.state == connector.StateImported && r.call.StartTime.After(ev.sum.NewestImported) {
			ev.sum.NewestImported = r.call.StartTime // the writer is the summary's only writer of it
		}
		if r.change == ChangeUnchanged {
			if opts.Observe != nil && r.call.CallID != "" {
				row := connector.LedgerRow{Entity: "call", ID: r.call.CallID, State: r.state, Reason: r.reason, Detail: r.detail}
				opts.Observe(&ObservedCall{Source: b.src, Call: &r.call, BD: b.bdOf(r), Names: ev.names[b.src], Ledger: row, Change: r.change, FP: r.fp})
			}
			continue
		}
		var sent *connector.OutCall
		if r.state == connector.StateImported {
			out.CallID = r.call.CallID
			out.AgentUserID = r.agentUser
			out.StartTime = r.call.StartTime
			out.DurationMS = r.call.DurationMS
			out.Direction = r.call.Direction
			out.ANI = r.call.ANI
			out.DNIS = r.call.DNIS
			out.Media = r.call.MediaPath
			out.MediaFile = r.mediaFile // located by a MediaLocator source
			if m := ev.media[b.src]; m != nil && r.call.MediaPath != "" {
				out.MediaFile = m.MediaFile(r.call.MediaPath)
			}
			out.Values = b.vals[r.valLo:r.valHi]
			out.Hash = r.hash
			if err := opts.Sink.Call(ctx, out); err != nil {
				return fmt.Errorf("send call %s: %w", r.call.CallID, err)
			}
			sent = out
			prog.imported++
			ev.sum.Sent.Calls++
		}
		if r.state != "" && r.call.CallID != "" {
			row := connector.LedgerRow{Entity: "call", ID: r.call.CallID, State: r.state, Reason: r.reason, Detail: r.detail}
			if err := opts.Sink.Ledger(ctx, row); err != nil {
				return fmt.Errorf("ledger: %w", err)
			}
			if opts.Ledger != nil {
				if err := opts.Ledger.Row(row, r.fp, false); err != nil {
					return fmt.Errorf("state ledger: %w", err)
				}
			}
			if opts.Observe != nil {
				opts.Observe(&ObservedCall{Source: b.src, Call: &r.call, BD: b.bdOf(r), Names: ev.names[b.src], Ledger: row, Out: sent, Change: r.change, FP: r.fp})
			}
		}
	}
	return ctx.Err()
}

// failures collects what an asynchronous sink reports through RunInfo.Fail.
type failures struct {
	mu   sync.Mutex
	rows []connector.LedgerRow
}

// The ledger keeps the failure's code as the reason, so counts group by it.
func (f *failures) add(entity, id string, fl connector.Failure) {
	f.mu.Lock()
	defer f.mu.Unlock()
	// A row a rate-limited sink did not send is left for the next run:
	// excluded (its fingerprint matches nothing, so it is sent again),
	// never failed.
	st := connector.StateFailed
	if fl.Code == connector.ReasonRateLimited {
		st = connector.StateExcluded
	}
	f.rows = append(f.rows, connector.LedgerRow{Entity: entity, ID: id, State: st, Reason: fl.Code, Detail: fl.Detail})
}

func (f *failures) list() []connector.LedgerRow {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]connector.LedgerRow(nil), f.rows...)
}

// progressTicker throttles progress callbacks.
type progressTicker struct {
	fn       func(Progress)
	start    time.Time
	now      func() time.Time
	last     time.Time
	cur      string
	agents   int
	calls    int
	imported int
}

func newProgressTicker(fn func(Progress), start time.Time, now func() time.Time) *progressTicker {
	return &progressTicker{fn: fn, start: start, now: now}
}

func (p *progressTicker) phase(name string) {
	p.cur = name
	p.emit()
}

func (p *progressTicker) tick() {
	if p.fn == nil {
		return
	}
	if t := p.now(); t.Sub(p.last) >= 200*time.Millisecond {
		p.emit()
	}
}

func (p *progressTicker) done() { p.phase("done") }

func (p *progressTicker) emit() {
	if p.fn == nil {
		return
	}
	p.last = p.now()
	p.fn(Progress{Phase: p.cur, Agents: p.agents, Calls: p.calls, Imported: p.imported, Elapsed: p.last.Sub(p.start)})
}
