package engine

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/applink-dev/applink/engine/connector"
)

// maxSamples bounds the bad rows and warnings a record keeps verbatim; the
// counts are always complete.
const maxSamples = 20

// RunRecord is what a run did, the one home of a run's numbers: the run
// fills it in (under its run-time name Summary), the state stores it in the
// run history (Encode) and gives it back typed (DecodeRunRecord converts
// older stored forms), and the CLI, the report, serve, the workspace and the
// TUI read it. Every source row is counted in exactly one state and reason;
// Accounting says where each went, and Unexplained is the rows that are not
// (always 0 unless a bug).
type RunRecord struct {
	// Version is the form the record was stored in (RecordVersion for a
	// record this build made): DecodeRunRecord has already converted it.
	Version  int
	RunID    string
	PlanHash string
	Started  time.Time
	Elapsed  time.Duration

	Agents Tally
	Calls  Tally // with a delivery queue, the calls sent this run are counted queued

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
	Counted map[connector.StateReason]int
	// ImportedByDay counts the calls whose verdict was imported, by their
	// start date (UTC, "2006-01-02"): every call read, sent this run or not,
	// so a run's map is what the ledger holds per day for the source as it
	// was read. A call a sink refuses after accepting it (Failed) stays in
	// its day: the sink reports an id, not a date. Nil in a record of an
	// applink that did not count per day.
	ImportedByDay map[string]int

	Failed []connector.LedgerRow // rows a sink refused after accepting them (RunInfo.Fail)

	// Findings are mistakes of the spec the data shows (findings.go): a
	// business-data name no row carries, a field empty on every imported
	// call. Warnings at the top of the summary and the report.
	Findings []Finding
	// Delivered is what the sink says it delivered (DeliveryCounter); nil
	// for a sink that does not count.
	Delivered []connector.Delivered

	AgentDiff, CallDiff Diff                        // against the prior ledger (all new without one)
	Removed             struct{ Agents, Calls int } // in the prior ledger, no longer in the source
	Sent                struct{ Agents, Calls int } // handed to the sink, or queued (new or changed)
	Watermarks          map[string]Watermark        // by source name: the last call read
	// NewestImported is the start time of the newest call in state
	// imported, this run's sends and earlier runs' unchanged rows alike (zero
	// when none): serve's lag is now minus it.
	NewestImported time.Time

	// FieldOmittedSamples keeps, per field, why the first values were left
	// out (at most maxOmitSamples each), each naming its spec position.
	FieldOmittedSamples map[string][]string

	// Delivery is where the calls this run queued for the delivery workers
	// are (PostgreSQL state with a queue; zero otherwise).
	Delivery Delivery

	mu sync.Mutex
}

// Delivery counts the calls a run queued for the delivery workers. Queued
// is the run's own count, fixed at its commit; the rest says where those
// calls are now and is filled in by the state when the record is read (a
// PostgreSQL state with a queue): the ones still waiting are Queued minus
// the others.
type Delivery struct {
	Queued     int `json:"queued"`
	Delivering int `json:"delivering"` // a worker holds them now
	Retrying   int `json:"retrying"`   // their last attempt failed; another follows
	Imported   int `json:"imported"`   // delivered
	Failed     int `json:"failed"`     // refused for good, or abandoned
}

// Waiting is how many queued calls no worker has taken or finished yet.
func (d Delivery) Waiting() int {
	return max(0, d.Queued-d.Delivering-d.Retrying-d.Imported-d.Failed)
}

// Tally counts rows by state and reason.
type Tally struct {
	Total int
	By    map[connector.StateReason]int
}

// Watermark is the last call (in start_time, call_id order) read from a source.
type Watermark struct {
	StartTime time.Time
	CallID    string
}

func (t *Tally) add(state, reason string) {
	if t.By == nil {
		t.By = map[connector.StateReason]int{}
	}
	t.Total++
	t.By[connector.StateReason{State: state, Reason: reason}]++
}

// moveImported moves one imported row (with or without agent) to another
// state: a sink refused it after accepting it.
func (t *Tally) moveImported(to connector.StateReason) {
	for _, from := range []connector.StateReason{{State: connector.StateImported, Reason: ""}, {State: connector.StateImported, Reason: connector.ReasonAgentUnmapped}} {
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

// stateOrder is the order tallies, reports and the status page list states in.
var stateOrder = map[string]int{connector.StateImported: 0, connector.StateQueued: 1, connector.StateExcluded: 2, connector.StateFailed: 3}

// StateOrder ranks a ledger state for listing: imported, queued, excluded,
// failed, then any other.
func StateOrder(state string) int {
	if n, ok := stateOrder[state]; ok {
		return n
	}
	return len(stateOrder)
}

// Sorted lists the tally's entries by state, then count descending.
func (t *Tally) Sorted() []TallyEntry {
	out := make([]TallyEntry, 0, len(t.By))
	for k, v := range t.By {
		out = append(out, TallyEntry{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.State != b.State {
			return StateOrder(a.State) < StateOrder(b.State)
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
	connector.StateReason
	N int
}

func (s *RunRecord) badRow(pos, id string, err error) {
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
func (s *RunRecord) fieldOmitted(field, callID string, err error) {
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
func (s *RunRecord) wantsOmitSample(field string) bool {
	return len(s.FieldOmittedSamples[field]) < maxOmitSamples
}

func (s *RunRecord) bdWithoutCall(pos string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.BDWithoutCall++
	if len(s.BDWithoutCallSamples) < maxSamples {
		s.BDWithoutCallSamples = append(s.BDWithoutCallSamples, fmt.Sprintf("%s: %v", pos, err))
	}
}

func (s *RunRecord) addCounted(m map[connector.StateReason]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, n := range m {
		if n == 0 {
			continue
		}
		if s.Counted == nil {
			s.Counted = map[connector.StateReason]int{}
		}
		s.Counted[k] += n
	}
}

// CountedRows is the number of call rows counted by the database.
func (s *RunRecord) CountedRows() int {
	n := 0
	for _, v := range s.Counted {
		n += v
	}
	return n
}

// CountedSorted lists the counted rows like Tally.Sorted.
func (s *RunRecord) CountedSorted() []TallyEntry {
	t := Tally{By: s.Counted}
	return t.Sorted()
}

func (s *RunRecord) warn(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Warnings++
	if len(s.WarnSamples) < maxSamples {
		s.WarnSamples = append(s.WarnSamples, msg)
	}
}

// Accounting says where every source call row of a run went, and what a
// scheduler must hear about: N of M is exact, business-data rows without a
// call are not call rows. It is computed in one place, RunRecord.Accounting;
// its JSON form is the report's.
type Accounting struct {
	RunID          string `json:"run_id"`
	SourceRows     int    `json:"source_rows"`      // call rows read, and counted by the database
	InLedger       int    `json:"in_ledger"`        // with a ledger state
	UnreadableNoID int    `json:"unreadable_no_id"` // bad rows whose id could not be read
	Duplicates     int    `json:"duplicates"`       // seen at another site too, imported once
	Counted        int    `json:"counted"`          // filtered in the database, counted there
	Accounted      int    `json:"accounted"`        // the four above
	Unexplained    int    `json:"unexplained"`      // SourceRows - Accounted; must be 0
	// BDWithoutCall counts business-data rows whose call is not in the
	// source: never call rows, so on a line of their own.
	BDWithoutCall        int      `json:"bd_without_call"`
	BDWithoutCallSamples []string `json:"bd_without_call_samples"`
	// Failed counts the rows that ended failed: agents and calls (bad rows
	// with an id included) and calls the database counted as failed.
	// Together with UnreadableNoID and BDWithoutCall it is what needs
	// attention (Problems).
	Failed int `json:"-"`
}

// Accounting computes the run's accounting and problems: the only place
// that does.
func (s *RunRecord) Accounting() Accounting {
	a := Accounting{RunID: s.RunID, SourceRows: s.SourceRows, UnreadableNoID: s.BadNoID, Duplicates: s.DuplicateSeen,
		BDWithoutCall: s.BDWithoutCall, BDWithoutCallSamples: s.BDWithoutCallSamples, Counted: s.CountedRows()}
	if a.BDWithoutCallSamples == nil {
		a.BDWithoutCallSamples = []string{}
	}
	for _, n := range s.Calls.By {
		a.InLedger += n
	}
	// SourceRows are the rows read; those the database filtered are rows
	// of the source too, accounted by their count.
	a.SourceRows += a.Counted
	a.Accounted = a.InLedger + a.UnreadableNoID + a.Duplicates + a.Counted
	a.Unexplained = a.SourceRows - a.Accounted
	counted := Tally{By: s.Counted}
	a.Failed = s.Agents.Count(connector.StateFailed) + s.Calls.Count(connector.StateFailed) + counted.Count(connector.StateFailed)
	return a
}

// Problems counts what a scheduler must hear about: rows that ended failed
// (agents and calls, bad rows with an id included), rows that could not be
// read at all (no id, so no ledger row) and business-data rows without a
// call. A run is clean only when all three are 0: every row imported or
// excluded by a rule.
func (s *RunRecord) Problems() (failed, unreadable, bdWithoutCall int) {
	a := s.Accounting()
	return a.Failed, a.UnreadableNoID, a.BDWithoutCall
}

// Clean reports whether every row was imported or excluded by a rule.
func (s *RunRecord) Clean() bool {
	f, u, o := s.Problems()
	return f+u+o == 0
}

// CallsPerSecond is the run's throughput over the source's call rows.
func (s *RunRecord) CallsPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.SourceRows) / s.Elapsed.Seconds()
}

// Ended is when the run finished.
func (s *RunRecord) Ended() time.Time { return s.Started.Add(s.Elapsed) }

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
