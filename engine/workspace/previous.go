package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/state"
)

// SentCopy is what the last run that sent a call sent, read back from that
// run's staged copy: the ledger keeps only a fingerprint of what was sent,
// the staging area keeps the values (for the staging retention).
type SentCopy struct {
	// The call's ledger row: the run that last changed it and its state.
	RunID, State, Reason string
	// SentBy is the run whose staged copy Call comes from (RunID unless the
	// ledger's last word on the call was no send).
	SentBy   string
	StagedAt time.Time
	Call     *connector.OutCall // nil when no copy remains
	Fields   []dsl.Field        // what Call.Values[i].Field indexes
	// Missing says why Call is nil, for people.
	Missing string
}

// errFound stops reading a staged copy once the call is found.
var errFound = errors.New("found")

// PreviousSent finds the values a call was last sent with. The ledger names
// the run that last changed the call; when that run sent it, its staged copy
// holds the values. When it did not (the call is excluded or failed now),
// earlier staged copies are searched, newest first, up to the first one that
// is gone. When no copy remains (purged, pruned past the retention, or never
// sent), Call is nil and Missing says which. The state is opened read-only.
func (w *Workspace) PreviousSent(ctx context.Context, callID string) (*SentCopy, error) {
	res := &SentCopy{}
	if !w.State.Exists() {
		res.Missing = "no state yet: no run has sent anything"
		return res, nil
	}
	if w.Registry.Staging == nil {
		return nil, errors.New("no staging connector in this build")
	}
	st, err := w.Drivers.OpenReadOnly(ctx, w.State)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	rows, _, err := st.LedgerRows(ctx, state.LedgerQuery{Entity: "call", ID: callID, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		res.Missing = "not in the ledger: no run has read this call, so none sent it"
		return res, nil
	}
	res.RunID, res.State, res.Reason = rows[0].RunID, rows[0].State, rows[0].Reason
	staged, err := st.Staging(ctx)
	if err != nil {
		return nil, err
	}
	history, err := st.Runs(ctx)
	if err != nil {
		return nil, err
	}
	// The candidates: the ledger's run, then the runs staged before it,
	// newest first.
	last := time.Time{}
	for _, r := range history {
		if r.RunID == res.RunID {
			last = r.Started
		}
	}
	// A run that excluded the call, or could not read it, did not send it:
	// its copy is not searched. One whose send the sink refused did (its
	// copy holds what it tried to send).
	sentByLast := res.State == connector.StateImported || (res.State == connector.StateFailed && res.Reason != connector.ReasonBadRow)
	var cands []state.StagedRun
	for i := len(staged) - 1; i >= 0; i-- {
		s := staged[i]
		switch {
		case s.RunID == res.RunID:
			if sentByLast {
				cands = append(cands, s)
			}
		case !last.IsZero() && s.Created.Before(last):
			cands = append(cands, s)
		}
	}
	if res.State == connector.StateImported && (len(cands) == 0 || cands[0].RunID != res.RunID) {
		res.Missing = fmt.Sprintf("run %s sent this call but kept no staged copy", res.RunID)
		return res, nil
	}
	if len(cands) == 0 {
		res.Missing = fmt.Sprintf("run %s left this call %s; no earlier staged copy remains", res.RunID, stateReason(res.State, res.Reason))
		return res, nil
	}
	for _, s := range cands {
		if s.PurgedAt != nil {
			res.Missing = fmt.Sprintf("run %s's staged copy is gone: %s", s.RunID, w.whyPurged(history, s))
			return res, nil
		}
		path := w.stagedPath(s)
		if _, err := os.Stat(path); err != nil {
			res.Missing = fmt.Sprintf("run %s's staged copy is missing (%s)", s.RunID, path)
			return res, nil
		}
		call, fields, err := w.readStaged(path, callID)
		if err != nil {
			return nil, fmt.Errorf("run %s's staged copy: %w", s.RunID, err)
		}
		if call != nil {
			res.SentBy, res.StagedAt, res.Call, res.Fields = s.RunID, s.Created.UTC(), call, fields
			return res, nil
		}
		if ev := purgedCall(history, callID); ev != "" {
			res.Missing = fmt.Sprintf("removed from run %s's staged copy by %s", s.RunID, ev)
			return res, nil
		}
		if res.State == connector.StateImported {
			res.Missing = fmt.Sprintf("run %s's staged copy does not hold this call", s.RunID)
			return res, nil
		}
	}
	res.Missing = fmt.Sprintf("run %s left this call %s and no staged copy holds an earlier send", res.RunID, stateReason(res.State, res.Reason))
	return res, nil
}

// stagedPath is where a staged run's folder is. The index keeps the path
// as the run was given it, relative to the working directory of that run
// when the spec folder was named relatively: such a path is found again
// under this workspace's staging folder, by its run's folder name.
func (w *Workspace) stagedPath(s state.StagedRun) string {
	if filepath.IsAbs(s.Path) {
		return s.Path
	}
	if _, err := os.Stat(s.Path); err == nil {
		return s.Path
	}
	return filepath.Join(w.Paths.Staging, filepath.Base(s.Path))
}

// readStaged reads one call from a staged copy. A business-data field the
// spec no longer has is added to the fields rather than refused: the copy
// is shown, not resent.
func (w *Workspace) readStaged(dir, callID string) (*connector.OutCall, []dsl.Field, error) {
	var fields []dsl.Field
	if w.Plan != nil {
		fields = slices.Clone(w.Plan.Fields)
	}
	for range 64 { // at most 50 fields a call: bounded
		var found *connector.OutCall
		err := w.Registry.Staging.Read(dir, fields, func(id string) bool { return id == callID }, func(r connector.StagedRow) error {
			if r.Call == nil {
				return nil
			}
			c := *r.Call // valid only during the callback: copy it
			c.Values = make([]connector.Value, len(r.Call.Values))
			for i, v := range r.Call.Values {
				v.Text = slices.Clone(v.Text)
				c.Values[i] = v
			}
			found = &c
			return errFound
		})
		var unknown *connector.UnknownFieldError
		switch {
		case err == nil || errors.Is(err, errFound):
			return found, fields, nil
		case errors.As(err, &unknown):
			fields = append(fields, dsl.Field{Type: unknown.Type, Name: unknown.Name})
		default:
			return nil, nil, err
		}
	}
	return nil, nil, errors.New("too many fields the spec no longer has")
}

// whyPurged says how a staged run was deleted: by `applink purge` (recorded
// in the history) or by the retention.
func (w *Workspace) whyPurged(history []state.RunRecord, s state.StagedRun) string {
	when := s.PurgedAt.UTC().Format(time.RFC3339)
	for _, r := range history {
		if r.Kind != "purge" {
			continue
		}
		if r.Event != nil && slices.Contains(r.Event.Runs, s.RunID) {
			return "deleted by applink purge on " + when
		}
	}
	days := DefaultRetentionDays
	if w.Plan != nil {
		days = w.RetentionDays()
	}
	return fmt.Sprintf("pruned on %s (staged copies are kept %d days)", when, days)
}

// purgedCall names the `purge --calls` that removed a call, if one did.
func purgedCall(history []state.RunRecord, callID string) string {
	for _, r := range history {
		if r.Kind != "purge" {
			continue
		}
		if r.Event != nil && slices.Contains(r.Event.CallIDs, callID) {
			return "applink purge --calls on " + r.Started.UTC().Format(time.RFC3339)
		}
	}
	return ""
}

func stateReason(st, reason string) string {
	if reason == "" {
		return st
	}
	return st + " (" + reason + ")"
}
