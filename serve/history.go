package serve

import (
	"errors"
	"time"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/state"
)

// Run outcomes, as logged, counted and shown.
const (
	OutcomeOK          = "ok"          // committed, every row imported or excluded by a rule
	OutcomeAttention   = "attention"   // committed, with failed or unreadable rows (`applink run` exits 1)
	OutcomeFailed      = "failed"      // an error: nothing committed
	OutcomeInterrupted = "interrupted" // shutdown or lock lost: stopped at a batch boundary, nothing committed
	OutcomeBusy        = "busy"        // the state is in use by another process: not attempted
)

// maxFailedShown bounds the failed rows a run view keeps for the page.
const maxFailedShown = 10

// runView is one run as the status page, the log and /readyz see it:
// from this process's own attempts, or read back from the state's history
// (runs committed before this process started or by another process).
type runView struct {
	RunID          string
	Started, Ended time.Time
	Outcome        string
	Err            string
	FromState      bool // read from the state's history, not attempted by this process

	Agents, Calls         tally
	Rows                  []rowCount
	SentAgents, SentCalls int
	SourceRows            int
	Problems              problems
	Failed                []connector.LedgerRow
	NewestImported        time.Time
	Delivery              engine.Delivery // the calls the run queued for the workers, and where they are
}

type tally struct{ Total, Imported, Queued, Excluded, Failed int }

type rowCount struct {
	Entity, State, Reason string
	N                     int
}

type problems struct{ Failed, Unreadable, BDWithoutCall int }

// Committed reports whether the run reached the state.
func (v *runView) Committed() bool {
	return v.Outcome == OutcomeOK || v.Outcome == OutcomeAttention
}

// Duration is the run's wall time.
func (v *runView) Duration() time.Duration { return v.Ended.Sub(v.Started) }

// viewOf is a run attempt's view from what workspace.Run returned.
func viewOf(started, ended time.Time, sum *engine.RunRecord, err error, interrupted bool) *runView {
	v := &runView{Started: started, Ended: ended}
	switch {
	case err == nil && sum != nil && sum.Clean():
		v.Outcome = OutcomeOK
	case err == nil:
		v.Outcome = OutcomeAttention
	case errors.Is(err, state.ErrInUse):
		v.Outcome = OutcomeBusy
	case interrupted || errors.Is(err, engine.ErrInterrupted):
		v.Outcome = OutcomeInterrupted
	default:
		v.Outcome = OutcomeFailed
	}
	if err != nil {
		v.Err = err.Error()
	}
	if sum == nil {
		return v
	}
	v.RunID = sum.RunID
	if !v.Committed() {
		return v // a partial record's counts were never committed: not shown as counts
	}
	v.fill(sum)
	return v
}

// viewOfRecord is a committed run read back from the state's history; ok is
// false for what is not a run (restore, purge).
func viewOfRecord(r state.RunRecord) (*runView, bool) {
	if r.Kind != "run" || r.Record == nil {
		return nil, false
	}
	v := &runView{RunID: r.RunID, Started: r.Started, Ended: r.Ended, FromState: true, Outcome: OutcomeOK}
	if !r.Record.Clean() {
		v.Outcome = OutcomeAttention
	}
	v.fill(r.Record)
	return v, true
}

// fill copies a committed run's numbers from its record: the same for a
// run this process made and one read back from the history.
func (v *runView) fill(rec *engine.RunRecord) {
	v.Agents, v.Calls = tallyOf(&rec.Agents), tallyOf(&rec.Calls)
	for _, part := range []struct {
		entity string
		t      *engine.Tally
	}{{"agent", &rec.Agents}, {"call", &rec.Calls}} {
		for _, e := range part.t.Sorted() {
			v.Rows = append(v.Rows, rowCount{part.entity, e.State, e.Reason, e.N})
		}
	}
	v.SentAgents, v.SentCalls = rec.Sent.Agents, rec.Sent.Calls
	v.SourceRows = rec.SourceRows
	f, u, b := rec.Problems()
	v.Problems = problems{f, u, b}
	v.Failed = rec.Failed[:min(len(rec.Failed), maxFailedShown)]
	v.NewestImported = rec.NewestImported
	v.Delivery = rec.Delivery
}

func tallyOf(t *engine.Tally) tally {
	return tally{Total: t.Total, Imported: t.Count(connector.StateImported), Queued: t.Count(connector.StateQueued),
		Excluded: t.Count(connector.StateExcluded), Failed: t.Count(connector.StateFailed)}
}
