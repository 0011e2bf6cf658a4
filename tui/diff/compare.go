package diff

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/jsonenc"
	"github.com/applink-dev/applink/engine/preview"
	"github.com/applink-dev/applink/engine/workspace"
	"github.com/applink-dev/applink/tui/rows"
)

// A compare view lists, field by field, what the last run that sent a call
// sent (its staged copy) next to what a run would send now (this preview),
// starring what differs. Values are rendered as the outbox writes them
// (JSON strings quoted), so "" and a missing value look different.

// fieldRow is one line of the comparison.
type fieldRow struct {
	name         string
	before, now  string
	beforeKnown  bool // false: no copy to compare with
	nowKnown     bool
	differs      bool
	ledgerOrPlan bool // state and reason: from the ledger, not the copy
}

const absent = "-"

// sentValues are the fields a run sent for a call, by name, as text.
func sentValues(c *connector.OutCall, fields []dsl.Field) map[string]string {
	v := callValues(c.AgentUserID, c.StartTime, c.DurationMS, c.Direction, c.ANI, c.DNIS, c.Media)
	for _, val := range c.Values {
		if val.Field < 0 || val.Field >= len(fields) {
			continue
		}
		f := fields[val.Field]
		var s []byte
		switch f.Type {
		case dsl.TypeText:
			s = jsonenc.AppendString(nil, val.Text)
		case dsl.TypeNumber:
			var err error
			if s, err = jsonenc.AppendFloat(nil, val.Number); err != nil {
				s = []byte("null")
			}
		default:
			s = strconv.AppendBool(nil, val.Bool)
		}
		v[bdName(f.Type, f.Name)] = string(s)
	}
	return v
}

// previewValues are the same fields as this preview has them: the source
// columns, and the mapped business data of an imported call.
func previewValues(cd *preview.CallDetail) map[string]string {
	c := cd.Call
	v := callValues(cd.AgentUserID, c.StartTime, c.DurationMS, c.Direction, c.ANI, c.DNIS, c.MediaPath)
	var bd map[string]map[string]json.RawMessage
	if len(cd.BusinessData) > 0 && json.Unmarshal(cd.BusinessData, &bd) == nil {
		for typ, m := range bd {
			for name, raw := range m {
				v[bdName(typ, name)] = string(raw)
			}
		}
	}
	return v
}

// callValues are a call's own fields as a run sends them (callFields).
func callValues(agentUser string, start time.Time, durationMS int64, direction, ani, dnis, media string) map[string]string {
	return map[string]string{
		"agent_user_id": orAbsent(agentUser),
		"start_time":    start.UTC().Format(time.RFC3339),
		"duration_ms":   strconv.FormatInt(durationMS, 10),
		"direction":     direction,
		"ani":           ani,
		"dnis":          dnis,
		"media":         orAbsent(media),
	}
}

func bdName(typ, name string) string { return typ + " " + name }

func orAbsent(s string) string {
	if s == "" {
		return absent
	}
	return s
}

var callFields = []string{"agent_user_id", "start_time", "duration_ms", "direction", "ani", "dnis", "media"}

// compareRows builds the comparison: state and reason (the ledger against
// this preview), then the call's fields and business data in plan order,
// then any field only one side has.
func compareRows(cd *preview.CallDetail, sc *workspace.SentCopy, fields []dsl.Field) []fieldRow {
	var before, now map[string]string
	if sc != nil && sc.Call != nil {
		before = sentValues(sc.Call, sc.Fields)
	}
	if cd.Pos >= 0 {
		now = previewValues(cd)
	}
	var out []fieldRow
	prevState, prevReason := "", ""
	if cd.Prev != nil {
		prevState, prevReason = cd.Prev.State, cd.Prev.Reason
	}
	for _, f := range [][3]string{{"state", prevState, cd.State}, {"reason", prevReason, cd.Reason}} {
		r := fieldRow{name: f[0], before: orAbsent(f[1]), now: orAbsent(f[2]), beforeKnown: cd.Prev != nil, nowKnown: cd.Pos >= 0, ledgerOrPlan: true}
		r.differs = r.beforeKnown && r.nowKnown && r.before != r.now
		out = append(out, r)
	}
	names := append([]string(nil), callFields...)
	seen := map[string]bool{}
	for _, n := range names {
		seen[n] = true
	}
	for _, f := range fields {
		n := bdName(f.Type, f.Name)
		if !seen[n] {
			names = append(names, n)
			seen[n] = true
		}
	}
	var extra []string
	for _, m := range []map[string]string{before, now} {
		for n := range m {
			if !seen[n] {
				extra = append(extra, n)
				seen[n] = true
			}
		}
	}
	sort.Strings(extra)
	names = append(names, extra...)
	imported := cd.State == connector.StateImported
	for _, n := range names {
		r := fieldRow{name: n, beforeKnown: before != nil, nowKnown: now != nil}
		r.before, r.now = valueOr(before, n), valueOr(now, n)
		if strings.Contains(n, " ") && !imported {
			r.now = absent // only imported calls are mapped and sent
		}
		r.differs = r.beforeKnown && r.nowKnown && r.before != r.now
		out = append(out, r)
	}
	return out
}

func valueOr(m map[string]string, n string) string {
	if v, ok := m[n]; ok {
		return v
	}
	return absent
}

// compareText renders the compare view for the viewport.
func (m Model) compareText() string {
	if m.detailErr != nil {
		return fmt.Sprintf("cannot read this row: %v", m.detailErr)
	}
	cd := m.detail
	if cd == nil {
		return "loading…"
	}
	var b strings.Builder
	sc := m.prev
	haveCopy := sc != nil && sc.Call != nil
	rowsOf := compareRows(cd, sc, m.fields)
	differ := 0
	for _, r := range rowsOf {
		if r.differs {
			differ++
		}
	}
	fmt.Fprintf(&b, "call %s: %s", cd.Call.CallID, changeText(cd.Change))
	switch {
	case haveCopy:
		fmt.Fprintf(&b, " · %d of %d fields differ (*)", differ, len(rowsOf))
	case cd.Prev != nil:
		fmt.Fprintf(&b, " · state and reason: %d differ (*)", differ)
	}
	b.WriteString("\n")
	switch {
	case m.prevLoading:
		b.WriteString("reading what was last sent from the staging area…\n")
	case m.prevErr != nil:
		fmt.Fprintf(&b, "what was last sent cannot be read: %v\n", m.prevErr)
	case m.previous == nil:
		b.WriteString("what was last sent: unknown here (no staging area)\n")
	case haveCopy:
		fmt.Fprintf(&b, "last sent by run %s (staged copy)\n", sc.SentBy)
		if sc.SentBy != sc.RunID {
			fmt.Fprintf(&b, "since then run %s set it to %s\n", sc.RunID, stateReason(sc.State, sc.Reason))
		}
	case sc != nil:
		fmt.Fprintf(&b, "no copy of what was sent remains: %s\n", sc.Missing)
	}
	b.WriteString("\n")
	w := max(m.width, 40)
	nameW := 20
	colW := max((w-nameW-4)/2, 8)
	left := "last sent"
	if !haveCopy {
		left = "ledger"
	}
	fmt.Fprintf(&b, "  %-*s %-*s %s\n", nameW, "field", colW, left, "this preview")
	fmt.Fprintf(&b, "  %-*s %-*s %s\n", nameW, "─────", colW, strings.Repeat("─", len(left)), "────────────")
	for _, r := range rowsOf {
		mark := " "
		if r.differs {
			mark = "*"
		}
		before, now := r.before, r.now
		if !r.beforeKnown {
			before = ""
			if r.ledgerOrPlan {
				before = "(not in the ledger)"
			}
		}
		if !r.nowKnown {
			now = "(no longer in the source)"
		}
		line := fmt.Sprintf("%s %-*s %s %s", mark, nameW, ansi.Truncate(r.name, nameW, "…"), pad(ansi.Truncate(before, colW, "…"), colW), now)
		b.WriteString(ansi.Truncate(line, w, "…") + "\n")
	}
	if cd.Reason != "" {
		fmt.Fprintf(&b, "\nrule: %s\n", rows.RuleOf(cd.Reason, m.why))
	}
	return strings.TrimRight(b.String(), "\n")
}

func pad(s string, w int) string {
	if n := ansi.StringWidth(s); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}

func changeText(change string) string {
	switch change {
	case preview.ChangeNew:
		return "new (never sent)"
	case preview.ChangeChanged:
		return "changed since the last run"
	case preview.ChangeRemoved:
		return "no longer in the source"
	case preview.ChangeUnchanged:
		return "unchanged"
	}
	return change
}

func stateReason(st, reason string) string {
	if reason == "" {
		return st
	}
	return st + "/" + reason
}
