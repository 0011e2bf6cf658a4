package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/applink-dev/applink/engine/connector"
)

// RecordVersion is the version of the stored form of RunRecord and
// EventRecord that this build writes.
//
//   - 0: the summary as a JSON map, before the record had a version: no
//     "version", "started", "watermarks", "warn_samples" nor "delivery";
//     a run with a delivery queue had its calls' tally rewritten from
//     imported to queued after the run.
//   - 1: "version", "started", "watermarks", "warn_samples" and "delivery"
//     added; the run counts queued calls itself. Every field of version 0
//     keeps its name and meaning, so `applink run --format json` only grew.
const RecordVersion = 1

// recordJSON is RunRecord's stored form, also what `applink run --format
// json` prints: one place decides its field names.
type recordJSON struct {
	Version        int                         `json:"version"`
	RunID          string                      `json:"run_id"`
	PlanHash       string                      `json:"plan_hash"`
	Started        *time.Time                  `json:"started,omitempty"`
	ElapsedMS      int64                       `json:"elapsed_ms"`
	Ended          string                      `json:"ended"` // RFC 3339, seconds
	Agents         stateReasonCounts           `json:"agents"`
	Calls          stateReasonCounts           `json:"calls"`
	Counted        stateReasonCounts           `json:"counted"`
	SourceRows     int                         `json:"source_rows"`
	ImportedByDay  map[string]int              `json:"imported_by_day"`
	BDWithoutCall  int                         `json:"bd_without_call"`
	BDSamples      []string                    `json:"bd_without_call_samples"`
	BadRows        int                         `json:"bad_rows"`
	BadNoID        int                         `json:"bad_no_id"`
	BadSamples     []string                    `json:"bad_samples"`
	Warnings       int                         `json:"warnings"`
	WarnSamples    []string                    `json:"warn_samples,omitempty"`
	FieldOmitted   map[string]int              `json:"field_omitted"`
	OmitSamples    map[string][]string         `json:"field_omitted_samples"`
	DuplicatesSeen int                         `json:"duplicates_seen"`
	AgentDiff      Diff                        `json:"agent_diff"`
	CallDiff       Diff                        `json:"call_diff"`
	Removed        struct{ Agents, Calls int } `json:"removed"`
	Sent           struct{ Agents, Calls int } `json:"sent"`
	Failed         []connector.LedgerRow       `json:"failed"`
	Findings       []Finding                   `json:"findings,omitempty"`
	Delivered      []connector.Delivered       `json:"delivered,omitempty"`
	// Problems is derived (RunRecord.Problems): written for those who read
	// the JSON, never read back.
	Problems       problemsJSON             `json:"problems"`
	NewestImported *time.Time               `json:"newest_imported,omitempty"`
	Watermarks     map[string]watermarkJSON `json:"watermarks,omitempty"`
	Delivery       *Delivery                `json:"delivery,omitempty"`
}

type problemsJSON struct {
	Failed        int `json:"failed"`
	Unreadable    int `json:"unreadable"`
	BDWithoutCall int `json:"bd_without_call"`
}

type watermarkJSON struct {
	StartTime time.Time `json:"start_time"`
	CallID    string    `json:"call_id"`
}

// stateReasonCounts is a tally as stored: "state/reason" -> rows.
type stateReasonCounts map[string]int

func countsOf(m map[connector.StateReason]int) stateReasonCounts {
	out := stateReasonCounts{}
	for k, v := range m {
		out[k.State+"/"+k.Reason] = v
	}
	return out
}

func (c stateReasonCounts) tally() Tally {
	t := Tally{By: map[connector.StateReason]int{}}
	for k, n := range c {
		st, reason, _ := strings.Cut(k, "/")
		t.By[connector.StateReason{State: st, Reason: reason}] += n
		t.Total += n
	}
	return t
}

// MarshalJSON is the record's stored form (RecordVersion).
func (s *RunRecord) MarshalJSON() ([]byte, error) {
	a := s.Accounting()
	started := s.Started.UTC()
	j := recordJSON{
		Version: RecordVersion, RunID: s.RunID, PlanHash: s.PlanHash, Started: &started, ElapsedMS: s.Elapsed.Milliseconds(),
		Ended:  s.Ended().UTC().Format(time.RFC3339),
		Agents: countsOf(s.Agents.By), Calls: countsOf(s.Calls.By), Counted: countsOf(s.Counted),
		SourceRows: s.SourceRows, ImportedByDay: s.ImportedByDay, BDWithoutCall: s.BDWithoutCall, BDSamples: s.BDWithoutCallSamples,
		BadRows: s.BadRows, BadNoID: s.BadNoID, BadSamples: s.BadRowSamples, Warnings: s.Warnings, WarnSamples: s.WarnSamples,
		FieldOmitted: s.FieldOmitted, OmitSamples: s.FieldOmittedSamples, DuplicatesSeen: s.DuplicateSeen,
		AgentDiff: s.AgentDiff, CallDiff: s.CallDiff, Removed: s.Removed, Sent: s.Sent, Failed: s.Failed,
		Findings: s.Findings, Delivered: s.Delivered,
		Problems: problemsJSON{Failed: a.Failed, Unreadable: a.UnreadableNoID, BDWithoutCall: a.BDWithoutCall},
	}
	if !s.NewestImported.IsZero() {
		t := s.NewestImported.UTC()
		j.NewestImported = &t
	}
	if len(s.Watermarks) > 0 {
		j.Watermarks = make(map[string]watermarkJSON, len(s.Watermarks))
		for src, wm := range s.Watermarks {
			j.Watermarks[src] = watermarkJSON{StartTime: wm.StartTime.UTC(), CallID: wm.CallID}
		}
	}
	if s.Delivery != (Delivery{}) {
		d := s.Delivery
		j.Delivery = &d
	}
	return json.Marshal(j)
}

// JSON is the record's stored form as a map, for a caller that adds keys
// of its own (`applink run --format json` adds where it sent and the state).
func (s *RunRecord) JSON() map[string]any {
	b, err := s.MarshalJSON()
	if err != nil {
		panic(err) // a record of plain values always encodes
	}
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber() // counts stay integers when printed again
	if err := d.Decode(&m); err != nil {
		panic(err)
	}
	return m
}

// DecodeRunRecord reads a run record in any stored form, converting older
// ones to the current: the one converter. started is when the run history
// says the run began (its own column), which a version 0 record does not
// hold itself.
func DecodeRunRecord(b []byte, started time.Time) (*RunRecord, error) {
	var j recordJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("run record: %w", err)
	}
	if j.Version > RecordVersion {
		return nil, fmt.Errorf("run record version %d is newer than this applink's (%d): upgrade applink", j.Version, RecordVersion)
	}
	s := &RunRecord{
		Version: RecordVersion, RunID: j.RunID, PlanHash: j.PlanHash, Elapsed: time.Duration(j.ElapsedMS) * time.Millisecond,
		Agents: j.Agents.tally(), Calls: j.Calls.tally(), SourceRows: j.SourceRows, ImportedByDay: j.ImportedByDay,
		BDWithoutCall: j.BDWithoutCall, BDWithoutCallSamples: j.BDSamples, BadRows: j.BadRows, BadNoID: j.BadNoID,
		BadRowSamples: j.BadSamples, Warnings: j.Warnings, WarnSamples: j.WarnSamples, FieldOmitted: j.FieldOmitted,
		FieldOmittedSamples: j.OmitSamples, DuplicateSeen: j.DuplicatesSeen, AgentDiff: j.AgentDiff, CallDiff: j.CallDiff,
		Removed: j.Removed, Sent: j.Sent, Failed: j.Failed, Findings: j.Findings, Delivered: j.Delivered,
	}
	if len(j.Counted) > 0 {
		s.Counted = j.Counted.tally().By
	}
	if j.NewestImported != nil {
		s.NewestImported = j.NewestImported.UTC()
	}
	if len(j.Watermarks) > 0 {
		s.Watermarks = make(map[string]Watermark, len(j.Watermarks))
		for src, wm := range j.Watermarks {
			s.Watermarks[src] = Watermark{StartTime: wm.StartTime.UTC(), CallID: wm.CallID}
		}
	}
	if j.Delivery != nil {
		s.Delivery = *j.Delivery
	}
	switch j.Version {
	case 0:
		// Version 0 did not store its start (the history's column has it)
		// nor what it queued: its calls' tally had been rewritten to say
		// queued, which is the run's count.
		s.Started = started.UTC()
		s.Delivery.Queued = s.Calls.Count(connector.StateQueued)
	default:
		if j.Started != nil {
			s.Started = j.Started.UTC()
		} else {
			s.Started = started.UTC()
		}
	}
	return s, nil
}

// EventFailed is the run history's kind for a run that failed before it
// committed: its EventRecord's Error says why, secrets masked.
const EventFailed = "failed"

// EventRecord is what a restore, a purge or a failed run stored in the run
// history (the history line's kind says which).
type EventRecord struct {
	Version int
	// A restore:
	FromRun string
	Agents  int
	Calls   int
	Missing []string          // asked-for calls not in the staged run
	Failed  map[string]string // "entity id" -> why the sink refused it
	// A purge (one of CallIDs, Runs with All or Before):
	CallIDs     []string
	RemovedRows int
	Runs        []string
	All         bool
	Before      time.Time
	// A run that failed before it committed: why, secrets masked.
	Error string
}

// eventJSON is EventRecord's stored form; "calls" is a count in a restore
// and the call ids in a purge, as version 0 wrote them.
type eventJSON struct {
	Version     int               `json:"version"`
	FromRun     string            `json:"from_run,omitempty"`
	Agents      int               `json:"agents,omitempty"`
	Calls       json.RawMessage   `json:"calls,omitempty"`
	Missing     []string          `json:"missing,omitempty"`
	Failed      map[string]string `json:"failed,omitempty"`
	RemovedRows int               `json:"removed_rows,omitempty"`
	Runs        []string          `json:"runs,omitempty"`
	All         bool              `json:"all,omitempty"`
	Before      *time.Time        `json:"before,omitempty"`
	Error       string            `json:"error,omitempty"`
}

// MarshalJSON is the event's stored form (RecordVersion).
func (e *EventRecord) MarshalJSON() ([]byte, error) {
	j := eventJSON{Version: RecordVersion, FromRun: e.FromRun, Agents: e.Agents, Missing: e.Missing, Failed: e.Failed,
		RemovedRows: e.RemovedRows, Runs: e.Runs, All: e.All, Error: e.Error}
	var err error
	switch {
	case e.CallIDs != nil:
		j.Calls, err = json.Marshal(e.CallIDs)
	case e.FromRun != "":
		j.Calls, err = json.Marshal(e.Calls)
	}
	if err != nil {
		return nil, err
	}
	if !e.Before.IsZero() {
		t := e.Before.UTC()
		j.Before = &t
	}
	return json.Marshal(j)
}

// DecodeEventRecord reads a restore's or a purge's record in any stored
// form (version 0 is the same but for the version).
func DecodeEventRecord(b []byte) (*EventRecord, error) {
	var j eventJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("event record: %w", err)
	}
	if j.Version > RecordVersion {
		return nil, fmt.Errorf("event record version %d is newer than this applink's (%d): upgrade applink", j.Version, RecordVersion)
	}
	e := &EventRecord{Version: RecordVersion, FromRun: j.FromRun, Agents: j.Agents, Missing: j.Missing, Failed: j.Failed,
		RemovedRows: j.RemovedRows, Runs: j.Runs, All: j.All, Error: j.Error}
	if j.Before != nil {
		e.Before = j.Before.UTC()
	}
	if len(j.Calls) > 0 && string(j.Calls) != "null" {
		if j.Calls[0] == '[' {
			if err := json.Unmarshal(j.Calls, &e.CallIDs); err != nil {
				return nil, fmt.Errorf("event record: calls: %w", err)
			}
		} else if err := json.Unmarshal(j.Calls, &e.Calls); err != nil {
			return nil, fmt.Errorf("event record: calls: %w", err)
		}
	}
	return e, nil
}
