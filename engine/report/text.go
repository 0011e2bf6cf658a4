package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/applink-dev/applink/engine"
)

const stamp = "2006-01-02 15:04:05Z"

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for a terminal.
func (r *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	r.writeText(ew)
	return ew.err
}

func (r *Report) writeText(w io.Writer) {
	if p := r.Plan; p != nil {
		fmt.Fprintf(w, "applink report: customer %s → CXone tenant %s (sink: %s)\n", p.Customer, p.CXoneTenant, p.Sink)
		fmt.Fprintf(w, "import window: %s\n", p.WindowText())
	} else {
		fmt.Fprintf(w, "applink report: plan unavailable (%s); reported from the state alone\n", r.PlanUnavailable)
	}
	fmt.Fprintf(w, "state: %s · made %s\n", r.StatePath, r.Generated.Format(stamp))
	for _, f := range r.Findings {
		fmt.Fprintf(w, "warning: %s\n", f.Text)
	}
	fmt.Fprintln(w)

	if r.Scope == "run" {
		fmt.Fprintf(w, "run %s: what it read and the ledger rows it set\n", r.RunID)
	} else {
		fmt.Fprintln(w, "the ledger: every agent and call read so far, in its last state")
	}
	for _, part := range []struct {
		name string
		s    Section
	}{{"agents", r.Agents}, {"calls", r.Calls}} {
		if part.s.Queued > 0 {
			fmt.Fprintf(w, "%s: %d (imported %d, queued %d, excluded %d, failed %d)\n", part.name, part.s.Total, part.s.Imported, part.s.Queued, part.s.Excluded, part.s.Failed)
		} else {
			fmt.Fprintf(w, "%s: %d (imported %d, excluded %d, failed %d)\n", part.name, part.s.Total, part.s.Imported, part.s.Excluded, part.s.Failed)
		}
		for _, l := range part.s.Lines {
			fmt.Fprintf(w, "  %-9s %-22s %9d", l.State, dash(l.Reason), l.N)
			if len(l.Examples) > 0 {
				fmt.Fprintf(w, "  e.g. %s", strings.Join(l.Examples, ", "))
			}
			fmt.Fprintln(w)
		}
	}
	if len(r.Delivered) > 0 && r.Accounting != nil {
		fmt.Fprintf(w, "delivered by the sink in run %s: %s\n", r.Accounting.RunID, engine.DeliveredText(r.Delivered))
	}
	if q := r.Queue; q != nil {
		fmt.Fprintf(w, "delivery queue: %d calls queued for the workers (%d in flight, %d jobs waiting, %d retrying)\n", q.Queued, q.InFlight, q.Waiting, q.Retrying)
	}
	if len(r.Counted) > 0 {
		fmt.Fprintln(w, "calls filtered in the database, not read (counted there):")
		for _, l := range r.Counted {
			fmt.Fprintf(w, "  %-9s %-22s %9d\n", l.State, dash(l.Reason), l.N)
		}
	}
	fmt.Fprintln(w)

	if a := r.Accounting; a != nil {
		fmt.Fprintf(w, "accounted for: %d of %d source call rows; unexplained: %d\n", a.Accounted, a.SourceRows, a.Unexplained)
		fmt.Fprintf(w, "  (run %s: %d in a ledger state, %d unreadable without an id, %d read from a second site, %d counted by the database)\n",
			a.RunID, a.InLedger, a.UnreadableNoID, a.Duplicates, a.Counted)
		fmt.Fprintf(w, "business data rows without a call: %d\n", a.BDWithoutCall)
		for _, s := range a.BDWithoutCallSamples {
			fmt.Fprintf(w, "  %s\n", s)
		}
		if more := a.BDWithoutCall - len(a.BDWithoutCallSamples); more > 0 {
			fmt.Fprintf(w, "  … and %d more\n", more)
		}
	} else {
		fmt.Fprintln(w, "no run recorded yet: nothing to account for")
	}
	b := r.BadRows
	fmt.Fprintf(w, "bad source rows: %d (%d without a readable id)\n", b.Total, b.NoID)
	for _, s := range b.Samples {
		fmt.Fprintf(w, "  %s\n", s)
	}
	if more := b.Total - len(b.Samples); more > 0 {
		fmt.Fprintf(w, "  … and %d more (the first %d are kept)\n", more, len(b.Samples))
	}
	for _, o := range r.Omitted {
		fmt.Fprintf(w, "field %s: value left out of %s (on_error = omit)\n", o.Field, plural(o.N, "call"))
		for _, s := range o.Samples {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
	fmt.Fprintf(w, "failures (rows the sink refused): %d\n", r.Failures.Total)
	for _, f := range r.Failures.Rows {
		fmt.Fprintf(w, "  %s %s: %s: %s (run %s)\n", f.Entity, f.ID, f.Reason, f.Detail, f.RunID)
	}
	if more := r.Failures.Total - len(r.Failures.Rows); more > 0 {
		fmt.Fprintf(w, "  … and %d more\n", more)
	}
	for _, d := range r.Drift {
		fmt.Fprintf(w, "drift: agent %s was %s in Engage: not synced, act on it in CXone by hand\n", d.UserID, d.Change)
	}
	if r.Accounting != nil {
		p := r.PerDay
		if !p.Recorded {
			fmt.Fprintf(w, "calls imported per day: not recorded by run %s (an earlier applink)\n", p.RunID)
		} else {
			fmt.Fprintf(w, "calls imported per day (start date, UTC, as run %s read them): %d over %s\n", p.RunID, p.Total, plural(len(p.Days), "day"))
			if p.Refused > 0 {
				fmt.Fprintf(w, "  (%d of them the sink refused afterwards: see the failures)\n", p.Refused)
			}
			for _, d := range p.Days {
				fmt.Fprintf(w, "  %s %9d\n", d.Day, d.N)
			}
		}
	}

	if ex := r.Explained(); len(ex) > 0 {
		fmt.Fprintln(w, "\nwhat the reasons mean:")
		for _, e := range ex {
			fmt.Fprintf(w, "  %-5s %-22s %s\n", e.Entity, e.Reason, e.Explain)
		}
	}

	if r.Scope == "run" {
		fmt.Fprintln(w, "\nthe run:")
	} else {
		fmt.Fprintln(w, "\nruns (oldest first):")
	}
	if len(r.Runs) == 0 {
		fmt.Fprintln(w, "  none yet")
	}
	for _, l := range r.Runs {
		fmt.Fprintf(w, "  %-31s %-7s %s  %s\n", l.RunID, l.Kind, l.Started.Format(stamp), l.What())
	}
	if len(r.Staging) > 0 {
		fmt.Fprintf(w, "\nstaged copies (kept %d days):\n", r.RetentionDays)
		for _, s := range r.Staging {
			fmt.Fprintf(w, "  %-31s %d calls, %d agents  %s\n", s.RunID, s.Calls, s.Agents, s.Status())
		}
	}
}

// WindowText says the import window in words.
func (p *PlanInfo) WindowText() string {
	s := "calls that started on or after " + p.WindowFrom.Format(time.RFC3339)
	if p.BackfillRequestedAt == nil {
		return s + " (installed " + p.InstalledAt.Format(time.RFC3339) + "; no backfill)"
	}
	return fmt.Sprintf("%s (installed %s; backfill of %d days requested %s)", s, p.InstalledAt.Format(time.RFC3339),
		p.BackfillDays, p.BackfillRequestedAt.Format(time.RFC3339))
}

// What says what a history line did.
func (l RunLine) What() string {
	if l.Kind != "run" {
		return l.Detail
	}
	sent := fmt.Sprintf("sent %d agents, %d calls", l.SentAgents, l.SentCalls)
	if l.SentAgents+l.SentCalls == 0 {
		sent = "sent nothing (nothing new or changed)"
	}
	queued := ""
	if l.Queued > 0 {
		queued = fmt.Sprintf(", queued %d", l.Queued)
	}
	s := fmt.Sprintf("read %d calls (imported %d%s, excluded %d, failed %d); %s", l.SourceRows, l.Imported, queued, l.Excluded, l.Failed, sent)
	if d := l.Delivery; d != nil {
		s += fmt.Sprintf("; of the %d queued: %d delivered, %d failed, %d retrying, %d in flight, %d waiting",
			d.Queued, d.Imported, d.Failed, d.Retrying, d.Delivering, d.Waiting())
	}
	if l.BadRows > 0 {
		s += "; " + plural(l.BadRows, "bad row")
	}
	if l.BDWithoutCall > 0 {
		s += "; " + plural(l.BDWithoutCall, "business data row") + " without a call"
	}
	if l.Unexplained != 0 {
		s += fmt.Sprintf("; UNEXPLAINED %d", l.Unexplained)
	}
	return s
}

// Status says whether a staged copy is still kept.
func (s StagedLine) Status() string {
	if s.PurgedAt != nil {
		return "purged " + s.PurgedAt.Format(stamp)
	}
	return "kept until " + s.KeptUntil.Format("2006-01-02")
}

// Explanation is a reason that appears in the report, in a sentence.
type Explanation struct{ Entity, Reason, Explain string }

// Explained lists the reasons the report's counts use, agents first, each
// once.
func (r *Report) Explained() []Explanation {
	var out []Explanation
	for _, part := range []struct {
		entity string
		s      Section
	}{{"agent", r.Agents}, {"call", r.Calls}} {
		for _, l := range part.s.Lines {
			if l.Reason != "" && l.Explain != "" {
				out = append(out, Explanation{part.entity, l.Reason, l.Explain})
			}
		}
	}
	return out
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// errWriter keeps the first write error, so rendering code stays linear.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return len(p), nil
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, nil
}
