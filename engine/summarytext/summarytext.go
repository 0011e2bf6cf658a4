package summarytext

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
)

// WriteVerdict writes the last line of a run that was not clean: how many
// rows need attention and where to look. It writes nothing for a clean run.
func WriteVerdict(w io.Writer, s *engine.RunRecord, specDir string) {
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

// WriteFindings renders a run's findings on the spec, one warning a line;
// the summaries put them first, where a consultant looks.
func WriteFindings(w io.Writer, findings []engine.Finding) {
	for _, f := range findings {
		fmt.Fprintf(w, "warning: %s\n", f.Text)
	}
}

// WriteSummary renders a summary for people. Rendering is kept apart from
// the run so the CLI, the TUI and reports share it.
func WriteSummary(w io.Writer, s *engine.RunRecord) {
	fmt.Fprintf(w, "run %s (plan %s) in %s, %.0f calls/s\n", s.RunID, shortHash(s.PlanHash), s.Elapsed.Round(time.Millisecond), s.CallsPerSecond())
	WriteFindings(w, s.Findings)
	for _, part := range []struct {
		name string
		t    *engine.Tally
	}{{"agents", &s.Agents}, {"calls", &s.Calls}} {
		queued := ""
		if n := part.t.Count(connector.StateQueued); n > 0 {
			queued = fmt.Sprintf(", queued for delivery %d", n)
		}
		fmt.Fprintf(w, "%s: %d (imported %d%s, excluded %d, failed %d)\n", part.name, part.t.Total,
			part.t.Count(connector.StateImported), queued, part.t.Count(connector.StateExcluded), part.t.Count(connector.StateFailed))
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
		fmt.Fprintf(w, "delivered: %s\n", engine.DeliveredText(s.Delivered))
	}
	WriteSummaryNotes(w, s)
}

// WriteSummaryNotes renders what a summary says beyond the counts: drift,
// duplicates, bad rows, values left out, warnings. The preview's text shares it.
func WriteSummaryNotes(w io.Writer, s *engine.RunRecord) {
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

// CountedLine renders one entry of engine.RunRecord.Counted the way the summary and
// the report show it: "other_tenant: 12 (counted by the database)".
func CountedLine(e engine.TallyEntry) string {
	if e.State == connector.StateExcluded {
		return fmt.Sprintf("%s: %d (counted by the database)", e.Reason, e.N)
	}
	return fmt.Sprintf("%s: %d (%s, counted by the database)", e.Reason, e.N, e.State)
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
