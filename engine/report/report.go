package report

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/state"
)

// State is what a report reads from a spec's state: the run history, the
// ledger's counts and rows, and the staging index. Every state.Backend
// implements it.
type State interface {
	// Runs lists the run history (runs, restores, purges), oldest first.
	Runs(ctx context.Context) ([]state.RunRecord, error)
	// LedgerCounts counts the ledger by entity, state and reason; with a
	// run id, only the rows that run set and no later run changed.
	LedgerCounts(ctx context.Context, runID string) ([]state.LedgerCount, error)
	// LedgerRows returns the first q.Limit rows matching q in (entity, id)
	// order and how many match in all.
	LedgerRows(ctx context.Context, q state.LedgerQuery) ([]state.LedgerRow, int, error)
	// Staging lists the staging index, oldest first.
	Staging(ctx context.Context) ([]state.StagedRun, error)
}

// queueState is implemented by a state with a delivery queue.
type queueState interface {
	Queue(ctx context.Context) (state.QueueStats, error)
}

// Options say what to report.
type Options struct {
	RunID string // "" the whole ledger and every run; else that run only
	// Plan names the customer, tenant and window; nil when the spec no
	// longer compiles, and PlanError says why.
	Plan      *engine.Plan
	PlanError string
	StatePath string    // shown to say what was read
	Now       time.Time // when the report is made; default time.Now
}

// Limits of the lists a report prints in full; counts are always complete.
const (
	maxExamples = 3
	maxFailures = 100
	maxBadRows  = 20 // as many as a run's summary keeps (engine's maxSamples)
)

// Report is everything a report shows, in the order it shows it. Its JSON
// form is `applink report --format json`.
type Report struct {
	Generated time.Time `json:"generated"`
	StatePath string    `json:"state"`
	// Plan is nil when the spec no longer compiles; PlanUnavailable says why.
	Plan            *PlanInfo `json:"plan"`
	PlanUnavailable string    `json:"plan_unavailable,omitempty"`
	// Scope is "ledger" (everything, the default) or "run" (RunID only).
	Scope string `json:"scope"`
	RunID string `json:"run_id,omitempty"`

	Agents Section `json:"agents"` // the ledger's agents (scope run: what the run read)
	Calls  Section `json:"calls"`

	// Accounting is of the latest run (it read the whole source) or of the
	// run asked for; nil before any run.
	Accounting *Accounting `json:"accounting"`
	// Findings are that run's findings on the spec (a bd name no row
	// carries, a field empty on every imported call): warnings.
	Findings []engine.Finding `json:"findings"`
	// Delivered is what that run's sink said it delivered (CXone: agents,
	// calls, media files, business data); empty for the outbox.
	Delivered []connector.Delivered `json:"delivered"`
	// Counted are the calls of that run its sources filtered inside the
	// database (the window or tenant pushed into SQL): never read, so in no
	// ledger, but counted per reason.
	Counted  []Line    `json:"counted"`
	Omitted  []Omitted `json:"field_omitted"` // values left out (on_error = omit), by field
	BadRows  BadRows   `json:"bad_rows"`
	Failures Failures  `json:"failures"`
	PerDay   PerDay    `json:"imported_by_day"`
	Drift    []Drift   `json:"drift"`

	// Queue is the delivery queue (PostgreSQL state with workers); nil
	// when nothing waits.
	Queue *state.QueueStats `json:"queue,omitempty"`

	Runs    []RunLine    `json:"runs"`
	Staging []StagedLine `json:"staging"`
	// RetentionDays is how long staged runs are kept (the plan's, or the
	// default when the plan is unavailable).
	RetentionDays int `json:"retention_days"`
}

// PlanInfo is what the report says about the plan.
type PlanInfo struct {
	Customer            string     `json:"customer"`
	CXoneTenant         string     `json:"cxone_tenant"`
	WindowFrom          time.Time  `json:"window_from"`
	InstalledAt         time.Time  `json:"installed_at"`
	BackfillRequestedAt *time.Time `json:"backfill_requested_at,omitempty"`
	BackfillDays        int        `json:"backfill_days,omitempty"`
	PlanHash            string     `json:"plan_hash"`
	Sink                string     `json:"sink"` // "outbox" or the sink block's kind and URL
}

// Section counts one entity by state and reason.
type Section struct {
	Total    int    `json:"total"`
	Imported int    `json:"imported"`
	Queued   int    `json:"queued,omitempty"` // waiting for a delivery worker (PostgreSQL state)
	Excluded int    `json:"excluded"`
	Failed   int    `json:"failed"`
	Lines    []Line `json:"lines"`
}

// Line is one state and reason with its count, what it means and, for
// exclusions, a few example ids.
type Line struct {
	State    string   `json:"state"`
	Reason   string   `json:"reason"`
	N        int      `json:"n"`
	Explain  string   `json:"explain"`
	Examples []string `json:"examples,omitempty"`
}

// Accounting says where every source call row of a run went: the run
// record's own (engine.RunRecord.Accounting), not computed here.
type Accounting = engine.Accounting

// Omitted is a field whose value was left out of some imported calls
// (on_error = "omit"), with the first reasons.
type Omitted struct {
	Field   string   `json:"field"`
	N       int      `json:"n"`
	Samples []string `json:"samples"`
}

// BadRows are the source rows a run could not read, with file:line.
type BadRows struct {
	RunID   string   `json:"run_id"`
	Total   int      `json:"total"`
	NoID    int      `json:"no_id"`   // without a readable id: counted, not in the ledger
	Samples []string `json:"samples"` // the first ones, "file:line: id: error"
}

// Failures are failed ledger rows other than bad source rows: what a sink
// refused.
type Failures struct {
	Total int       `json:"total"`
	Rows  []Failure `json:"rows"` // the first maxFailures, by reason then id
}

// Failure is one failed row.
type Failure struct {
	Entity string `json:"entity"`
	ID     string `json:"id"`
	Reason string `json:"reason"`
	Detail string `json:"detail"`
	RunID  string `json:"run_id"`
}

// PerDay is the calls imported per start date (UTC) as one run read them.
type PerDay struct {
	RunID string     `json:"run_id"`
	Days  []DayCount `json:"days"`
	Total int        `json:"total"`
	// Refused counts calls of the run the sink refused after accepting
	// them: still in their day (the sink reports ids, not dates).
	Refused int `json:"refused"`
	// Recorded is false for a run made by an applink that did not count
	// calls per day.
	Recorded bool `json:"recorded"`
}

// DayCount is one day of PerDay.
type DayCount struct {
	Day string `json:"day"` // 2006-01-02
	N   int    `json:"n"`
}

// Drift is an agent change in Engage that is acted on by hand.
type Drift struct {
	UserID string `json:"user_id"`
	Change string `json:"change"`
}

// RunLine is one entry of the run history.
type RunLine struct {
	RunID   string    `json:"run_id"`
	Kind    string    `json:"kind"` // run | restore | purge
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
	// Of a run:
	SourceRows int `json:"source_rows,omitempty"`
	Imported   int `json:"imported_calls,omitempty"`
	Queued     int `json:"queued_calls,omitempty"` // handed to the delivery workers (PostgreSQL state)
	// Delivery says where the calls the run queued are now; nil when it
	// queued none.
	Delivery      *engine.Delivery `json:"delivery,omitempty"`
	Excluded      int              `json:"excluded_calls,omitempty"`
	Failed        int              `json:"failed_calls,omitempty"`
	SentAgents    int              `json:"sent_agents"`
	SentCalls     int              `json:"sent_calls"`
	BadRows       int              `json:"bad_rows,omitempty"`
	BDWithoutCall int              `json:"bd_without_call,omitempty"`
	Unexplained   int              `json:"unexplained,omitempty"`
	// Of a restore or a purge, for people.
	Detail string `json:"detail,omitempty"`
}

// StagedLine is one run's staged copy.
type StagedLine struct {
	RunID     string     `json:"run_id"`
	Created   time.Time  `json:"created"`
	Calls     int64      `json:"calls"`
	Agents    int64      `json:"agents"`
	PurgedAt  *time.Time `json:"purged_at,omitempty"`
	KeptUntil time.Time  `json:"kept_until"`
}

// Build reads the state and makes the report.
func Build(ctx context.Context, st State, opts Options) (*Report, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	r := &Report{Generated: now.UTC(), StatePath: opts.StatePath, Scope: "ledger", RetentionDays: state.DefaultRetentionDays, Findings: []engine.Finding{}, Delivered: []connector.Delivered{}}
	if p := opts.Plan; p != nil {
		r.Plan = planInfo(p)
		if p.Staging.RetentionDays > 0 {
			r.RetentionDays = p.Staging.RetentionDays
		}
	} else {
		r.PlanUnavailable = opts.PlanError
		if r.PlanUnavailable == "" {
			r.PlanUnavailable = "no plan given"
		}
	}
	runs, err := st.Runs(ctx)
	if err != nil {
		return nil, err
	}
	if qs, ok := st.(queueState); ok {
		q, err := qs.Queue(ctx)
		if err != nil {
			return nil, err
		}
		if q != (state.QueueStats{}) {
			r.Queue = &q
		}
	}
	recs := map[string]*engine.RunRecord{}
	var latest *state.RunRecord // the latest run (not restore or purge)
	for i := range runs {
		rec := &runs[i]
		line := RunLine{RunID: rec.RunID, Kind: rec.Kind, Started: rec.Started.UTC(), Ended: rec.Ended.UTC()}
		if rec.Kind == "run" {
			if rec.Record == nil {
				return nil, fmt.Errorf("report: run %s: no record in the history", rec.RunID)
			}
			recs[rec.RunID] = rec.Record
			fillRunLine(&line, rec.Record)
			latest = rec
		} else {
			line.Detail = eventDetail(rec)
		}
		r.Runs = append(r.Runs, line)
	}

	var run *state.RunRecord // the run the accounting is of
	if opts.RunID != "" {
		for i := range runs {
			if runs[i].RunID == opts.RunID {
				run = &runs[i]
			}
		}
		if run == nil {
			return nil, fmt.Errorf("report: no run %q in the state; %s", opts.RunID, knownRuns(runs))
		}
		if run.Kind != "run" {
			return nil, fmt.Errorf("report: %s is a %s, not a run: the history line says what it did", run.RunID, run.Kind)
		}
		r.Scope, r.RunID = "run", run.RunID
		r.Runs = []RunLine{r.Runs[indexOf(runs, run.RunID)]}
	} else {
		run = latest
	}

	// Counts: the ledger's, or what the run read.
	if r.Scope == "ledger" {
		counts, err := st.LedgerCounts(ctx, "")
		if err != nil {
			return nil, err
		}
		r.Agents, r.Calls = sections(counts)
	} else {
		s := recs[run.RunID]
		r.Agents, r.Calls = fromTally("agent", &s.Agents), fromTally("call", &s.Calls)
	}
	exampleRun := ""
	if r.Scope == "run" {
		exampleRun = run.RunID
	}
	for _, sec := range []struct {
		entity string
		s      *Section
	}{{"agent", &r.Agents}, {"call", &r.Calls}} {
		for i := range sec.s.Lines {
			l := &sec.s.Lines[i]
			if l.State != connector.StateExcluded {
				continue
			}
			rows, _, err := st.LedgerRows(ctx, state.LedgerQuery{Entity: sec.entity, State: l.State, Reason: l.Reason, RunID: exampleRun, Limit: maxExamples})
			if err != nil {
				return nil, err
			}
			for _, row := range rows {
				l.Examples = append(l.Examples, row.ID)
			}
		}
	}

	if run != nil {
		s := recs[run.RunID]
		a := s.Accounting()
		a.RunID = run.RunID
		r.Accounting = &a
		if s.Findings != nil {
			r.Findings = s.Findings
		}
		if s.Delivered != nil {
			r.Delivered = s.Delivered
		}
		r.BadRows = BadRows{RunID: run.RunID, Total: s.BadRows, NoID: s.BadNoID, Samples: nonNil(s.BadRowSamples)}
		r.Counted = fromTally("call", &engine.Tally{By: s.Counted}).Lines
		r.Omitted = omitted(s)
		r.PerDay = perDay(run.RunID, s)
		for _, d := range s.AgentDiff.Drift {
			r.Drift = append(r.Drift, Drift{UserID: d.UserID, Change: d.Change})
		}
		sort.Slice(r.Drift, func(i, j int) bool { return r.Drift[i].UserID < r.Drift[j].UserID })
	}
	if r.Failures, err = failures(ctx, st, r.RunID); err != nil {
		return nil, err
	}

	staged, err := st.Staging(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range staged {
		if r.Scope == "run" && s.RunID != r.RunID {
			continue
		}
		r.Staging = append(r.Staging, StagedLine{RunID: s.RunID, Created: s.Created.UTC(), Calls: s.Calls, Agents: s.Agents,
			PurgedAt: utcPtr(s.PurgedAt), KeptUntil: s.Created.UTC().AddDate(0, 0, r.RetentionDays)})
	}
	if r.Runs == nil {
		r.Runs = []RunLine{}
	}
	if r.Counted == nil {
		r.Counted = []Line{}
	}
	if r.Omitted == nil {
		r.Omitted = []Omitted{}
	}
	if r.Drift == nil {
		r.Drift = []Drift{}
	}
	if r.Staging == nil {
		r.Staging = []StagedLine{}
	}
	return r, nil
}

func planInfo(p *engine.Plan) *PlanInfo {
	pi := &PlanInfo{Customer: p.Customer, CXoneTenant: p.CXoneTenant, WindowFrom: p.Window.From.UTC(),
		InstalledAt: p.Window.InstalledAt.UTC(), PlanHash: p.Hash(), Sink: "outbox"}
	if !p.Window.BackfillRequestedAt.IsZero() {
		t := p.Window.BackfillRequestedAt.UTC()
		pi.BackfillRequestedAt, pi.BackfillDays = &t, p.Window.BackfillDays
	}
	if s := p.Sink; s != nil && s.Kind != "" {
		pi.Sink = s.Kind
		if s.APIURL != "" {
			pi.Sink += " " + s.APIURL
		}
	}
	return pi
}

// sections splits ledger counts into agents and calls.
func sections(counts []state.LedgerCount) (agents, calls Section) {
	for _, c := range counts {
		s := &calls
		if c.Entity == "agent" {
			s = &agents
		}
		s.add(c.Entity, c.State, c.Reason, c.N)
	}
	agents.sort()
	calls.sort()
	return agents, calls
}

// fromTally is a section from a run record's tally.
func fromTally(entity string, t *engine.Tally) Section {
	var s Section
	for _, e := range t.Sorted() {
		s.add(entity, e.State, e.Reason, e.N)
	}
	s.sort()
	return s
}

func (s *Section) add(entity, st, reason string, n int) {
	s.Total += n
	switch st {
	case connector.StateImported:
		s.Imported += n
	case connector.StateQueued:
		s.Queued += n
	case connector.StateExcluded:
		s.Excluded += n
	case connector.StateFailed:
		s.Failed += n
	}
	s.Lines = append(s.Lines, Line{State: st, Reason: reason, N: n, Explain: engine.ExplainReason(entity, st, reason)})
}

// sort orders lines imported, excluded, failed, then most rows first.
func (s *Section) sort() {
	sort.SliceStable(s.Lines, func(i, j int) bool {
		a, b := s.Lines[i], s.Lines[j]
		if a.State != b.State {
			return engine.StateOrder(a.State) < engine.StateOrder(b.State)
		}
		if a.N != b.N {
			return a.N > b.N
		}
		return a.Reason < b.Reason
	})
	if s.Lines == nil {
		s.Lines = []Line{}
	}
}

// omitted lists the fields with values left out, most first.
func omitted(s *engine.RunRecord) []Omitted {
	var out []Omitted
	for f, n := range s.FieldOmitted {
		out = append(out, Omitted{Field: f, N: n, Samples: nonNil(s.FieldOmittedSamples[f])})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].N != out[j].N {
			return out[i].N > out[j].N
		}
		return out[i].Field < out[j].Field
	})
	return out
}

func fillRunLine(l *RunLine, s *engine.RunRecord) {
	l.SourceRows = s.SourceRows
	l.Imported, l.Queued = s.Calls.Count(connector.StateImported), s.Calls.Count(connector.StateQueued)
	l.Excluded, l.Failed = s.Calls.Count(connector.StateExcluded), s.Calls.Count(connector.StateFailed)
	l.SentAgents, l.SentCalls = s.Sent.Agents, s.Sent.Calls
	l.BadRows, l.BDWithoutCall = s.BadRows, s.BDWithoutCall
	l.Unexplained = s.Accounting().Unexplained
	if s.Delivery.Queued > 0 {
		d := s.Delivery
		l.Delivery = &d
	}
}

// eventDetail says what a restore or a purge did, from its history line.
func eventDetail(rec *state.RunRecord) string {
	d := rec.Event
	if d == nil {
		return ""
	}
	switch rec.Kind {
	case engine.EventFailed:
		return "did not commit: " + d.Error
	case "restore":
		s := fmt.Sprintf("resent run %s: %d agents, %d calls", d.FromRun, d.Agents, d.Calls)
		if len(d.Missing) > 0 {
			s += fmt.Sprintf("; %d asked for but not staged", len(d.Missing))
		}
		if len(d.Failed) > 0 {
			s += fmt.Sprintf("; %d refused by the sink", len(d.Failed))
		}
		return s
	case "purge":
		switch {
		case d.All:
			return fmt.Sprintf("deleted all staged data (%s)", plural(len(d.Runs), "run"))
		case !d.Before.IsZero():
			return fmt.Sprintf("deleted the data staged before %s (%s)", d.Before.UTC().Format(time.RFC3339), plural(len(d.Runs), "run"))
		default:
			return fmt.Sprintf("deleted %s from the staged data (%s)", plural(len(d.CallIDs), "call"), plural(d.RemovedRows, "row"))
		}
	}
	return ""
}

func perDay(runID string, s *engine.RunRecord) PerDay {
	p := PerDay{RunID: runID, Recorded: s.ImportedByDay != nil, Days: []DayCount{}}
	for d, n := range s.ImportedByDay {
		p.Days = append(p.Days, DayCount{Day: d, N: n})
		p.Total += n
	}
	for _, f := range s.Failed {
		if f.Entity == "call" {
			p.Refused++
		}
	}
	sort.Slice(p.Days, func(i, j int) bool { return p.Days[i].Day < p.Days[j].Day })
	return p
}

// failures lists the failed rows that are no bad source row (those are
// listed with their file:line as bad rows): what a sink refused.
func failures(ctx context.Context, st State, runID string) (Failures, error) {
	f := Failures{Rows: []Failure{}}
	counts, err := st.LedgerCounts(ctx, runID)
	if err != nil {
		return f, err
	}
	for _, c := range counts {
		if c.State != connector.StateFailed || c.Reason == connector.ReasonBadRow {
			continue
		}
		f.Total += c.N
		if len(f.Rows) >= maxFailures {
			continue
		}
		rows, _, err := st.LedgerRows(ctx, state.LedgerQuery{Entity: c.Entity, State: c.State, Reason: c.Reason, RunID: runID, Limit: maxFailures - len(f.Rows)})
		if err != nil {
			return f, err
		}
		for _, r := range rows {
			f.Rows = append(f.Rows, Failure{Entity: r.Entity, ID: r.ID, Reason: r.Reason, Detail: r.Detail, RunID: r.RunID})
		}
	}
	return f, nil
}

func indexOf(runs []state.RunRecord, id string) int {
	for i := range runs {
		if runs[i].RunID == id {
			return i
		}
	}
	return -1
}

func knownRuns(runs []state.RunRecord) string {
	var ids []string
	for _, r := range runs {
		if r.Kind == "run" {
			ids = append(ids, r.RunID)
		}
	}
	if len(ids) == 0 {
		return "no run is recorded yet"
	}
	if len(ids) > 10 {
		return "the latest runs: " + strings.Join(ids[len(ids)-10:], ", ")
	}
	return "runs: " + strings.Join(ids, ", ")
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
