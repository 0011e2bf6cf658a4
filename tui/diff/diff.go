package diff

import (
	"context"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/table"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/applink-dev/applink/engine/preview"
	"github.com/applink-dev/applink/tui/help"
	"github.com/applink-dev/applink/tui/rows"
)

// Kinds the pane cycles through with tab; "" is every row, changes marked.
var Kinds = []string{"", preview.ChangeNew, preview.ChangeChanged, preview.ChangeRemoved}

type loadedMsg struct {
	seq  int
	rows []preview.Row
	err  error
}

type detailMsg struct {
	seq int
	cd  *preview.CallDetail
	err error
}

// Model is the diff pane.
type Model struct {
	ctx    context.Context
	store  rows.Store
	keys   help.Keys
	why    map[string]string
	counts *preview.DiffCounts

	kind    int // index into Kinds
	rows    []preview.Row
	seq     int
	loading bool
	err     error
	tbl     table.Model

	detail     *preview.CallDetail
	detailErr  error
	showDetail bool

	width, height int
}

// New returns an empty pane; SetPreview fills it.
func New(ctx context.Context, keys help.Keys, why map[string]string) Model {
	tbl := table.New(table.WithFocused(true))
	tbl.SetStyles(table.Styles{
		Header:   lipgloss.NewStyle().Bold(true).Padding(0, 1),
		Cell:     lipgloss.NewStyle().Padding(0, 1),
		Selected: lipgloss.NewStyle().Reverse(true),
	})
	return Model{ctx: ctx, keys: keys, why: why, tbl: tbl}
}

// SetPreview shows a finished preview's diff and loads its rows.
func (m Model) SetPreview(res *preview.Result, st rows.Store) (Model, tea.Cmd) {
	m.store = st
	if res != nil {
		d := res.Diff
		m.counts = &d
	}
	return m.load()
}

// SetSize fits the pane into w×h cells.
func (m Model) SetSize(w, h int) Model {
	m.width, m.height = w, h
	m.tbl.SetColumns(columns(w))
	m.tbl.SetWidth(w)
	m.tbl.SetHeight(max(h-4, 3))
	return m
}

func columns(w int) []table.Column {
	cols := []table.Column{
		{Title: "change", Width: 9}, {Title: "call_id", Width: 12}, {Title: "state", Width: 8},
		{Title: "reason", Width: 16}, {Title: "agent", Width: 10},
	}
	used := 0
	for _, c := range cols {
		used += c.Width + 2
	}
	cols[3].Width = max(cols[3].Width+w-used, 6)
	return cols
}

// Cursor is the selected row's index (tests).
func (m Model) Cursor() int { return m.tbl.Cursor() }

func (m Model) load() (Model, tea.Cmd) {
	if m.store == nil {
		return m, nil
	}
	m.seq++
	m.loading, m.err = true, nil
	seq, st, ctx, kind := m.seq, m.store, m.ctx, Kinds[m.kind]
	return m, func() tea.Msg {
		r, err := st.Rows(ctx, preview.RowQuery{Change: kind, Limit: rows.Limit})
		if err == nil && kind == "" {
			// Rows no longer in the source are kept apart (they come from
			// the ledger); list them after the source's rows.
			var gone []preview.Row
			gone, err = st.Rows(ctx, preview.RowQuery{Change: preview.ChangeRemoved, Limit: rows.Limit})
			r = append(r, gone...)
		}
		return loadedMsg{seq: seq, rows: r, err: err}
	}
}

// Update handles the pane's keys and its queries' answers.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	switch msg := msg.(type) {
	case loadedMsg:
		if msg.seq != m.seq {
			return m, nil
		}
		m.loading, m.err, m.rows = false, msg.err, msg.rows
		m.tbl.SetRows(tableRows(msg.rows))
		m.tbl.SetCursor(0)
		return m, nil
	case detailMsg:
		if msg.seq != m.seq {
			return m, nil
		}
		m.detail, m.detailErr, m.showDetail = msg.cd, msg.err, true
		return m, nil
	case tea.KeyPressMsg:
		return m.key(msg)
	}
	return m, nil
}

func (m Model) key(k tea.KeyPressMsg) (Model, tea.Cmd) {
	if m.showDetail {
		if key.Matches(k, m.keys.Back) || key.Matches(k, m.keys.Enter) {
			m.showDetail = false
		}
		return m, nil
	}
	switch {
	case key.Matches(k, m.keys.NextChange):
		m.tbl.SetCursor(m.nextChange(1))
	case key.Matches(k, m.keys.PrevChange):
		m.tbl.SetCursor(m.nextChange(-1))
	case key.Matches(k, m.keys.Kind):
		m.kind = (m.kind + 1) % len(Kinds)
		return m.load()
	case key.Matches(k, m.keys.Enter):
		if m.store == nil || len(m.rows) == 0 {
			return m, nil
		}
		id := m.rows[m.tbl.Cursor()].CallID
		m.seq++
		seq, st, ctx := m.seq, m.store, m.ctx
		return m, func() tea.Msg {
			cd, err := st.Call(ctx, id)
			return detailMsg{seq: seq, cd: cd, err: err}
		}
	default:
		var cmd tea.Cmd
		m.tbl, cmd = m.tbl.Update(k)
		return m, cmd
	}
	return m, nil
}

// nextChange finds the next row (dir +1) or previous one (-1) that a run
// would change; the cursor stays put when there is none.
func (m Model) nextChange(dir int) int {
	cur := m.tbl.Cursor()
	for i := cur + dir; i >= 0 && i < len(m.rows); i += dir {
		if c := m.rows[i].Change; c != "" && c != preview.ChangeUnchanged {
			return i
		}
	}
	return cur
}

func tableRows(rs []preview.Row) []table.Row {
	out := make([]table.Row, len(rs))
	for i, r := range rs {
		change := r.Change
		if change == preview.ChangeUnchanged {
			change = "" // only changes stand out
		}
		reason := r.Reason
		if reason == "" {
			reason = "-"
		}
		out[i] = table.Row{change, r.CallID, r.State, reason, r.AgentUserID}
	}
	return out
}

// View renders the pane.
func (m Model) View() string {
	if m.showDetail {
		return m.sideBySide()
	}
	var b strings.Builder
	if m.counts == nil {
		b.WriteString("diff against the last run\n\nNo preview yet: press n to run it.")
		return b.String()
	}
	c := m.counts
	fmt.Fprintf(&b, "calls  %d new · %d changed · %d unchanged · %d removed\n", c.Calls.New, c.Calls.Changed, c.Calls.Unchanged, c.Calls.Removed)
	fmt.Fprintf(&b, "agents %d new · %d changed · %d unchanged · %d removed\n", c.Agents.New, c.Agents.Changed, c.Agents.Unchanged, c.Agents.Removed)
	switch {
	case m.err != nil:
		fmt.Fprintf(&b, "\n%v", m.err)
		return b.String()
	case m.loading:
		b.WriteString("\nloading…")
		return b.String()
	}
	b.WriteString(m.tbl.View() + "\n")
	kind := Kinds[m.kind]
	if kind == "" {
		kind = "all"
	}
	status := fmt.Sprintf("showing %s: %d rows", kind, len(m.rows))
	if len(m.rows) > 0 {
		status = fmt.Sprintf("row %d · %s", m.tbl.Cursor()+1, status)
	}
	b.WriteString(status + " · ]/[ change · tab kind · enter compare")
	return b.String()
}

// sideBySide puts the last run's verdict of a row next to this preview's.
func (m Model) sideBySide() string {
	if m.detailErr != nil {
		return fmt.Sprintf("cannot read this row: %v\n\nesc: back", m.detailErr)
	}
	cd := m.detail
	if cd == nil {
		return ""
	}
	var prev, cur [][2]string
	if cd.Prev != nil {
		prev = [][2]string{{"state", cd.Prev.State}, {"reason", cd.Prev.Reason}, {"detail", cd.Prev.Detail}}
	}
	if cd.Pos >= 0 {
		cur = [][2]string{{"state", cd.State}, {"reason", cd.Reason}, {"detail", cd.Detail}}
	}
	colW := max((m.width-3)/2, 20)
	left := column("last run (ledger)", prev, cur, "not in the last run", colW)
	right := column("this preview", cur, prev, "no longer in the source", colW)
	var b strings.Builder
	fmt.Fprintf(&b, "call %s: %s  (* differs)\n\n", cd.Call.CallID, cd.Change)
	sep := strings.TrimSuffix(strings.Repeat(" │ \n", max(lipgloss.Height(left), lipgloss.Height(right))), "\n")
	b.WriteString(lipgloss.JoinHorizontal(lipgloss.Top, left, sep, right))
	b.WriteString("\n\n")
	if lines := rows.BusinessData(cd.BusinessData); len(lines) > 0 {
		b.WriteString("business data a run would send:\n")
		for _, l := range lines {
			b.WriteString("  " + l + "\n")
		}
		b.WriteString("(the ledger keeps a fingerprint of what was sent, not its values)\n")
	}
	if cd.Reason != "" {
		fmt.Fprintf(&b, "rule: %s\n", rows.RuleOf(cd.Reason, m.why))
	}
	b.WriteString("esc: back")
	return b.String()
}

func column(title string, kv, other [][2]string, empty string, w int) string {
	lines := []string{title, strings.Repeat("─", min(len(title), w))}
	if kv == nil {
		lines = append(lines, "("+empty+")")
	}
	for i, f := range kv {
		mark := " "
		if i < len(other) && other[i][1] != f[1] {
			mark = "*"
		}
		v := f[1]
		if v == "" {
			v = "-"
		}
		lines = append(lines, fmt.Sprintf("%s %-7s %s", mark, f[0], v))
	}
	return lipgloss.NewStyle().Width(w).MaxWidth(w).Render(strings.Join(lines, "\n"))
}
