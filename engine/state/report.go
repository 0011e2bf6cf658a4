package state

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/applink-dev/applink/engine"
)

// Report is what one run did, read back from the state file.
type Report struct {
	RunID    string    `json:"run_id"`
	Kind     string    `json:"kind"`
	PlanHash string    `json:"plan_hash"`
	Started  time.Time `json:"started"`
	Ended    time.Time `json:"ended"`

	Agents map[string]int `json:"agents"` // "state/reason" -> rows
	Calls  map[string]int `json:"calls"`
	// Counted are call rows the source filtered inside the database (window
	// or tenant pushed into SQL): never read, so not in the ledger, but
	// counted by the database per "state/reason" and part of SourceRows.
	Counted map[string]int `json:"counted,omitempty"`

	Excluded []ReasonExamples `json:"excluded"` // by reason, with example ids set by this run
	Failures []Failure        `json:"failures"`
	Drift    []Drift          `json:"drift"`

	SourceRows  int `json:"source_rows"` // call rows read + counted by the database
	Accounted   int `json:"accounted"`   // calls in a ledger state + bad rows without an id + counted rows
	Unexplained int `json:"unexplained"` // SourceRows - Accounted - duplicates seen; must be 0
	Sent        struct {
		Agents int `json:"agents"`
		Calls  int `json:"calls"`
	} `json:"sent"`
	BadSamples []string `json:"bad_samples"`
	// Queue is the spec's delivery queue now (PostgreSQL state with
	// workers): calls queued, being delivered, waiting; nil without one.
	Queue *QueueStats `json:"queue,omitempty"`
}

// CountedLines renders the rows counted by the database as the summary
// does ("other_tenant: 12 (counted by the database)"), largest first.
func (r *Report) CountedLines() []string {
	t := engine.Tally{By: map[engine.StateReason]int{}}
	for k, n := range r.Counted {
		st, reason, _ := strings.Cut(k, "/")
		t.By[engine.StateReason{State: st, Reason: reason}] += n
	}
	var out []string
	for _, e := range t.Sorted() {
		out = append(out, engine.CountedLine(e))
	}
	return out
}

// ReasonExamples is an exclusion reason with a few call ids.
type ReasonExamples struct {
	Entity   string   `json:"entity"`
	Reason   string   `json:"reason"`
	Count    int      `json:"count"`
	Examples []string `json:"examples"`
}

// Failure is a failed row with its error.
type Failure struct {
	Entity string `json:"entity"`
	ID     string `json:"id"`
	Reason string `json:"reason"`
	Detail string `json:"detail"`
}

// Drift is an agent change the seed says is acted on by hand.
type Drift struct {
	UserID string `json:"UserID"`
	Change string `json:"Change"`
}

type storedSummary struct {
	Agents     map[string]int              `json:"agents"`
	Calls      map[string]int              `json:"calls"`
	Counted    map[string]int              `json:"counted"`
	SourceRows int                         `json:"source_rows"`
	BadNoID    int                         `json:"bad_no_id"`
	BadSamples []string                    `json:"bad_samples"`
	Duplicates int                         `json:"duplicates_seen"`
	AgentDiff  struct{ Drift []Drift }     `json:"agent_diff"`
	Sent       struct{ Agents, Calls int } `json:"sent"`
}

// Report reads one run (the latest when runID is empty).
func (s *Store) Report(ctx context.Context, runID string) (*Report, error) {
	return buildReport(ctx, s, runID, s.runRows)
}

// buildReport reads a run's summary from the history and asks the backend
// (rows) for its exclusions with examples and its failures.
func buildReport(ctx context.Context, b Backend, runID string, rows func(ctx context.Context, runID string, r *Report) error) (*Report, error) {
	runs, err := b.Runs(ctx)
	if err != nil {
		return nil, err
	}
	var run *RunRecord
	for i := range runs {
		if runs[i].Kind != "run" {
			continue
		}
		if runID == "" || runs[i].RunID == runID {
			run = &runs[i]
		}
	}
	if run == nil {
		if runID == "" {
			return nil, fmt.Errorf("no run recorded in %s yet", b)
		}
		return nil, fmt.Errorf("no run %q in %s", runID, b)
	}
	var sum storedSummary
	if err := json.Unmarshal(run.Summary, &sum); err != nil {
		return nil, fmt.Errorf("run %s: summary: %w", run.RunID, err)
	}
	r := &Report{RunID: run.RunID, Kind: run.Kind, PlanHash: run.PlanHash, Started: run.Started, Ended: run.Ended,
		Agents: sum.Agents, Calls: sum.Calls, Drift: sum.AgentDiff.Drift, SourceRows: sum.SourceRows, BadSamples: sum.BadSamples}
	r.Sent.Agents, r.Sent.Calls = sum.Sent.Agents, sum.Sent.Calls
	for _, n := range sum.Calls {
		r.Accounted += n
	}
	r.Accounted += sum.BadNoID
	if len(sum.Counted) > 0 {
		r.Counted = sum.Counted
		for _, n := range sum.Counted {
			r.SourceRows += n // rows of the source, though not read
			r.Accounted += n
		}
	}
	r.Unexplained = r.SourceRows - r.Accounted - sum.Duplicates
	if err := rows(ctx, run.RunID, r); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	q, err := b.Queue(ctx)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if q != (QueueStats{}) {
		r.Queue = &q
	}
	sort.SliceStable(r.Drift, func(i, j int) bool { return r.Drift[i].UserID < r.Drift[j].UserID })
	return r, nil
}

// runRows is DuckDB's part of a report: exclusions with examples and
// failures set by the run.
func (s *Store) runRows(ctx context.Context, runID string, r *Report) error {
	rows, err := s.db.QueryContext(ctx, `
		SELECT entity, reason, count(*) AS n, list(id ORDER BY id)[1:5]
		FROM ledger WHERE run_id = ? AND state = 'excluded'
		GROUP BY entity, reason ORDER BY entity, n DESC, reason`, runID)
	if err != nil {
		return err
	}
	for rows.Next() {
		var e ReasonExamples
		var ex []any
		if err := rows.Scan(&e.Entity, &e.Reason, &e.Count, &ex); err != nil {
			rows.Close()
			return err
		}
		for _, x := range ex {
			e.Examples = append(e.Examples, fmt.Sprint(x))
		}
		r.Excluded = append(r.Excluded, e)
	}
	rows.Close()
	frows, err := s.db.QueryContext(ctx, `SELECT entity, id, reason, detail FROM ledger WHERE run_id = ? AND state = 'failed' ORDER BY entity, id LIMIT 1000`, runID)
	if err != nil {
		return err
	}
	defer frows.Close()
	for frows.Next() {
		var f Failure
		if err := frows.Scan(&f.Entity, &f.ID, &f.Reason, &f.Detail); err != nil {
			return err
		}
		r.Failures = append(r.Failures, f)
	}
	return frows.Err()
}
