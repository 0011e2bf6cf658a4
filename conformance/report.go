package conformance

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/summarytext"
	"github.com/hashicorp/hcl/v2"
)

// DiagnosticLines renders diags one per line as FILE:LINE,COL: severity:
// Summary, FILE relative to specDir (slash-separated), in the order dsl
// reports them. It is what expect/diagnostics holds: positions and summaries
// are the contract; details are dsl's golden tests' business.
func DiagnosticLines(specDir string, diags hcl.Diagnostics) []byte {
	var b strings.Builder
	for _, d := range diags {
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
		}
		pos := "-"
		if s := d.Subject; s != nil {
			name := s.Filename
			if rel, err := filepath.Rel(specDir, name); err == nil && filepath.IsLocal(rel) {
				name = rel
			}
			pos = fmt.Sprintf("%s:%d,%d", filepath.ToSlash(name), s.Start.Line, s.Start.Column)
		}
		fmt.Fprintf(&b, "%s: %s: %s\n", pos, sev, d.Summary)
	}
	return []byte(b.String())
}

// SummaryText renders the parts of a run's summary that a case can pin:
// counts by state and reason, bad rows with their file and line, values
// left out, warnings and calls seen from several sites. Nothing in it
// depends on time or on the machine.
func SummaryText(s *engine.RunRecord) string {
	var b strings.Builder
	summarytext.WriteFindings(&b, s.Findings)
	for _, part := range []struct {
		name string
		t    *engine.Tally
	}{{"agents", &s.Agents}, {"calls", &s.Calls}} {
		fmt.Fprintf(&b, "%s: %d (imported %d, excluded %d, failed %d)\n", part.name, part.t.Total,
			part.t.Count(connector.StateImported), part.t.Count(connector.StateExcluded), part.t.Count(connector.StateFailed))
		for _, e := range sortedTally(part.t) {
			reason := e.Reason
			if reason == "" {
				reason = "-"
			}
			fmt.Fprintf(&b, "  %s %s %d\n", e.State, reason, e.N)
		}
	}
	if s.BadRows > 0 {
		fmt.Fprintf(&b, "bad rows: %d (%d without a readable id)\n", s.BadRows, s.BadNoID)
		for _, m := range s.BadRowSamples {
			fmt.Fprintf(&b, "  %s\n", m)
		}
	}
	if s.BDWithoutCall > 0 {
		fmt.Fprintf(&b, "business data rows without a call: %d\n", s.BDWithoutCall)
		for _, m := range s.BDWithoutCallSamples {
			fmt.Fprintf(&b, "  %s\n", m)
		}
	}
	if len(s.FieldOmitted) > 0 {
		names := make([]string, 0, len(s.FieldOmitted))
		for n := range s.FieldOmitted {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(&b, "field %s left out: %d\n", n, s.FieldOmitted[n])
			for _, m := range s.FieldOmittedSamples[n] {
				fmt.Fprintf(&b, "  %s\n", m)
			}
		}
	}
	if s.Warnings > 0 {
		fmt.Fprintf(&b, "warnings: %d\n", s.Warnings)
		for _, m := range s.WarnSamples {
			// expr errors span lines (source and caret): indent them all.
			fmt.Fprintf(&b, "  %s\n", strings.ReplaceAll(strings.TrimRight(m, "\n"), "\n", "\n    "))
		}
	}
	if s.DuplicateSeen > 0 {
		fmt.Fprintf(&b, "calls seen from more than one site: %d\n", s.DuplicateSeen)
	}
	return b.String()
}

// sortedTally orders by state (imported, excluded, failed), then reason:
// engine.Tally.Sorted orders by count, which moves lines around when one
// count changes and makes diffs harder to read.
func sortedTally(t *engine.Tally) []engine.TallyEntry {
	order := map[string]int{connector.StateImported: 0, connector.StateExcluded: 1, connector.StateFailed: 2}
	out := t.Sorted()
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].State != out[j].State {
			return order[out[i].State] < order[out[j].State]
		}
		return out[i].Reason < out[j].Reason
	})
	return out
}
