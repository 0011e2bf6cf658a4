package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/applink-dev/applink/engine/connector"
)

// faultSource is a memSource that fails or panics where told.
type faultSource struct {
	memSource
	agentsErr, agentsPanic bool
	callsPanicAt           int // panic when emitting this call index (0: never)
}

func (f *faultSource) ReadAgents(ctx context.Context, emit func(*connector.AgentRecord) error) error {
	if f.agentsPanic {
		panic("boom in ReadAgents")
	}
	if f.agentsErr {
		return errors.New("agents table gone")
	}
	return f.memSource.ReadAgents(ctx, emit)
}

func (f *faultSource) ReadCalls(ctx context.Context, q connector.CallQuery, emit func(*connector.CallRecord) error) error {
	n := 0
	return f.memSource.ReadCalls(ctx, q, func(r *connector.CallRecord) error {
		n++
		if n == f.callsPanicAt {
			panic("boom in ReadCalls")
		}
		return emit(r)
	})
}

// faultSink is a memSink that fails or panics where told.
type faultSink struct {
	memSink
	callErrOn, callPanicOn string
	commitErr              bool
}

func (s *faultSink) Call(ctx context.Context, c *connector.OutCall) error {
	switch c.CallID {
	case s.callPanicOn:
		panic("boom in Sink.Call")
	case s.callErrOn:
		return errors.New("refused")
	}
	return s.memSink.Call(ctx, c)
}

func (s *faultSink) Commit(ctx context.Context) error {
	if s.commitErr {
		return errors.New("disk full")
	}
	return s.memSink.Commit(ctx)
}

// trackLedger records whether it was committed or aborted.
type trackLedger struct {
	rowErrOn           string
	committed, aborted int
}

func (l *trackLedger) Row(r connector.LedgerRow, fp uint64, active bool) error {
	if r.ID == l.rowErrOn {
		return errors.New("changes file: no space left")
	}
	return nil
}
func (l *trackLedger) Commit(context.Context, *RunRecord) error { l.committed++; return nil }
func (l *trackLedger) Abort()                                   { l.aborted++ }

type panicPrior struct{ on string }

func (p panicPrior) Lookup(entity, id string) (uint64, bool, bool) {
	if id == p.on {
		panic("boom in Prior.Lookup")
	}
	return 0, false, false
}

// TestEveryFailedRunAborts: on every way a run can end before its state
// commits — an error from a source, the sink or the ledger, an interrupt, or
// a panic in any stage of the pipeline — Run returns an error (a panic names
// the row it was processing), aborts the sink and the ledger writer exactly
// once, and commits neither.
func TestEveryFailedRunAborts(t *testing.T) {
	p := mustPlan(t, "", "")
	agents := []connector.AgentRecord{agent("u1", "a1", "one@acme.example", t0)}
	var calls []memCall
	for i := range 10 {
		calls = append(calls, memCall{call: goodCall(fmt.Sprintf("C%d", i), "a1")})
	}
	tests := []struct {
		name    string
		src     *faultSource
		sink    *faultSink
		ledger  *trackLedger
		prior   Prior
		observe func(*ObservedCall)
		cancel  bool
		want    string // in the error
		panics  bool
	}{
		{name: "interrupted", cancel: true, want: "interrupted"},
		{name: "agents error", src: &faultSource{agentsErr: true}, want: "agents table gone"},
		{name: "agents panic", src: &faultSource{agentsPanic: true}, want: "while reading agents: boom in ReadAgents", panics: true},
		{name: "reader panic", src: &faultSource{callsPanicAt: 4}, want: `reading source "dc1" after calls.csv:4: boom in ReadCalls`, panics: true},
		{name: "evaluator panic", prior: panicPrior{on: "C6"}, want: "evaluating call C6 (calls.csv:8): boom in Prior.Lookup", panics: true},
		{name: "writer panic", sink: &faultSink{callPanicOn: "C3"}, want: "sending call C3 (calls.csv:5): boom in Sink.Call", panics: true},
		{name: "observer panic", observe: func(c *ObservedCall) {
			if c.Call.CallID == "C2" {
				panic("boom in Observe")
			}
		}, want: "sending call C2 (calls.csv:4): boom in Observe", panics: true},
		{name: "sink call error", sink: &faultSink{callErrOn: "C5"}, want: "send call C5: refused"},
		{name: "sink commit error", sink: &faultSink{commitErr: true}, want: "commit sink: disk full"},
		{name: "ledger row error", ledger: &trackLedger{rowErrOn: "C7"}, want: "no space left"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.src == nil {
				tt.src = &faultSource{}
			}
			tt.src.agents, tt.src.calls = agents, calls
			if tt.sink == nil {
				tt.sink = &faultSink{}
			}
			if tt.ledger == nil {
				tt.ledger = &trackLedger{}
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				cancel()
			}
			_, err := Run(ctx, p, Options{Sink: tt.sink, Sources: []connector.Source{tt.src}, Ledger: tt.ledger, Prior: tt.prior,
				Observe: tt.observe, BatchSize: 2})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
			var pe *PanicError
			if errors.As(err, &pe) != tt.panics {
				t.Errorf("PanicError: %v, want %v (%v)", errors.As(err, &pe), tt.panics, err)
			}
			if tt.panics && len(pe.Stack) == 0 {
				t.Error("a caught panic keeps its stack for the report")
			}
			if tt.sink.committed || !tt.sink.aborted {
				t.Errorf("sink committed %v aborted %v", tt.sink.committed, tt.sink.aborted)
			}
			if tt.ledger.committed != 0 || tt.ledger.aborted != 1 {
				t.Errorf("ledger committed %d, aborted %d times; want 0 and 1", tt.ledger.committed, tt.ledger.aborted)
			}
		})
	}
}

// TestCommittedRunDoesNotAbort: the other side: a run that commits never
// aborts its ledger writer.
func TestCommittedRunDoesNotAbort(t *testing.T) {
	p := mustPlan(t, "", "")
	src := &faultSource{memSource: memSource{agents: []connector.AgentRecord{agent("u1", "a1", "one@acme.example", t0)},
		calls: []memCall{{call: goodCall("C1", "a1")}}}}
	led := &trackLedger{}
	sink := &faultSink{}
	if _, err := Run(context.Background(), p, Options{Sink: sink, Sources: []connector.Source{src}, Ledger: led}); err != nil {
		t.Fatal(err)
	}
	if led.committed != 1 || led.aborted != 0 || !sink.committed || sink.aborted {
		t.Errorf("ledger committed %d aborted %d; sink committed %v aborted %v", led.committed, led.aborted, sink.committed, sink.aborted)
	}
}
