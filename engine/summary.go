package engine

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// maxSamples bounds the bad rows and warnings a summary keeps verbatim; the
// counts are always complete.
const maxSamples = 20

// Summary is what a run did: every source row is counted in exactly one
// state and reason, so Unexplained is the rows that are not (always 0 unless
// a bug).
type Summary struct {
	RunID    string
	PlanHash string
	Started  time.Time
	Elapsed  time.Duration

	Agents Tally
	Calls  Tally

	// Findings are mistakes of the spec the data shows (findings.go): a
	// business-data name no row carries, a field empty on every imported
	// call. Warnings at the top of the summary.
	Findings []Finding

	BadRows       int      // rows a source could not read (with or without an id)
	BadRowSamples []string // "calls.csv:12: call C1: bad start_time …"
	BadNoID       int      // bad rows whose id could not be read: summary only, no ledger row
	Warnings      int
	WarnSamples   []string
	FieldOmitted  map[string]int // field name -> values left out (on_error = omit)
	DuplicateSeen int            // calls seen from more than one site, imported once
	SourceRows    int            // call rows read, bad ones included
	// BDWithoutCall counts business-data rows whose call is not in the
	// source (ErrBDWithoutCall): not call rows, so not in SourceRows.
	BDWithoutCall        int
	BDWithoutCallSamples []string
	// Counted are call rows sources filtered inside the database (the window
	// or tenant pushed into SQL, FilteredCounter), by the state and reason
	// each would have had: never read, so not in SourceRows nor the ledger,
	// but accounted. With several sites a replicated call counts per site.
	Counted map[StateReason]int
	// ImportedByDay counts the calls whose verdict was imported, by their
	// start date (UTC, "2006-01-02"): every call read, sent this run or not,
	// so a run's map is what the ledger holds per day for the source as it
	// was read. A call a sink refuses after accepting it (Failed) stays in
	// its day: the sink reports an id, not a date.
	ImportedByDay map[string]int

	Failed []LedgerRow // rows a sink refused after accepting them (RunInfo.Fail)
	// Delivered is what the sink says it delivered (DeliveryCounter); nil
	// for a sink that does not count.
	Delivered []Delivered

	AgentDiff, CallDiff Diff                        // against the prior ledger (all new without one)
	Removed             struct{ Agents, Calls int } // in the prior ledger, no longer in the source
	Sent                struct{ Agents, Calls int } // handed to the sink (new or changed)
	Watermarks          map[string]Watermark        // by source name: the last call read
	// NewestImported is the start time of the newest call in state
	// imported, this run's sends and earlier runs' unchanged rows alike (zero
	// when none): serve's lag is now minus it.
	NewestImported time.Time

	// FieldOmittedSamples keeps, per field, why the first values were left
	// out (at most maxOmitSamples each), each naming its spec position.
	FieldOmittedSamples map[string][]string

	mu sync.Mutex
}

// Tally counts rows by state and reason.
type Tally struct {
	Total int
	By    map[StateReason]int
}

// Watermark is the last call (in start_time, call_id order) read from a source.
type Watermark struct {
	StartTime time.Time
	CallID    string
}

// StateReason is a ledger state with its reason ("" for plain imported).
type StateReason struct{ State, Reason string }

func (t *Tally) add(state, reason string) {
	if t.By == nil {
		t.By = map[StateReason]int{}
	}
	t.Total++
	t.By[StateReason{state, reason}]++
}

// moveImported moves one imported row (with or without agent) to another
// state: a sink refused it after accepting it.
func (t *Tally) moveImported(to StateReason) {
	for _, from := range []StateReason{{StateImported, ""}, {StateImported, ReasonAgentUnmapped}} {
		if t.By[from] > 0 {
			t.By[from]--
			if t.By[from] == 0 {
				delete(t.By, from)
			}
			t.By[to]++
			return
		}
	}
}

// Count is the number of rows in a state, whatever the reason.
func (t *Tally) Count(state string) int {
	n := 0
	for k, v := range t.By {
		if k.State == state {
			n += v
		}
	}
	return n
}

// Sorted lists the tally's entries by state, then count descending.
func (t *Tally) Sorted() []TallyEntry {
	out := make([]TallyEntry, 0, len(t.By))
	for k, v := range t.By {
		out = append(out, TallyEntry{k, v})
	}
	order := map[string]int{StateImported: 0, StateQueued: 1, StateExcluded: 2, StateFailed: 3}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.State != b.State {
			return order[a.State] < order[b.State]
		}
		if a.N != b.N {
			return a.N > b.N
		}
		return a.Reason < b.Reason
	})
	return out
}

func (d *Diff) count(change string) {
	switch change {
	case ChangeNew:
		d.New++
	case ChangeChanged:
		d.Changed++
	case ChangeUnchanged:
		d.Unchanged++
	}
}

// TallyEntry is one line of a tally.
type TallyEntry struct {
	StateReason
	N int
}

func (s *Summary) badRow(pos, id string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.BadRows++
	if id == "" {
		s.BadNoID++
	}
	if len(s.BadRowSamples) < maxSamples {
		msg := fmt.Sprintf("%s: %v", pos, err)
		if id != "" {
			msg = fmt.Sprintf("%s: %s: %v", pos, id, err)
		}
		s.BadRowSamples = append(s.BadRowSamples, msg)
	}
}

// maxOmitSamples bounds the reasons kept per field left out.
const maxOmitSamples = 5

// fieldOmitted counts a value left out of a call (on_error = omit) and keeps
// the first reasons. Only the evaluator's goroutine calls it.
func (s *Summary) fieldOmitted(field, callID string, err error) {
	if s.FieldOmitted == nil {
		s.FieldOmitted = map[string]int{}
	}
	s.FieldOmitted[field]++
	if s.FieldOmittedSamples == nil {
		s.FieldOmittedSamples = map[string][]string{}
	}
	if s.wantsOmitSample(field) {
		s.FieldOmittedSamples[field] = append(s.FieldOmittedSamples[field], fmt.Sprintf("call %s: %v", callID, err))
	}
}

// wantsOmitSample reports whether the next value left out of field is kept
// as a sample.
func (s *Summary) wantsOmitSample(field string) bool {
	return len(s.FieldOmittedSamples[field]) < maxOmitSamples
}

func (s *Summary) bdWithoutCall(pos string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.BDWithoutCall++
	if len(s.BDWithoutCallSamples) < maxSamples {
		s.BDWithoutCallSamples = append(s.BDWithoutCallSamples, fmt.Sprintf("%s: %v", pos, err))
	}
}

func (s *Summary) addCounted(m map[StateReason]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, n := range m {
		if n == 0 {
			continue
		}
		if s.Counted == nil {
			s.Counted = map[StateReason]int{}
		}
		s.Counted[k] += n
	}
}

// CountedRows is the number of call rows counted by the database.
func (s *Summary) CountedRows() int {
	n := 0
	for _, v := range s.Counted {
		n += v
	}
	return n
}

// CountedSorted lists the counted rows like Tally.Sorted.
func (s *Summary) CountedSorted() []TallyEntry {
	t := Tally{By: s.Counted}
	return t.Sorted()
}

func (s *Summary) warn(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Warnings++
	if len(s.WarnSamples) < maxSamples {
		s.WarnSamples = append(s.WarnSamples, msg)
	}
}

// Problems counts what a scheduler must hear about: rows that ended failed
// (agents and calls, bad rows with an id included), rows that could not be
// read at all (no id, so no ledger row) and business-data rows without a
// call. A run is clean only when all three are 0: every row imported or
// excluded by a rule.
func (s *Summary) Problems() (failed, unreadable, bdWithoutCall int) {
	counted := Tally{By: s.Counted}
	return s.Agents.Count(StateFailed) + s.Calls.Count(StateFailed) + counted.Count(StateFailed), s.BadNoID, s.BDWithoutCall
}

// Clean reports whether every row was imported or excluded by a rule.
func (s *Summary) Clean() bool {
	f, u, o := s.Problems()
	return f+u+o == 0
}

// WriteVerdict writes the last line of a run that was not clean: how many
// rows need attention and where to look. It writes nothing for a clean run.
func WriteVerdict(w io.Writer, s *Summary, specDir string) {
	f, u, o := s.Problems()
	if f+u+o == 0 {
		return
	}
	var parts []string
	// Advice by cause: a row the source could not read fails the same way
	// until someone fixes the file; a row a sink refused is retried.
	bad := min(s.BadRows-s.BadNoID, f)
	var advice []string
	if bad > 0 || u > 0 || o > 0 {
		advice = append(advice, "fix the source row; the next run reads it again")
	}
	if f > bad {
		advice = append(advice, "rows the sink refused are retried on the next run")
	}
	if f > 0 {
		parts = append(parts, plural(f, "failed row"))
	}
	if u > 0 {
		parts = append(parts, plural(u, "unreadable row")+" without an id")
	}
	if o > 0 {
		parts = append(parts, plural(o, "business data row")+" without a call")
	}
	fmt.Fprintf(w, "needs attention: %s; see `applink report %s` (failures and bad rows with file:line); %s\n",
		strings.Join(parts, ", "), specDir, strings.Join(advice, "; "))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// CallsPerSecond is the run's throughput over the source's call rows.
func (s *Summary) CallsPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.SourceRows) / s.Elapsed.Seconds()
}

// WriteSummary renders a summary for people. Rendering is kept apart from
// the run so the CLI, the TUI and reports share it.
func WriteSummary(w io.Writer, s *Summary) {
	fmt.Fprintf(w, "run %s (plan %s) in %s, %.0f calls/s\n", s.RunID, short(s.PlanHash), s.Elapsed.Round(time.Millisecond), s.CallsPerSecond())
	WriteFindings(w, s.Findings)
	for _, part := range []struct {
		name string
		t    *Tally
	}{{"agents", &s.Agents}, {"calls", &s.Calls}} {
		queued := ""
		if n := part.t.Count(StateQueued); n > 0 {
			queued = fmt.Sprintf(", queued for delivery %d", n)
		}
		fmt.Fprintf(w, "%s: %d (imported %d%s, excluded %d, failed %d)\n", part.name, part.t.Total,
			part.t.Count(StateImported), queued, part.t.Count(StateExcluded), part.t.Count(StateFailed))
		for _, e := range part.t.Sorted() {
			reason := e.Reason
			if reason == "" {
				reason = "-"
			}
			fmt.Fprintf(w, "  %-9s %-20s %8d\n", e.State, reason, e.N)
		}
	}
	fmt.Fprintf(w, "changes: agents %d new, %d changed, %d unchanged; calls %d new, %d changed, %d unchanged\n",
		s.AgentDiff.New, s.AgentDiff.Changed, s.AgentDiff.Unchanged, s.CallDiff.New, s.CallDiff.Changed, s.CallDiff.Unchanged)
	if s.Removed.Agents+s.Removed.Calls > 0 {
		fmt.Fprintf(w, "no longer in the source: %d agents, %d calls\n", s.Removed.Agents, s.Removed.Calls)
	}
	if s.Sent.Agents+s.Sent.Calls == 0 {
		fmt.Fprintln(w, "sent: nothing (nothing new or changed since the last run)")
	} else {
		fmt.Fprintf(w, "sent: %d agents, %d calls\n", s.Sent.Agents, s.Sent.Calls)
	}
	if len(s.Delivered) > 0 {
		fmt.Fprintf(w, "delivered: %s\n", DeliveredText(s.Delivered))
	}
	WriteSummaryNotes(w, s)
}

// DeliveredText is "208 calls, 200 media files, …".
func DeliveredText(d []Delivered) string {
	parts := make([]string, len(d))
	for i, x := range d {
		parts[i] = fmt.Sprintf("%d %s", x.N, x.What)
	}
	return strings.Join(parts, ", ")
}

// WriteFindings renders a run's findings on the spec, one warning a line;
// the summaries put them first, where a consultant looks.
func WriteFindings(w io.Writer, findings []Finding) {
	for _, f := range findings {
		fmt.Fprintf(w, "warning: %s\n", f.Text)
	}
}

// WriteSummaryNotes renders what a summary says beyond the counts: drift,
// duplicates, bad rows, values left out, warnings. The preview's text shares it.
func WriteSummaryNotes(w io.Writer, s *Summary) {
	if n := s.CountedRows(); n > 0 {
		fmt.Fprintf(w, "calls filtered in the database, not read: %d\n", n)
		for _, e := range s.CountedSorted() {
			fmt.Fprintf(w, "  %s\n", CountedLine(e))
		}
	}
	for _, d := range s.AgentDiff.Drift {
		fmt.Fprintf(w, "drift: agent %s was %s in Engage: not synced, act on it in CXone by hand\n", d.UserID, d.Change)
	}
	if s.DuplicateSeen > 0 {
		fmt.Fprintf(w, "calls seen from more than one site (imported once): %d\n", s.DuplicateSeen)
	}
	if s.BadRows > 0 {
		fmt.Fprintf(w, "bad source rows: %d (%d without a readable id, not in the ledger)\n", s.BadRows, s.BadNoID)
		for _, m := range s.BadRowSamples {
			fmt.Fprintf(w, "  %s\n", m)
		}
		if s.BadRows > len(s.BadRowSamples) {
			fmt.Fprintf(w, "  … and %d more\n", s.BadRows-len(s.BadRowSamples))
		}
	}
	if s.BDWithoutCall > 0 {
		fmt.Fprintf(w, "business data rows without a call: %d\n", s.BDWithoutCall)
		for _, m := range s.BDWithoutCallSamples {
			fmt.Fprintf(w, "  %s\n", m)
		}
		if s.BDWithoutCall > len(s.BDWithoutCallSamples) {
			fmt.Fprintf(w, "  … and %d more\n", s.BDWithoutCall-len(s.BDWithoutCallSamples))
		}
	}
	if len(s.FieldOmitted) > 0 {
		names := make([]string, 0, len(s.FieldOmitted))
		for n := range s.FieldOmitted {
			names = append(names, n)
		}
		sort.Strings(names)
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = fmt.Sprintf("%s %d", n, s.FieldOmitted[n])
		}
		fmt.Fprintf(w, "field values left out (on_error = omit): %s\n", strings.Join(parts, ", "))
		for _, n := range names {
			for _, m := range s.FieldOmittedSamples[n] {
				fmt.Fprintf(w, "  %s\n", m)
			}
		}
	}
	if s.Warnings > 0 {
		fmt.Fprintf(w, "warnings: %d\n", s.Warnings)
		for _, m := range s.WarnSamples {
			fmt.Fprintf(w, "  %s\n", m)
		}
	}
}

// CountedLine renders one entry of Summary.Counted the way the summary and
// the report show it: "other_tenant: 12 (counted by the database)".
func CountedLine(e TallyEntry) string {
	if e.State == StateExcluded {
		return fmt.Sprintf("%s: %d (counted by the database)", e.Reason, e.N)
	}
	return fmt.Sprintf("%s: %d (%s, counted by the database)", e.Reason, e.N, e.State)
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// JSON is the summary as stored in the run history and printed by
// `run --format json`: one place decides its field names.
func (s *Summary) JSON() map[string]any {
	tally := func(t *Tally) map[string]int {
		m := map[string]int{}
		for k, v := range t.By {
			m[k.State+"/"+k.Reason] = v
		}
		return m
	}
	failed, unreadable, bdWithoutCall := s.Problems()
	j := map[string]any{
		"run_id": s.RunID, "plan_hash": s.PlanHash, "elapsed_ms": s.Elapsed.Milliseconds(),
		"agents": tally(&s.Agents), "calls": tally(&s.Calls), "counted": tally(&Tally{By: s.Counted}),
		"source_rows": s.SourceRows, "imported_by_day": s.ImportedByDay, "bd_without_call": s.BDWithoutCall, "bd_without_call_samples": s.BDWithoutCallSamples,
		"bad_rows": s.BadRows, "bad_no_id": s.BadNoID, "bad_samples": s.BadRowSamples,
		"findings": s.Findings, "warnings": s.Warnings, "field_omitted": s.FieldOmitted, "field_omitted_samples": s.FieldOmittedSamples, "duplicates_seen": s.DuplicateSeen,
		"agent_diff": s.AgentDiff, "call_diff": s.CallDiff, "removed": s.Removed, "sent": s.Sent, "failed": s.Failed, "delivered": s.Delivered,
		"problems": map[string]int{"failed": failed, "unreadable": unreadable, "bd_without_call": bdWithoutCall},
		"ended":    s.Started.Add(s.Elapsed).UTC().Format(time.RFC3339),
	}
	if !s.NewestImported.IsZero() {
		j["newest_imported"] = s.NewestImported.UTC().Format(time.RFC3339Nano)
	}
	return j
}
