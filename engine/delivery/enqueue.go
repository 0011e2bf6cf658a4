package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/state"
)

// NewTarget says where a plan's deliveries go: its sink block, or the
// outbox folder when it has none.
func NewTarget(plan *engine.Plan, outbox string) Target {
	t := Target{PlanHash: plan.Hash()}
	if plan.Sink != nil && plan.Sink.Kind != "" {
		t.Sink = plan.Sink
	} else if abs, err := filepath.Abs(outbox); err == nil {
		t.Outbox = abs
	} else {
		t.Outbox = outbox
	}
	for _, f := range plan.Fields {
		t.Fields = append(t.Fields, FieldDoc{Type: f.Type, Name: f.Name})
	}
	return t
}

// Queue is one run's queued delivery. Sink and Ledger wrap the run's sink
// and ledger writer: agents still go to the sink during the run (they are
// few, and calls refer to them); each imported call becomes a job in the
// run's commit and its ledger row `queued`, so nothing reaches the sink's
// call API before the state says what to deliver.
type Queue struct {
	led     *state.RunLedger
	spec    string
	target  Target
	fields  []dsl.Field
	agents  map[string]*AgentDoc
	pending *Args // the call just handed to Sink.Call, until its ledger row gives its fingerprint
	queued  int
	seq     int64 // ledger rows the run sent so far, held back ones included
	// Attempts, when set, overrides Jobs.MaxAttempts for this run's jobs
	// (tests).
	Attempts int
}

// Enqueue starts queued delivery for a run whose state has a queue
// (led.Queues()); spec is the spec's key in the state.
func Enqueue(led *state.RunLedger, spec string, target Target) *Queue {
	return &Queue{led: led, spec: spec, target: target, fields: target.fields(), agents: map[string]*AgentDoc{}}
}

// runSegmenter is an outbox that keeps a queued run's own rows in a
// segment of its own (connectors/outbox.Folder): the run then touches no
// file the workers write, nor they its.
type runSegmenter interface {
	RunSegment(runID string) connector.Sink
}

// userResolver is a sink that maps agents to users of its own (CXone):
// the id it resolved for an Engage user during the run.
type userResolver interface {
	UserID(engineUserID string) (string, bool)
}

// ledgerAt is a sink that places a ledger row at the run position given.
type ledgerAt interface {
	LedgerAt(seq int64, r connector.LedgerRow) error
}

// Sink wraps the run's sink. For an outbox that keeps segments, the run's
// own rows go to the run's segment instead of the cumulative files.
func (q *Queue) Sink(s connector.Sink) connector.Sink {
	if q.target.Sink == nil {
		if f, ok := s.(runSegmenter); ok {
			s = f.RunSegment(q.led.RunID())
		}
	}
	return &queueSink{Sink: s, q: q}
}

// Ledger wraps the run's ledger writer.
func (q *Queue) Ledger(l engine.LedgerWriter) engine.LedgerWriter {
	return &queueLedger{LedgerWriter: l, q: q}
}

// Queued is the number of calls enqueued so far.
func (q *Queue) Queued() int { return q.queued }

type queueSink struct {
	connector.Sink
	q *Queue
}

func (s *queueSink) Agent(ctx context.Context, a *connector.OutAgent) error {
	s.q.agents[a.UserID] = newAgentDoc(a)
	return s.Sink.Agent(ctx, a)
}

func (s *queueSink) Call(ctx context.Context, c *connector.OutCall) error {
	if c.MediaFile != "" && !filepath.IsAbs(c.MediaFile) {
		// A worker may run in another folder, or on another machine with
		// the media store mounted at the same path: never relative to
		// this process's working folder.
		if abs, err := filepath.Abs(c.MediaFile); err == nil {
			cp := *c
			cp.MediaFile = abs
			c = &cp
		}
	}
	a := &Args{Spec: s.q.spec, RunID: s.q.led.RunID(), Call: newCallDoc(c, s.q.fields), Key: int64(state.RowKey("call", c.CallID))}
	if c.AgentUserID != "" {
		a.Agent = s.q.agents[c.AgentUserID]
		if r, ok := s.Sink.(userResolver); ok {
			a.SinkUserID, _ = r.UserID(c.AgentUserID)
		}
	}
	s.q.pending = a
	return nil
}

// Ledger keeps the queued call's imported row from the sink: the worker
// writes it when it delivers.
func (s *queueSink) Ledger(ctx context.Context, r connector.LedgerRow) error {
	s.q.seq++
	if p := s.q.pending; p != nil && r.Entity == "call" && r.ID == p.Call.CallID && r.State == connector.StateImported {
		p.Seq = s.q.seq
		return nil
	}
	if l, ok := s.Sink.(ledgerAt); ok {
		return l.LedgerAt(s.q.seq, r)
	}
	return s.Sink.Ledger(ctx, r)
}

type queueLedger struct {
	engine.LedgerWriter
	q *Queue
}

func (l *queueLedger) Row(r connector.LedgerRow, fp uint64, active bool) error {
	if p := l.q.pending; p != nil && r.Entity == "call" && r.ID == p.Call.CallID && r.State == connector.StateImported {
		l.q.pending = nil
		p.FP, p.Reason = int64(fp), r.Reason
		b, err := p.encode()
		if err != nil {
			return fmt.Errorf("queue call %s: %w", r.ID, err)
		}
		if err := l.q.led.Enqueue(b); err != nil {
			return err
		}
		l.q.queued++
		r.State = connector.StateQueued
	}
	return l.LedgerWriter.Row(r, fp, active)
}

// Commit records where the run's queued calls go with the run. The run
// counted them queued itself (engine.Options.Queue).
func (l *queueLedger) Commit(ctx context.Context, sum *engine.RunRecord) error {
	if l.q.queued > 0 {
		b, err := json.Marshal(l.q.target)
		if err != nil {
			return err
		}
		l.q.led.SetTarget(b)
		jobs := Jobs
		if l.q.Attempts > 0 {
			jobs.MaxAttempts = l.q.Attempts
		}
		l.q.led.SetJobs(jobs)
	}
	return l.LedgerWriter.Commit(ctx, sum)
}
