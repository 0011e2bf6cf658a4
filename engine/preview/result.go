package preview

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/state"
	"github.com/applink-dev/applink/engine/summarytext"
)

// Result is what a preview found. Run returns it and stores it in the
// preview file's summary table, where DB.Result reads it back.
type Result struct {
	DBPath  string
	Summary *engine.RunRecord // its CallDiff, AgentDiff and Removed are the diff against the state
	Stages  []StageCount      // source, after_rules, after_filters, mapped
	Reasons map[string]int    // calls by "state/reason" ("imported" alone when no reason)
	Agents  map[string]int    // users by "state/reason"
	Diff    DiffCounts
	// WouldSend is what `applink run` would hand the sink now: imported rows
	// that are new or changed.
	WouldSend struct{ Agents, Calls int }
}

// StageCount is one stage of the pipeline: In reached it, Out left it for
// the next, Left counts by reason what stopped there.
type StageCount struct {
	Stage string         `json:"stage"`
	In    int            `json:"in"`
	Out   int            `json:"out"`
	Left  map[string]int `json:"left,omitempty"`
}

// Stage names of Result.Stages (and of RowQuery.Stage): the rows that
// reached the view of that name.
const (
	ViewSource       = "source"
	ViewAfterRules   = "after_rules"
	ViewAfterFilters = "after_filters"
	ViewMapped       = "mapped"
)

// DiffCounts is the diff against the state ledger.
type DiffCounts struct {
	Calls  ChangeCounts `json:"calls"`
	Agents ChangeCounts `json:"agents"`
}

// ChangeCounts counts rows by change kind.
type ChangeCounts struct {
	New       int `json:"new"`
	Changed   int `json:"changed"`
	Unchanged int `json:"unchanged"`
	Removed   int `json:"removed"` // in the ledger, no longer in the source
}

// reasonKey is a tally key as Result's maps spell it.
func reasonKey(state, reason string) string {
	if reason == "" {
		return state
	}
	return state + "/" + reason
}

func tallyMap(t *engine.Tally) map[string]int {
	m := map[string]int{}
	for k, v := range t.By {
		m[reasonKey(k.State, k.Reason)] += v
	}
	return m
}

func tallyFrom(m map[string]int) engine.Tally {
	t := engine.Tally{By: map[connector.StateReason]int{}}
	for k, v := range m {
		state, reason, _ := strings.Cut(k, "/")
		t.By[connector.StateReason{State: state, Reason: reason}] += v
		t.Total += v
	}
	return t
}

// stages derives the stage counts from the run's tally: every call row is
// counted in exactly one state and reason, and each reason belongs to one
// stage.
func stages(sum *engine.RunRecord) []StageCount {
	left := map[string]map[string]int{}
	for k, v := range sum.Calls.By {
		st := stageOf(k.State, k.Reason)
		if st == StageMapped {
			continue
		}
		if left[st] == nil {
			left[st] = map[string]int{}
		}
		left[st][k.Reason] += v
	}
	// Bad rows without an id have no ledger row, and duplicates seen at
	// several sites are imported once: both leave at the source.
	src := left[StageSource]
	if src == nil {
		src = map[string]int{}
	}
	if sum.BadNoID > 0 {
		src[connector.ReasonBadRow] += sum.BadNoID
	}
	if sum.DuplicateSeen > 0 {
		src["duplicate"] += sum.DuplicateSeen
	}
	left[StageSource] = src
	order := []struct{ view, stage string }{
		{ViewSource, StageSource}, {ViewAfterRules, StageRules}, {ViewAfterFilters, StageFilters}, {ViewMapped, StageMapping},
	}
	out := make([]StageCount, 0, len(order))
	in := sum.SourceRows
	for _, o := range order {
		n := 0
		for _, v := range left[o.stage] {
			n += v
		}
		sc := StageCount{Stage: o.view, In: in, Out: in - n}
		if len(left[o.stage]) > 0 {
			sc.Left = left[o.stage]
		}
		out = append(out, sc)
		in = sc.Out
	}
	return out
}

// finish computes the diff against the state ledger, creates the views,
// stores the summary and checkpoints the file.
func (st *store) finish(ctx context.Context, sum *engine.RunRecord, statePath string, ledger func(context.Context, func(state.LedgerRow) error) error) (*Result, error) {
	c := st.conn
	// The run's last transaction; the rest runs in autocommit mode (DuckDB
	// cannot detach the state inside a transaction that read it).
	if _, err := c.ExecContext(ctx, `COMMIT`); err != nil {
		return nil, fmt.Errorf("preview: commit: %w", err)
	}
	prior := priorEmpty
	if ledger != nil {
		if err := st.loadPrior(ctx, ledger); err != nil {
			return nil, err
		}
		prior = priorLoaded
	} else if statePath != "" {
		if _, err := os.Stat(statePath); err == nil {
			// READ_ONLY: the preview must never write the state, not even a
			// WAL replay or a checkpoint.
			if _, err := c.ExecContext(ctx, "ATTACH "+sqlString(statePath)+" AS prior (READ_ONLY)"); err != nil {
				return nil, fmt.Errorf("preview: open state file %s read-only: %w", statePath, err)
			}
			prior = priorAttached
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("preview: state file: %w", err)
		}
	}
	for _, q := range diffSQL {
		if _, err := c.ExecContext(ctx, strings.ReplaceAll(q, "{prior}", prior)); err != nil {
			return nil, fmt.Errorf("preview: diff against the state: %w", err)
		}
	}
	var drift []engine.DriftRow
	if prior != priorEmpty {
		rows, err := c.QueryContext(ctx, `SELECT user_id, CASE WHEN active THEN 'reactivated' ELSE 'deactivated' END
			FROM agents WHERE is_agent AND prev_active IS NOT NULL AND prev_active <> active ORDER BY user_id`)
		if err != nil {
			return nil, fmt.Errorf("preview: drift: %w", err)
		}
		for rows.Next() {
			var d engine.DriftRow
			if err := rows.Scan(&d.UserID, &d.Change); err != nil {
				rows.Close()
				return nil, fmt.Errorf("preview: drift: %w", err)
			}
			drift = append(drift, d)
		}
		rows.Close()
		detach := "DETACH prior"
		if prior == priorLoaded {
			detach = "DROP TABLE prior_ledger"
		}
		if _, err := c.ExecContext(ctx, detach); err != nil {
			return nil, fmt.Errorf("preview: detach state: %w", err)
		}
	}
	for _, q := range views {
		if _, err := c.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("preview: create views: %w", err)
		}
	}

	res := &Result{Summary: sum, Stages: stages(sum), Reasons: tallyMap(&sum.Calls), Agents: tallyMap(&sum.Agents)}
	for _, t := range []struct {
		table string
		cc    *ChangeCounts
		sent  *int
	}{{"results", &res.Diff.Calls, &res.WouldSend.Calls}, {"agents", &res.Diff.Agents, &res.WouldSend.Agents}} {
		q := fmt.Sprintf(`SELECT count(*) FILTER (WHERE change = 'new'), count(*) FILTER (WHERE change = 'changed'),
			count(*) FILTER (WHERE change = 'unchanged'), count(*) FILTER (WHERE change <> 'unchanged' AND state = 'imported') FROM %s`, t.table)
		if err := c.QueryRowContext(ctx, q).Scan(&t.cc.New, &t.cc.Changed, &t.cc.Unchanged, t.sent); err != nil {
			return nil, fmt.Errorf("preview: count changes: %w", err)
		}
	}
	if err := c.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE entity = 'call'), count(*) FILTER (WHERE entity = 'agent') FROM removed`).
		Scan(&res.Diff.Calls.Removed, &res.Diff.Agents.Removed); err != nil {
		return nil, fmt.Errorf("preview: count removed: %w", err)
	}
	// The engine ran without a prior ledger, so its diff says "all new":
	// replace it with the real one, so every renderer of the summary agrees.
	sum.CallDiff = engine.Diff{New: res.Diff.Calls.New, Changed: res.Diff.Calls.Changed, Unchanged: res.Diff.Calls.Unchanged}
	sum.AgentDiff = engine.Diff{New: res.Diff.Agents.New, Changed: res.Diff.Agents.Changed, Unchanged: res.Diff.Agents.Unchanged, Drift: drift}
	sum.Removed.Calls, sum.Removed.Agents = res.Diff.Calls.Removed, res.Diff.Agents.Removed
	sum.Sent.Calls, sum.Sent.Agents = 0, 0 // a preview sends nothing

	js, err := res.JSON()
	if err != nil {
		return nil, err
	}
	if _, err := c.ExecContext(ctx, `INSERT INTO summary VALUES (?)`, string(js)); err != nil {
		return nil, fmt.Errorf("preview: store summary: %w", err)
	}
	if _, err := c.ExecContext(ctx, `CHECKPOINT`); err != nil {
		return nil, fmt.Errorf("preview: checkpoint: %w", err)
	}
	return res, nil
}

// resultJSON is the JSON form of a Result; field order is the key order.
type resultJSON struct {
	DB             string           `json:"db"`
	RunID          string           `json:"run_id"`
	PlanHash       string           `json:"plan_hash"`
	Started        time.Time        `json:"started"`
	ElapsedMS      int64            `json:"elapsed_ms"`
	SourceRows     int              `json:"source_rows"`
	BadRows        int              `json:"bad_rows"`
	BadNoID        int              `json:"bad_no_id"`
	BadSamples     []string         `json:"bad_samples"`
	DuplicatesSeen int              `json:"duplicates_seen"`
	Warnings       int              `json:"warnings"`
	WarnSamples    []string         `json:"warn_samples"`
	Findings       []engine.Finding `json:"findings"`
	FieldOmitted   map[string]int   `json:"field_omitted"`
	Stages         []StageCount     `json:"stages"`
	Calls          map[string]int   `json:"calls"`
	Agents         map[string]int   `json:"agents"`
	Diff           DiffCounts       `json:"diff"`
	Drift          []driftJSON      `json:"drift"`
	WouldSend      sendJSON         `json:"would_send"`

	// Why values were left out, per field (a few each, with spec positions).
	FieldOmittedSamples map[string][]string `json:"field_omitted_samples,omitempty"`
}

type driftJSON struct {
	UserID string `json:"user_id"`
	Change string `json:"change"`
}

type sendJSON struct {
	Agents int `json:"agents"`
	Calls  int `json:"calls"`
}

// JSON renders the result as one JSON object with a stable key order (maps
// are sorted by key).
func (r *Result) JSON() ([]byte, error) {
	s := r.Summary
	if s == nil {
		s = &engine.RunRecord{}
	}
	j := resultJSON{
		DB: r.DBPath, RunID: s.RunID, PlanHash: s.PlanHash, Started: s.Started.UTC(), ElapsedMS: s.Elapsed.Milliseconds(),
		SourceRows: s.SourceRows, BadRows: s.BadRows, BadNoID: s.BadNoID, BadSamples: nonNil(s.BadRowSamples),
		DuplicatesSeen: s.DuplicateSeen, Findings: nonNilFindings(s.Findings), Warnings: s.Warnings, WarnSamples: nonNil(s.WarnSamples),
		FieldOmitted: s.FieldOmitted, FieldOmittedSamples: s.FieldOmittedSamples, Stages: r.Stages, Calls: r.Reasons, Agents: r.Agents, Diff: r.Diff,
		Drift:     []driftJSON{},
		WouldSend: sendJSON{Agents: r.WouldSend.Agents, Calls: r.WouldSend.Calls},
	}
	if j.FieldOmitted == nil {
		j.FieldOmitted = map[string]int{}
	}
	for _, d := range s.AgentDiff.Drift {
		j.Drift = append(j.Drift, driftJSON{UserID: d.UserID, Change: d.Change})
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("preview: render JSON: %w", err)
	}
	return append(b, '\n'), nil
}

func nonNilFindings(f []engine.Finding) []engine.Finding {
	if f == nil {
		return []engine.Finding{}
	}
	return f
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// parseResult is the inverse of Result.JSON.
func parseResult(b []byte) (*Result, error) {
	var j resultJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("preview: read summary: %w", err)
	}
	s := &engine.RunRecord{
		RunID: j.RunID, PlanHash: j.PlanHash, Started: j.Started, Elapsed: time.Duration(j.ElapsedMS) * time.Millisecond,
		Agents: tallyFrom(j.Agents), Calls: tallyFrom(j.Calls),
		BadRows: j.BadRows, BadRowSamples: j.BadSamples, BadNoID: j.BadNoID, Findings: j.Findings, Warnings: j.Warnings, WarnSamples: j.WarnSamples,
		FieldOmitted: j.FieldOmitted, FieldOmittedSamples: j.FieldOmittedSamples, DuplicateSeen: j.DuplicatesSeen, SourceRows: j.SourceRows,
		Watermarks: map[string]engine.Watermark{},
	}
	s.CallDiff = engine.Diff{New: j.Diff.Calls.New, Changed: j.Diff.Calls.Changed, Unchanged: j.Diff.Calls.Unchanged}
	s.AgentDiff = engine.Diff{New: j.Diff.Agents.New, Changed: j.Diff.Agents.Changed, Unchanged: j.Diff.Agents.Unchanged}
	for _, d := range j.Drift {
		s.AgentDiff.Drift = append(s.AgentDiff.Drift, engine.DriftRow{UserID: d.UserID, Change: d.Change})
	}
	s.Removed.Calls, s.Removed.Agents = j.Diff.Calls.Removed, j.Diff.Agents.Removed
	r := &Result{DBPath: j.DB, Summary: s, Stages: j.Stages, Reasons: j.Calls, Agents: j.Agents, Diff: j.Diff}
	r.WouldSend.Agents, r.WouldSend.Calls = j.WouldSend.Agents, j.WouldSend.Calls
	return r, nil
}

// WriteText renders the result for people: stages, reasons, the diff
// against the last run, then bad rows and warnings.
func (r *Result) WriteText(w io.Writer) {
	s := r.Summary
	if s == nil {
		s = &engine.RunRecord{}
	}
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.SourceRows) / s.Elapsed.Seconds()
	}
	fmt.Fprintf(w, "preview of plan %s: %d call rows in %s (%.0f calls/s)\n", shortHash(s.PlanHash), s.SourceRows, s.Elapsed.Round(time.Millisecond), rate)
	summarytext.WriteFindings(w, s.Findings)
	if r.DBPath != "" {
		fmt.Fprintf(w, "stored in %s\n", r.DBPath)
	}
	fmt.Fprintln(w, "\nstages:")
	for _, st := range r.Stages {
		fmt.Fprintf(w, "  %-14s in %9d  out %9d\n", st.Stage, st.In, st.Out)
		for _, k := range sortedKeys(st.Left) {
			fmt.Fprintf(w, "      - %-22s %9d\n", k, st.Left[k])
		}
	}
	for _, part := range []struct {
		name string
		m    map[string]int
	}{{"calls", r.Reasons}, {"agents", r.Agents}} {
		total := 0
		for _, v := range part.m {
			total += v
		}
		fmt.Fprintf(w, "\n%s: %d\n", part.name, total)
		for _, k := range sortedReasons(part.m) {
			fmt.Fprintf(w, "  %-32s %9d\n", k, part.m[k])
		}
	}
	fmt.Fprintln(w, "\nagainst the last run:       calls    agents")
	for _, l := range []struct {
		name string
		c, a int
	}{
		{"new", r.Diff.Calls.New, r.Diff.Agents.New},
		{"changed", r.Diff.Calls.Changed, r.Diff.Agents.Changed},
		{"unchanged", r.Diff.Calls.Unchanged, r.Diff.Agents.Unchanged},
		{"no longer in the source", r.Diff.Calls.Removed, r.Diff.Agents.Removed},
	} {
		fmt.Fprintf(w, "  %-23s %9d %9d\n", l.name, l.c, l.a)
	}
	fmt.Fprintf(w, "a run now would send: %d agents, %d calls\n", r.WouldSend.Agents, r.WouldSend.Calls)
	summarytext.WriteSummaryNotes(w, s)
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sortedReasons orders imported, excluded, failed, then by count descending.
func sortedReasons(m map[string]int) []string {
	order := map[string]int{connector.StateImported: 0, connector.StateExcluded: 1, connector.StateFailed: 2}
	keys := sortedKeys(m)
	sort.SliceStable(keys, func(i, j int) bool {
		si, _, _ := strings.Cut(keys[i], "/")
		sj, _, _ := strings.Cut(keys[j], "/")
		if order[si] != order[sj] {
			return order[si] < order[sj]
		}
		return m[keys[i]] > m[keys[j]]
	})
	return keys
}
