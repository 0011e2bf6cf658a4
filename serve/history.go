package serve

import (
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/applink-dev/applink/engine"
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
	Failed                []engine.LedgerRow
	NewestImported        time.Time
}

type tally struct{ Total, Imported, Excluded, Failed int }

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
func viewOf(started, ended time.Time, sum *engine.Summary, err error, interrupted bool) *runView {
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
		return v // a partial summary's counts were never committed: not shown as counts
	}
	v.Agents, v.Calls = tallyOf(&sum.Agents), tallyOf(&sum.Calls)
	for _, part := range []struct {
		entity string
		t      *engine.Tally
	}{{"agent", &sum.Agents}, {"call", &sum.Calls}} {
		for k, n := range part.t.By {
			v.Rows = append(v.Rows, rowCount{part.entity, k.State, k.Reason, n})
		}
	}
	sortRows(v.Rows)
	v.SentAgents, v.SentCalls = sum.Sent.Agents, sum.Sent.Calls
	v.SourceRows = sum.SourceRows
	f, u, b := sum.Problems()
	v.Problems = problems{f, u, b}
	v.Failed = sum.Failed[:min(len(sum.Failed), maxFailedShown)]
	v.NewestImported = sum.NewestImported
	return v
}

func tallyOf(t *engine.Tally) tally {
	return tally{Total: t.Total, Imported: t.Count(engine.StateImported), Excluded: t.Count(engine.StateExcluded), Failed: t.Count(engine.StateFailed)}
}

func sortRows(rows []rowCount) {
	order := map[string]int{engine.StateImported: 0, engine.StateExcluded: 1, engine.StateFailed: 2}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.Entity != b.Entity {
			return a.Entity < b.Entity
		}
		if a.State != b.State {
			return order[a.State] < order[b.State]
		}
		if a.N != b.N {
			return a.N > b.N
		}
		return a.Reason < b.Reason
	})
}

// storedSummary is the part of engine.Summary.JSON that serve reads back
// from the run history.
type storedSummary struct {
	Agents         map[string]int              `json:"agents"`
	Calls          map[string]int              `json:"calls"`
	SourceRows     int                         `json:"source_rows"`
	Sent           struct{ Agents, Calls int } `json:"sent"`
	Failed         []engine.LedgerRow          `json:"failed"`
	Problems       map[string]int              `json:"problems"`
	NewestImported time.Time                   `json:"newest_imported"`
}

// viewOfRecord is a committed run read back from the state's history; ok is
// false for what is not a run (restore, purge) or does not parse.
func viewOfRecord(r state.RunRecord) (*runView, bool) {
	if r.Kind != "run" {
		return nil, false
	}
	var s storedSummary
	if err := json.Unmarshal(r.Summary, &s); err != nil {
		return nil, false
	}
	v := &runView{RunID: r.RunID, Started: r.Started, Ended: r.Ended, FromState: true}
	for _, part := range []struct {
		entity string
		by     map[string]int
		t      *tally
	}{{"agent", s.Agents, &v.Agents}, {"call", s.Calls, &v.Calls}} {
		for key, n := range part.by {
			st, reason, _ := strings.Cut(key, "/")
			v.Rows = append(v.Rows, rowCount{part.entity, st, reason, n})
			part.t.Total += n
			switch st {
			case engine.StateImported:
				part.t.Imported += n
			case engine.StateExcluded:
				part.t.Excluded += n
			case engine.StateFailed:
				part.t.Failed += n
			}
		}
	}
	sortRows(v.Rows)
	v.SentAgents, v.SentCalls, v.SourceRows = s.Sent.Agents, s.Sent.Calls, s.SourceRows
	v.Problems = problems{s.Problems["failed"], s.Problems["unreadable"], s.Problems["bd_without_call"]}
	v.Outcome = OutcomeOK
	if v.Problems.Failed+v.Problems.Unreadable+v.Problems.BDWithoutCall > 0 {
		v.Outcome = OutcomeAttention
	}
	v.Failed = s.Failed[:min(len(s.Failed), maxFailedShown)]
	v.NewestImported = s.NewestImported
	return v, true
}
