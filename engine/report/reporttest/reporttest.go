package reporttest

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/applink-dev/applink/engine/report"
)

const stamp = "2006-01-02 15:04:05Z"

// PageText is the text of an HTML page with whitespace between elements,
// parsed as leniently as a browser parses HTML.
func PageText(page []byte) (string, error) {
	d := xml.NewDecoder(bytes.NewReader(page))
	d.Strict, d.AutoClose, d.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	var b strings.Builder
	skip := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return b.String(), nil
		}
		if err != nil {
			return "", err
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			if tk.Name.Local == "style" || tk.Name.Local == "title" {
				skip++
			}
			b.WriteString(" ")
		case xml.EndElement:
			if tk.Name.Local == "style" || tk.Name.Local == "title" {
				skip--
			}
			b.WriteString(" ")
		case xml.CharData:
			if skip == 0 {
				b.Write(tk)
			}
		}
	}
}

// CountPatterns are, for every count a report holds, a pattern that finds
// it beside what it counts in the page's text.
func CountPatterns(r *report.Report) []*regexp.Regexp {
	var out []*regexp.Regexp
	add := func(format string, args ...any) {
		parts := strings.Fields(fmt.Sprintf(format, args...))
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		out = append(out, regexp.MustCompile(strings.Join(parts, `\s+`)))
	}
	for _, sec := range []struct {
		name string
		s    report.Section
	}{{"agents", r.Agents}, {"calls", r.Calls}} {
		add("%s: %d (imported %d, excluded %d, failed %d)", sec.name, sec.s.Total, sec.s.Imported, sec.s.Excluded, sec.s.Failed)
		for _, l := range sec.s.Lines {
			reason := l.Reason
			if reason == "" {
				reason = "-"
			}
			add("%s %s %d", l.State, reason, l.N)
		}
	}
	for _, l := range r.Counted {
		add("%s %s %d", l.State, l.Reason, l.N)
	}
	for _, o := range r.Omitted {
		add("%s %d", o.Field, o.N)
		for _, s := range o.Samples {
			add("%s", s)
		}
	}
	add("%d calls imported", r.Calls.Imported)
	add("%d calls excluded", r.Calls.Excluded)
	add("%d calls failed", r.Calls.Failed)
	add("%d agents synced", r.Agents.Imported)
	if a := r.Accounting; a != nil {
		add("Accounted for %d of %d source call rows; unexplained: %d.", a.Accounted, a.SourceRows, a.Unexplained)
		add("%d in a ledger state, %d unreadable without an id, %d read from a second site and imported once, %d counted by the database",
			a.InLedger, a.UnreadableNoID, a.Duplicates, a.Counted)
		add("Business data rows without a call: %d.", a.BDWithoutCall)
		for _, d := range r.PerDay.Days {
			add("%s %d", d.Day, d.N)
		}
		add("read the source: %d calls", r.PerDay.Total)
	}
	out = append(out, regexp.MustCompile(fmt.Sprintf(`%d\s+source\s+rows?\s+could\s+not\s+be\s+read\s+\(%d\s+without\s+a\s+readable\s+id\)`,
		r.BadRows.Total, r.BadRows.NoID)))
	for _, s := range r.BadRows.Samples {
		add("%s", s)
	}
	if r.Failures.Total > 0 {
		out = append(out, regexp.MustCompile(fmt.Sprintf(`%d\s+rows?\s+refused\s+by\s+the\s+sink`, r.Failures.Total)))
		for _, f := range r.Failures.Rows {
			add("%s %s %s %s", f.Entity, f.ID, f.Reason, f.Detail)
		}
	}
	for _, l := range r.Runs {
		if l.Kind == "run" {
			add("%s %s %d %d %d %d %d %d", l.RunID, l.Started.Format(stamp), l.SourceRows, l.Imported, l.Excluded, l.Failed, l.SentAgents, l.SentCalls)
			if d := l.Delivery; d != nil {
				add("Queued %d for delivery: %d delivered, %d failed, %d retrying, %d in flight, %d waiting.", d.Queued, d.Imported, d.Failed, d.Retrying, d.Delivering, d.Waiting())
			}
		} else {
			add("%s %s %s: %s", l.RunID, l.Started.Format(stamp), l.Kind, l.Detail)
		}
	}
	for _, s := range r.Staging {
		add("%s %s %d %d %s", s.RunID, s.Created.Format(stamp), s.Calls, s.Agents, s.Status())
	}
	return out
}
